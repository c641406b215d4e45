//! The state of an event as of one fact, for builders that need more than the fact itself
//! (who is invited, the title, the time zone). Derived from the event store only, so builders
//! never disagree with the aggregate; kept per event between facts, so a fact costs one
//! `apply` instead of a replay of the event's whole history.
//!
//! The kept states are a cache, never a source: a miss, a gap (facts this process did not
//! see) or an older fact reads the store again. Each builder process keeps its own, bounded
//! to [`KEPT_EVENTS`] events.

use std::collections::HashMap;
use std::sync::Mutex;

use cqrs_es::persist::{EventUpcaster, PersistedEventRepository, SerializedEvent};
use cqrs_es::{Aggregate, EventEnvelope};
use slsplay_aggregates::history::{HistoryError, rebuild, upcast};
use slsplay_aggregates::virtual_event::{GuestState, VirtualEvent, VirtualEventFact};

use crate::store::ReadStoreError;

/// How many events' states one builder keeps; the least recently used goes first.
pub const KEPT_EVENTS: usize = 4_096;

/// The stored type of `VirtualEventFact::Published`.
const PUBLISHED: &str = "VirtualEventPublished";

/// An event's state after the fact of `version`, and when it was first published.
#[derive(Clone)]
struct Kept {
    state: VirtualEvent,
    version: usize,
    published_at: Option<usize>,
    /// The state, before the last fact, of the one invitation that fact names.
    previous: Option<GuestState>,
    last_used: u64,
}

impl Kept {
    fn published_before(&self, sequence: usize) -> bool {
        self.published_at.is_some_and(|at| at < sequence)
    }
}

/// An event as of one fact.
#[derive(Debug, Clone)]
pub struct Moment {
    pub event: VirtualEvent,
    /// Whether it had been published before the fact.
    pub was_published: bool,
    /// Where the invitation the fact is about (an answer, a payment, a revocation) stood just
    /// before it: what a decline took away, say.
    pub previous: Option<GuestState>,
}

/// Where builders get an event's state as of a fact.
pub struct EventStates<R> {
    events: R,
    upcasters: Vec<Box<dyn EventUpcaster>>,
    kept: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    by_event: HashMap<String, Kept>,
    tick: u64,
}

impl<R: PersistedEventRepository> EventStates<R> {
    pub fn new(events: R, upcasters: Vec<Box<dyn EventUpcaster>>) -> Self {
        Self {
            events,
            upcasters,
            kept: Mutex::new(Cache::default()),
        }
    }

    /// The store the states come from.
    pub fn events(&self) -> &R {
        &self.events
    }

    /// The event right after `fact`, and whether it had been published before `fact`.
    pub async fn after(
        &self,
        fact: &EventEnvelope<VirtualEvent>,
    ) -> Result<(VirtualEvent, bool), ReadStoreError> {
        let moment = self.moment(fact).await?;
        Ok((moment.event, moment.was_published))
    }

    /// The event right after `fact`, with what the fact changed.
    pub async fn moment(&self, fact: &EventEnvelope<VirtualEvent>) -> Result<Moment, ReadStoreError> {
        let id = &fact.aggregate_id;
        let sequence = fact.sequence;
        // Taken out, not copied: a state holds every invitation. A second delivery of the same
        // event meanwhile finds none and replays; `keep` puts back the newer of the two.
        let kept = self
            .kept
            .lock()
            .expect("event states poisoned")
            .by_event
            .remove(id);
        let next = match kept {
            // A fact delivered again.
            Some(kept) if kept.version == sequence => kept,
            // The usual case: the next fact.
            Some(mut kept) if kept.version + 1 == sequence => {
                apply(&mut kept, sequence, fact.payload.clone());
                kept
            }
            // Facts this process has not seen (another builder instance, a restart): the tail.
            Some(mut kept) if kept.version < sequence => {
                let tail = self
                    .events
                    .get_last_events::<VirtualEvent>(id, kept.version)
                    .await
                    .map_err(storage)?;
                for f in tail.into_iter().take_while(|f| f.sequence <= sequence) {
                    let expected = kept.version + 1;
                    let f = self.decode(f, expected)?;
                    apply(&mut kept, f.sequence, f.payload);
                }
                kept
            }
            // An older fact than the kept state (a redelivery after later facts): its own
            // state from a replay, and the newer one stays kept.
            Some(newer) => {
                self.keep(id, newer);
                self.replay(id, sequence).await?
            }
            None => self.replay(id, sequence).await?,
        };
        if next.version != sequence {
            return Err(storage(HistoryError::OutOfOrder {
                aggregate_id: id.clone(),
                expected: sequence,
                found: next.version,
            }));
        }
        let answer = Moment {
            event: next.state.clone(),
            was_published: next.published_before(sequence),
            previous: next.previous,
        };
        self.keep(id, next);
        Ok(answer)
    }

