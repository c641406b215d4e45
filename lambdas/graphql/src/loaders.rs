//! Batched reads for resolvers: a list of twenty invitations asks for its twenty events in one
//! read, not twenty (the N+1 problem). The loaders live for one request and remember what they
//! read, so the fields that need the same row (an event's visibility, the viewer's answer, the
//! meeting link) read it once; a mutation makes them forget.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use slsplay_projections::read_models::{EventPage, InvitationByEmail};
use slsplay_projections::schema::Key;
use slsplay_projections::store::{Queries, ReadQueries};

pub type Events = DataLoader<EventLoader, HashMapCache>;
pub type Invitations = DataLoader<InvitationLoader, HashMapCache>;

/// `request` with the loaders of one request.
pub fn per_request(
    request: async_graphql::Request,
    events: EventLoader,
    invitations: InvitationLoader,
) -> async_graphql::Request {
    request
        .data(Events::with_cache(events, tokio::spawn, HashMapCache::default()))
        .data(Invitations::with_cache(
            invitations,
            tokio::spawn,
            HashMapCache::default(),
        ))
}

/// Forgets what this request read: a command just changed it.
pub fn forget(events: &Events, invitations: &Invitations) {
    events.clear::<String>();
    invitations.clear::<(String, String)>();
}

/// Event pages by event id.
pub struct EventLoader {
    queries: Queries,
    /// How many batches were read, for tests and metrics.
    pub batches: Arc<AtomicUsize>,
}

impl EventLoader {
    pub fn new(queries: Queries) -> Self {
        Self {
            queries,
            batches: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Loader<String> for EventLoader {
    type Value = EventPage;
    type Error = Arc<String>;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, EventPage>, Self::Error> {
        self.batches.fetch_add(1, Ordering::Relaxed);
        let keys: Vec<Key> = ids.iter().map(|id| Key::new(id.as_str())).collect();
        let pages: Vec<EventPage> = self
            .queries
            .get_many(&keys)
            .await
            .map_err(|e| Arc::new(e.to_string()))?;
        Ok(pages
            .into_iter()
            .filter(|p| !p.status.is_deleted())
            .map(|p| (p.event_id.clone(), p))
            .collect())
    }
}

/// A user's invitation to an event, by (verified email, event id).
pub struct InvitationLoader {
    queries: Queries,
    /// How many batches were read, for tests and metrics.
    pub batches: Arc<AtomicUsize>,
}

impl InvitationLoader {
    pub fn new(queries: Queries) -> Self {
        Self {
            queries,
            batches: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Loader<(String, String)> for InvitationLoader {
    type Value = InvitationByEmail;
    type Error = Arc<String>;

    async fn load(
        &self,
        keys: &[(String, String)],
    ) -> Result<HashMap<(String, String), InvitationByEmail>, Self::Error> {
        self.batches.fetch_add(1, Ordering::Relaxed);
        let wanted: Vec<Key> = keys
            .iter()
            .map(|(email, event)| Key::with_sort(email.as_str(), event.as_str()))
            .collect();
        let rows: Vec<InvitationByEmail> = self
            .queries
            .get_many(&wanted)
            .await
            .map_err(|e| Arc::new(e.to_string()))?;
        Ok(rows
            .into_iter()
            .filter(InvitationByEmail::is_open)
            .map(|r| ((r.email.clone(), r.event_id.clone()), r))
            .collect())
    }
}
