//! The search builder and index: full text over title and description, scoped to what the
//! searching user may see (an organizer their own events, a guest the events they are invited
//! to). One document per event, replaced whole on every change, so applying a fact twice is
//! harmless. Locally the index is tantivy in the data folder; on AWS, OpenSearch.

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cqrs_es::EventEnvelope;
use cqrs_es::persist::{EventUpcaster, PersistedEventRepository};
use serde::Serialize;
use slsplay_aggregates::virtual_event::{Lifecycle, VirtualEvent, VirtualEventFact as F};
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TEXT, Value};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

use crate::builder::Projector;
use crate::read_models::EventStatus;
use crate::state::EventStates;
use crate::store::{ReadStoreError, ReadTx};

pub const NAME: &str = "search";

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The search service (OpenSearch) failed; the adapter's error is the source.
    #[error("search service")]
    Service(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<tantivy::directory::error::OpenDirectoryError> for SearchError {
    fn from(e: tantivy::directory::error::OpenDirectoryError) -> Self {
        Self::Index(tantivy::TantivyError::from(e))
    }
}

/// Where event documents are kept and searched: tantivy locally, OpenSearch on AWS.
pub trait SearchEngine: Send + Sync {
    /// Whether `put`s become durable and searchable only at `commit` (tantivy), rather than
    /// each on its own (OpenSearch): the search builder then commits once per batch.
    const COMMITS: bool = false;

    /// Replaces the event's document with one built from its current state (a deleted event
    /// has none).
    fn put(&self, event: &VirtualEvent) -> impl Future<Output = Result<(), SearchError>> + Send;

    /// Makes every `put` so far durable and searchable.
    fn commit(&self) -> impl Future<Output = Result<(), SearchError>> + Send {
        async { Ok(()) }
    }

    /// Drops the `put`s since the last commit.
    fn rollback(&self) -> impl Future<Output = Result<(), SearchError>> + Send {
        async { Ok(()) }
    }

    /// Events matching `text` (all when blank) that `viewer` may see, best first.
    fn search(
        &self,
        text: &str,
        viewer: &Viewer,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Hit>, SearchError>> + Send;
}

/// Who may find an event as a guest: invitees of a published or cancelled event, never of a
/// draft, never after their invitation was revoked.
pub fn invitees_who_see(event: &VirtualEvent) -> Vec<String> {
    if matches!(event.lifecycle, Lifecycle::Published | Lifecycle::Cancelled) {
        event.invitees().map(|i| i.email.clone()).collect()
    } else {
        Vec::new()
    }
}

/// The status a search hit shows, as the event's page stores it; `None` when the event has no
/// document.
pub fn searchable_status(event: &VirtualEvent) -> Option<&'static str> {
    match event.lifecycle {
        Lifecycle::Draft => Some(EventStatus::Draft.as_str()),
        Lifecycle::Published => Some(EventStatus::Published.as_str()),
        Lifecycle::Cancelled => Some(EventStatus::Cancelled.as_str()),
        Lifecycle::NotCreated | Lifecycle::Deleted | Lifecycle::Archived => None,
    }
}

/// Who is searching.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: String,
    /// The signed-in user's verified email, which their invitations are addressed to.
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub event_id: String,
    pub title: String,
    pub starts_at: String,
    pub status: String,
}

#[derive(Clone, Copy)]
struct Fields {
    event_id: Field,
    organizer: Field,
    invitee: Field,
    title: Field,
    description: Field,
    starts_at: Field,
    status: Field,
}

/// The local index. Opened for writing by the builder of `slsplay dev`; anyone may search.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Option<Arc<Mutex<IndexWriter>>>,
    fields: Fields,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let fields = Fields {
        event_id: builder.add_text_field("event_id", STRING | STORED),
        organizer: builder.add_text_field("organizer", STRING),
        invitee: builder.add_text_field("invitee", STRING),
        title: builder.add_text_field("title", TEXT | STORED),
        description: builder.add_text_field("description", TEXT),
        starts_at: builder.add_text_field("starts_at", STRING | STORED),
        status: builder.add_text_field("status", STRING | STORED),
    };
    (builder.build(), fields)
}