    async fn replay(&self, id: &str, sequence: usize) -> Result<Kept, ReadStoreError> {
        let history = self
            .events
            .get_events::<VirtualEvent>(id)
            .await
            .map_err(storage)?;
        let mut upto: Vec<_> = history
            .into_iter()
            .take_while(|f| f.sequence <= sequence)
            .collect();
        let published_at = upto
            .iter()
            .find(|f| f.event_type == PUBLISHED)
            .map(|f| f.sequence);
        // The last fact is applied on its own, to see what it changed.
        let last = upto.pop();
        let replayed = rebuild::<VirtualEvent>(upto, &self.upcasters).map_err(storage)?;
        let mut kept = Kept {
            state: replayed.state,
            version: replayed.version,
            published_at: published_at.filter(|at| *at <= replayed.version),
            previous: None,
            last_used: 0,
        };
        if let Some(last) = last {
            let last = self.decode(last, kept.version + 1)?;
            apply(&mut kept, last.sequence, last.payload);
        }
        Ok(kept)
    }

    fn decode(
        &self,
        fact: SerializedEvent,
        expected: usize,
    ) -> Result<EventEnvelope<VirtualEvent>, ReadStoreError> {
        if fact.sequence != expected {
            return Err(storage(HistoryError::OutOfOrder {
                aggregate_id: fact.aggregate_id,
                expected,
                found: fact.sequence,
            }));
        }
        let (id, sequence) = (fact.aggregate_id.clone(), fact.sequence);
        EventEnvelope::<VirtualEvent>::try_from(upcast(fact, &self.upcasters)).map_err(|e| {
            storage(HistoryError::Decode {
                aggregate_id: id,
                sequence,
                reason: e.to_string(),
            })
        })
    }

    fn keep(&self, id: &str, mut kept: Kept) {
        let mut cache = self.kept.lock().expect("event states poisoned");
        cache.tick += 1;
        kept.last_used = cache.tick;
        // Two deliveries of one event's facts may overlap (a redelivery after a timeout): the
        // later state stays.
        if cache.by_event.get(id).is_some_and(|k| k.version > kept.version) {
            return;
        }
        if !cache.by_event.contains_key(id) && cache.by_event.len() >= KEPT_EVENTS {
            let oldest = cache
                .by_event
                .iter()
                .min_by_key(|(_, k)| k.last_used)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                cache.by_event.remove(&oldest);
            }
        }
        cache.by_event.insert(id.to_owned(), kept);
    }
}

fn apply(kept: &mut Kept, sequence: usize, payload: VirtualEventFact) {
    if matches!(payload, VirtualEventFact::Published { .. }) && kept.published_at.is_none() {
        kept.published_at = Some(sequence);
    }
    kept.previous = named_invitation(&payload)
        .and_then(|id| kept.state.invitations.get(id))
        .map(|i| i.state);
    kept.state.apply(payload);
    kept.version = sequence;
}

fn storage(e: impl std::error::Error + Send + Sync + 'static) -> ReadStoreError {
    ReadStoreError::Storage(Box::new(e))
}

/// The one invitation a fact is about, if it is about one.
fn named_invitation(fact: &VirtualEventFact) -> Option<&str> {
    use VirtualEventFact as F;
    match fact {
        F::InvitationRevoked { invitation_id, .. }
        | F::InvitationAccepted { invitation_id, .. }
        | F::InvitationDeclined { invitation_id, .. }
        | F::GuestWaitlisted { invitation_id, .. }
        | F::SeatHeld { invitation_id, .. }
        | F::TicketPaid { invitation_id, .. } => Some(invitation_id),
        _ => None,
    }
}
