//! The command service: the one way commands reach an aggregate. It loads the aggregate,
//! lets it decide, commits the facts with the caller's metadata, and retries on an
//! optimistic-concurrency conflict, so concurrent callers never see a conflict they did not
//! ask for (an explicit expected version).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore};
use cqrs_es::{Aggregate, AggregateContext, AggregateError, EventEnvelope, EventStore};
use slsplay_aggregates::Clock;

/// Who asked, and which request this belongs to; stored with every fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext {
    /// The signed-in user, or `system:<job>` for scheduled commands.
    pub actor: String,
    pub correlation_id: String,
}

impl CommandContext {
    pub fn new(actor: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            correlation_id: uuid::Uuid::now_v7().to_string(),
        }
    }

    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = correlation_id.into();
        self
    }
}

/// Metadata keys written with every fact.
pub mod metadata {
    pub const ACTOR: &str = "actor";
    pub const CORRELATION_ID: &str = "correlation_id";
    pub const RECORDED_AT: &str = "recorded_at";
}

/// What a successful command did: the facts it recorded (none when it changed nothing) and
/// the aggregate's version afterwards.
#[derive(Debug)]
pub struct Committed<A: Aggregate> {
    pub version: usize,
    pub facts: Vec<EventEnvelope<A>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// Handling: the caller's mistake (4xx); show the message and any failing fields.
    #[error(transparent)]
    Rejected(E),
    /// Handling: 412; the caller acted on a stale version and should reload.
    #[error("expected version {expected}, the aggregate is at {actual}")]
    StaleVersion { expected: usize, actual: usize },
    /// Handling: 409/503; the aggregate is so contended that retries ran out. Safe to retry.
    #[error("the aggregate kept changing; gave up after {attempts} attempts")]
    Contended { attempts: u32 },
    /// Handling: 5xx; log it, never show it.
    #[error("event store failure: {0}")]
    Store(AggregateError<E>),
}

/// Backoff between conflict retries: exponential with full jitter, so retries of many
/// contenders spread out instead of colliding again.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 40,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(100),
        }
    }
}

impl RetryPolicy {
    fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1 << attempt.min(16))
            .min(self.max_delay);
        ceiling.mul_f64(fastrand::f64())
    }
}

pub struct CommandService<A: Aggregate, R: PersistedEventRepository> {
    store: PersistedEventStore<R, A>,
    services: A::Services,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    locks: KeyedLocks,
    conflicts: AtomicU64,
}