impl SearchIndex {
    /// Opens (or creates) the index in `dir`; `writable` takes the index's write lock.
    pub fn open(dir: &Path, writable: bool) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir).map_err(|e| SearchError::Index(e.into()))?;
        let (schema, fields) = schema();
        let index = Index::open_or_create(MmapDirectory::open(dir)?, schema)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        // One indexing thread with the smallest arena tantivy allows: documents are few and small.
        let writer = writable
            .then(|| index.writer_with_num_threads(1, 15_000_000))
            .transpose()?
            .map(|writer| Arc::new(Mutex::new(writer)));
        Ok(Self {
            index,
            reader,
            writer,
            fields,
        })
    }

    fn write(
        &self,
        change: impl FnOnce(&IndexWriter, &Fields) -> Result<(), SearchError>,
    ) -> Result<(), SearchError> {
        let writer = self.writer.as_ref().ok_or_else(|| {
            SearchError::Index(tantivy::TantivyError::InvalidArgument("read-only index".into()))
        })?;
        let writer = writer.lock().expect("index writer poisoned");
        change(&writer, &self.fields)
    }

    /// Makes the changes so far durable (a tantivy commit: segments and their fsync) and
    /// searchable.
    pub fn commit_now(&self) -> Result<(), SearchError> {
        match &self.writer {
            Some(writer) => commit(writer, &self.reader),
            None => Ok(()),
        }
    }

    pub fn rollback_now(&self) -> Result<(), SearchError> {
        let Some(writer) = &self.writer else {
            return Ok(());
        };
        writer.lock().expect("index writer poisoned").rollback()?;
        Ok(())
    }

    fn put_now(&self, event: &VirtualEvent) -> Result<(), SearchError> {
        self.write(|writer, f| {
            writer.delete_term(Term::from_field_text(f.event_id, &event.id));
            let Some(status) = searchable_status(event) else {
                return Ok(());
            };
            let mut document = doc!(
                f.event_id => event.id.as_str(),
                f.organizer => event.organizer.as_str(),
                f.title => event.details.title.as_str(),
                f.description => event.details.description.as_str(),
                f.starts_at => crate::read_models::projector::timestamp(event.details.starts_at),
                f.status => status,
            );
            for email in invitees_who_see(event) {
                document.add_text(f.invitee, &email);
            }
            writer.add_document(document)?;
            Ok(())
        })
    }

    /// Events matching `text` (all of them when it is blank) that `viewer` may see, best first.
    pub fn search_now(&self, text: &str, viewer: &Viewer, limit: usize) -> Result<Vec<Hit>, SearchError> {
        let f = self.fields;
        let matching: Box<dyn Query> = if text.trim().is_empty() {
            Box::new(AllQuery)
        } else {
            // Lenient: a stray quote or colon in what people type is not an error.
            QueryParser::for_index(&self.index, vec![f.title, f.description])
                .parse_query_lenient(text)
                .0
        };
        let mut visible: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Should, term(f.organizer, &viewer.user_id))];
        if let Some(email) = &viewer.email {
            visible.push((Occur::Should, term(f.invitee, &email.trim().to_lowercase())));
        }
        let query = BooleanQuery::new(vec![
            (Occur::Must, matching),
            (Occur::Must, Box::new(BooleanQuery::new(visible))),
        ]);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        top.into_iter()
            .map(|(_, address)| {
                let document: TantivyDocument = searcher.doc(address)?;
                let text = |field| {
                    document
                        .get_first(field)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned()
                };
                Ok(Hit {
                    event_id: text(f.event_id),
                    title: text(f.title),
                    starts_at: text(f.starts_at),
                    status: text(f.status),
                })
            })
            .collect()
    }
}

impl SearchEngine for SearchIndex {
    const COMMITS: bool = true;

    async fn put(&self, event: &VirtualEvent) -> Result<(), SearchError> {
        self.put_now(event)
    }

    /// On a blocking thread: a commit waits for the indexing thread and syncs the segment
    /// files, and on an async worker it would stall every other task there as long.
    async fn commit(&self) -> Result<(), SearchError> {
        let Some(writer) = self.writer.clone() else {
            return Ok(());
        };
        let reader = self.reader.clone();
        match tokio::task::spawn_blocking(move || commit(&writer, &reader)).await {
            Ok(committed) => committed,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(SearchError::Index(tantivy::TantivyError::SystemError(format!(
                "the index commit did not run: {e}"
            )))),
        }
    }

    async fn rollback(&self) -> Result<(), SearchError> {
        self.rollback_now()
    }

    async fn search(&self, text: &str, viewer: &Viewer, limit: usize) -> Result<Vec<Hit>, SearchError> {
        self.search_now(text, viewer, limit)
    }
}

fn commit(writer: &Mutex<IndexWriter>, reader: &IndexReader) -> Result<(), SearchError> {
    writer.lock().expect("index writer poisoned").commit()?;
    reader.reload()?;
    Ok(())
}

fn term(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// Keeps the index in step with the facts that change what is searchable or who sees it.
pub struct Search<R, E = SearchIndex> {
    states: EventStates<R>,
    index: Arc<E>,
}

impl<R: PersistedEventRepository, E: SearchEngine> Search<R, E> {
    pub fn new(events: R, upcasters: Vec<Box<dyn EventUpcaster>>, index: Arc<E>) -> Self {
        Self {
            states: EventStates::new(events, upcasters),
            index,
        }
    }
}

impl<R: PersistedEventRepository, E: SearchEngine> Projector for Search<R, E> {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn apply<T: ReadTx + Send>(
        &self,
        _tx: &mut T,
        fact: &EventEnvelope<VirtualEvent>,
    ) -> Result<(), ReadStoreError> {
        let changes_the_document = matches!(
            fact.payload,
            F::Created(_)
                | F::DetailsUpdated(_)
                | F::Rescheduled(_)
                | F::Published { .. }
                | F::Cancelled { .. }
                | F::DraftDeleted { .. }
                | F::Archived { .. }
                | F::GuestsInvited { .. }
                | F::InvitationRevoked { .. }
        );
        if !changes_the_document {
            return Ok(());
        }
        let (event, _) = self.states.after(fact).await?;
        self.index.put(&event).await.map_err(index_failed)
    }

    const BATCHED: bool = E::COMMITS;

    /// The index commits before the builder's checkpoints: a crash in between applies those
    /// facts again, which rewrites the same documents.
    async fn settle(&self) -> Result<(), ReadStoreError> {
        self.index.commit().await.map_err(index_failed)
    }

    async fn abandon(&self) -> Result<(), ReadStoreError> {
        self.index.rollback().await.map_err(index_failed)
    }
}

fn index_failed(e: SearchError) -> ReadStoreError {
    ReadStoreError::Storage(Box::new(e))
}
