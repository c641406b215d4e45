//! A projection builder: applies each fact exactly once and in order per event, whatever the
//! delivery does. Duplicates (a fact at or below the checkpoint) are skipped; a gap (a fact
//! beyond the next one) is filled by reading the missing facts from the event store first.
//! The facts applied and the new checkpoint are committed in one transaction: one per
//! delivered fact, or one per delivered batch for a projector that asks for it (`BATCHED`).

use std::future::Future;

use cqrs_es::persist::{EventUpcaster, PersistedEventRepository, PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate, EventEnvelope};
use slsplay_aggregates::history::{RecordedFact, upcast};
use slsplay_aggregates::virtual_event::VirtualEvent;

use crate::store::{ReadStore, ReadStoreError, ReadTx};

/// What a builder does with each fact, inside the builder's transaction.
pub trait Projector: Send + Sync {
    /// Names the builder's checkpoints (and, on AWS, its queue and Lambda).
    fn name(&self) -> &'static str;

    fn apply<T: ReadTx + Send>(
        &self,
        tx: &mut T,
        fact: &EventEnvelope<VirtualEvent>,
    ) -> impl Future<Output = Result<(), ReadStoreError>> + Send;

    /// Whether a delivered batch is applied in one transaction with one `settle`: for a
    /// projector whose writes outside the transaction are costly to make durable (a search
    /// index's commit), once per batch instead of once per fact.
    const BATCHED: bool = false;

    /// Makes what `apply` wrote outside the builder's transaction durable. Called before each
    /// commit of that transaction, so a crash in between applies the facts again rather than
    /// losing them.
    fn settle(&self) -> impl Future<Output = Result<(), ReadStoreError>> + Send {
        async { Ok(()) }
    }

    /// Drops what `apply` wrote outside the transaction since the last `settle`: the
    /// transaction it belonged to was not committed.
    fn abandon(&self) -> impl Future<Output = Result<(), ReadStoreError>> + Send {
        async { Ok(()) }
    }
}

/// Keeps the relational read models (`crate::read_models`).
pub struct ReadModels;