impl<A, R> CommandService<A, R>
where
    A: Aggregate,
    A::Command: Clone,
    R: PersistedEventRepository,
{
    /// Uses cqrs-es's plain event store (every load replays the aggregate's facts): its
    /// snapshot store applies new facts twice in cqrs-es 0.5.0.
    pub fn new(
        repository: R,
        upcasters: Vec<Box<dyn cqrs_es::persist::EventUpcaster>>,
        services: A::Services,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store: PersistedEventStore::new_event_store(repository).with_upcasters(upcasters),
            services,
            clock,
            retry: RetryPolicy::default(),
            locks: KeyedLocks::default(),
            conflicts: AtomicU64::new(0),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn services(&self) -> &A::Services {
        &self.services
    }

    /// How many commits lost a race and were retried since start-up (a contention gauge).
    pub fn conflicts_retried(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// Runs a command, retrying on conflicts.
    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        context: &CommandContext,
    ) -> Result<Committed<A>, CommandError<A::Error>> {
        self.execute_at(aggregate_id, command, context, None).await
    }

    /// Runs a command only if the aggregate is still at `expected_version` (an If-Match).
    pub async fn execute_at(
        &self,
        aggregate_id: &str,
        command: A::Command,
        context: &CommandContext,
        expected_version: Option<usize>,
    ) -> Result<Committed<A>, CommandError<A::Error>> {
        // Commands for one aggregate in this process take turns: a conflict then only happens
        // between processes (Lambda instances), and the retries below settle those.
        let _turn = self.locks.lock(aggregate_id).await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .try_once(aggregate_id, command.clone(), context, expected_version)
                .await
            {
                Err(CommandError::Store(AggregateError::AggregateConflict)) if expected_version.is_none() => {
                    if attempt >= self.retry.max_attempts {
                        return Err(CommandError::Contended { attempts: attempt });
                    }
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(aggregate_id, attempt, "conflict, retrying");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                }
                Err(CommandError::Store(AggregateError::AggregateConflict)) => {
                    let actual = self.load(aggregate_id).await?.1;
                    return Err(CommandError::StaleVersion {
                        expected: expected_version.unwrap_or(0),
                        actual,
                    });
                }
                other => return other,
            }
        }
    }

    async fn try_once(
        &self,
        aggregate_id: &str,
        command: A::Command,
        context: &CommandContext,
        expected_version: Option<usize>,
    ) -> Result<Committed<A>, CommandError<A::Error>> {
        let mut loaded = self
            .store
            .load_aggregate(aggregate_id)
            .await
            .map_err(CommandError::Store)?;
        let version = loaded.current_sequence;
        if let Some(expected) = expected_version
            && expected != version
        {
            return Err(CommandError::StaleVersion {
                expected,
                actual: version,
            });
        }
        let sink = EventSink::default();
        loaded
            .aggregate()
            .handle(command, &self.services, &sink)
            .await
            .map_err(CommandError::Rejected)?;
        let facts = sink.collect().await;
        if facts.is_empty() {
            return Ok(Committed {
                version,
                facts: Vec::new(),
            });
        }
        let metadata = HashMap::from([
            (metadata::ACTOR.to_owned(), context.actor.clone()),
            (
                metadata::CORRELATION_ID.to_owned(),
                context.correlation_id.clone(),
            ),
            (metadata::RECORDED_AT.to_owned(), self.clock.now().to_rfc3339()),
        ]);
        let facts = self
            .store
            .commit(facts, loaded, metadata)
            .await
            .map_err(CommandError::Store)?;
        let version = facts.last().map_or(version, |f| f.sequence);
        Ok(Committed { version, facts })
    }

    /// The aggregate's current state and version, straight from its facts.
    pub async fn load(&self, aggregate_id: &str) -> Result<(A, usize), CommandError<A::Error>> {
        let loaded = self
            .store
            .load_aggregate(aggregate_id)
            .await
            .map_err(CommandError::Store)?;
        Ok((loaded.aggregate, loaded.current_sequence))
    }

    /// Every fact of one aggregate, upcast, in order.
    pub async fn history(&self, aggregate_id: &str) -> Result<Vec<EventEnvelope<A>>, CommandError<A::Error>> {
        self.store
            .load_events(aggregate_id)
            .await
            .map_err(CommandError::Store)
    }
}

/// One async mutex per key, dropped when nobody holds or waits for it.
#[derive(Default)]
struct KeyedLocks {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

struct KeyedGuard<'a> {
    locks: &'a KeyedLocks,
    key: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    async fn lock(&self, key: &str) -> KeyedGuard<'_> {
        let mutex = self
            .map
            .lock()
            .expect("lock map poisoned")
            .entry(key.to_owned())
            .or_default()
            .clone();
        let guard = mutex.lock_owned().await;
        KeyedGuard {
            locks: self,
            key: key.to_owned(),
            guard: Some(guard),
        }
    }
}

impl Drop for KeyedGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.locks.map.lock().expect("lock map poisoned");
        drop(self.guard.take());
        // Only the map's own handle left: nobody waits, so the entry can go.
        if map.get(&self.key).is_some_and(|m| Arc::strong_count(m) == 1) {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_but_stay_under_the_ceiling() {
        let policy = RetryPolicy::default();
        for attempt in 1..60 {
            assert!(policy.delay(attempt) <= policy.max_delay);
        }
    }

    #[tokio::test]
    async fn a_keyed_lock_is_released_and_forgotten_after_use() {
        let locks = KeyedLocks::default();
        {
            let _a = locks.lock("a").await;
            assert_eq!(locks.map.lock().unwrap().len(), 1);
        }
        assert!(locks.map.lock().unwrap().is_empty());
    }
}