impl Projector for ReadModels {
    fn name(&self) -> &'static str {
        crate::read_models::projector::NAME
    }

    async fn apply<T: ReadTx + Send>(
        &self,
        tx: &mut T,
        fact: &EventEnvelope<VirtualEvent>,
    ) -> Result<(), ReadStoreError> {
        crate::read_models::projector::apply(tx, fact).await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Applied, after `filled` missing facts read from the event store.
    Applied { filled: usize },
    /// Already applied: a duplicate delivery.
    Duplicate,
    /// A fact of an aggregate this builder does not follow.
    Ignored,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Store(#[from] ReadStoreError),
    #[error("reading missing facts: {0}")]
    Facts(#[from] PersistenceError),
    /// Handling: retry later; the store does not show the missing facts yet.
    #[error("facts {from}..{to} of `{aggregate_id}` are missing from the event store")]
    Gap {
        aggregate_id: String,
        from: usize,
        to: usize,
    },
    /// Handling: not retryable; the message goes to the dead-letter queue for a person to see.
    #[error("fact {sequence} of `{aggregate_id}` cannot be decoded: {reason}")]
    Poison {
        aggregate_id: String,
        sequence: usize,
        reason: String,
    },
}

pub struct Builder<P, S, R> {
    projector: P,
    store: S,
    facts: R,
    upcasters: Vec<Box<dyn EventUpcaster>>,
}

impl<P: Projector, S: ReadStore, R: PersistedEventRepository> Builder<P, S, R> {
    pub fn new(projector: P, store: S, facts: R, upcasters: Vec<Box<dyn EventUpcaster>>) -> Self {
        Self {
            projector,
            store,
            facts,
            upcasters,
        }
    }

    pub fn name(&self) -> &'static str {
        self.projector.name()
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub async fn handle(&self, fact: RecordedFact) -> Result<Outcome, BuildError> {
        self.handle_all(vec![fact])
            .await
            .map(|outcomes| outcomes.into_iter().next().unwrap_or(Outcome::Ignored))
    }

    /// Applies facts (in delivery order) in one transaction and returns their outcomes; on
    /// an error nothing of them is committed.
    pub async fn handle_all(&self, facts: Vec<RecordedFact>) -> Result<Vec<Outcome>, BuildError> {
        let mut tx = self.store.begin().await?;
        let mut outcomes = Vec::with_capacity(facts.len());
        for fact in facts {
            match self.apply_in(&mut tx, fact).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    self.abandon().await;
                    return Err(e);
                }
            }
        }
        if outcomes.iter().any(|o| matches!(o, Outcome::Applied { .. })) {
            if let Err(e) = self.projector.settle().await {
                self.abandon().await;
                return Err(e.into());
            }
            tx.commit().await?;
        }
        Ok(outcomes)
    }

    /// One fact into `tx`: skipped if applied already, after the missing facts if there is a
    /// gap, then the checkpoint moves.
    async fn apply_in(&self, tx: &mut S::Tx, fact: RecordedFact) -> Result<Outcome, BuildError> {
        if fact.aggregate_type != VirtualEvent::TYPE {
            return Ok(Outcome::Ignored);
        }
        let (aggregate_id, sequence) = (fact.aggregate_id.clone(), fact.sequence);
        let done = tx.checkpoint(self.name(), &aggregate_id).await?;
        if sequence <= done {
            return Ok(Outcome::Duplicate);
        }
        let mut pending = Vec::new();
        if sequence > done + 1 {
            let stored = self
                .facts
                .get_last_events::<VirtualEvent>(&aggregate_id, done)
                .await?;
            pending.extend(stored.into_iter().take_while(|f| f.sequence < sequence));
            if pending.len() != sequence - done - 1 {
                return Err(BuildError::Gap {
                    aggregate_id,
                    from: done + 1,
                    to: sequence - 1,
                });
            }
        }
        let filled = pending.len();
        pending.push(fact.into());
        for serialized in pending {
            let envelope = self.decode(serialized)?;
            self.projector.apply(tx, &envelope).await?;
        }
        tx.set_checkpoint(self.name(), &aggregate_id, sequence).await?;
        Ok(Outcome::Applied { filled })
    }

    /// Whether `handle_batch` should hand this builder whole batches.
    pub fn batched(&self) -> bool {
        P::BATCHED
    }

    async fn abandon(&self) {
        // What was written outside the transaction would be rewritten by the retry anyway;
        // dropping it only keeps a half-applied batch from showing until then.
        if let Err(e) = self.projector.abandon().await {
            tracing::warn!(builder = self.name(), error = %e, "cannot drop a failed batch's writes");
        }
    }

    /// Applies a page of a replay (facts in order for each aggregate) in one transaction, which
    /// is what makes a rebuild fast. Facts already applied are skipped; a gap is an error, as a
    /// replay of the whole history has none.
    pub async fn replay(&self, facts: Vec<RecordedFact>) -> Result<usize, BuildError> {
        self.replay_decoded(decode_page(facts, &self.upcasters)?).await
    }

    /// `replay` of a page that `decode_page` decoded, perhaps on another thread.
    pub async fn replay_decoded(&self, facts: Vec<EventEnvelope<VirtualEvent>>) -> Result<usize, BuildError> {
        let mut tx = self.store.begin().await?;
        let mut applied = 0;
        for envelope in facts {
            let sequence = envelope.sequence;
            let done = tx.checkpoint(self.name(), &envelope.aggregate_id).await?;
            if sequence <= done {
                continue;
            }
            if sequence != done + 1 {
                return Err(BuildError::Gap {
                    aggregate_id: envelope.aggregate_id,
                    from: done + 1,
                    to: sequence - 1,
                });
            }
            if let Err(e) = self.projector.apply(&mut tx, &envelope).await {
                self.abandon().await;
                return Err(e.into());
            }
            tx.set_checkpoint(self.name(), &envelope.aggregate_id, sequence)
                .await?;
            applied += 1;
        }
        if let Err(e) = self.projector.settle().await {
            self.abandon().await;
            return Err(e.into());
        }
        tx.commit().await?;
        Ok(applied)
    }

    fn decode(&self, fact: SerializedEvent) -> Result<EventEnvelope<VirtualEvent>, BuildError> {
        decode(fact, &self.upcasters)
    }
}

/// The facts of virtual events in a page of a replay, upcast and decoded (other aggregates' are
/// left out). It needs nothing of a builder's store: a rebuild decodes the next page on another
/// thread while the builder applies the current one.
pub fn decode_page(
    facts: Vec<RecordedFact>,
    upcasters: &[Box<dyn EventUpcaster>],
) -> Result<Vec<EventEnvelope<VirtualEvent>>, BuildError> {
    facts
        .into_iter()
        .filter(|fact| fact.aggregate_type == VirtualEvent::TYPE)
        .map(|fact| decode(fact.into(), upcasters))
        .collect()
}

fn decode(
    fact: SerializedEvent,
    upcasters: &[Box<dyn EventUpcaster>],
) -> Result<EventEnvelope<VirtualEvent>, BuildError> {
    let (aggregate_id, sequence) = (fact.aggregate_id.clone(), fact.sequence);
    EventEnvelope::try_from(upcast(fact, upcasters)).map_err(|e| BuildError::Poison {
        aggregate_id,
        sequence,
        reason: e.to_string(),
    })
}
