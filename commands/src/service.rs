//! The command service: the one way commands reach an aggregate. It loads the aggregate,
//! lets it decide, commits the facts with the caller's metadata, and retries on an
//! optimistic-concurrency conflict, so concurrent callers never see a conflict they did not
//! ask for (an explicit expected version).
//!
//! Commands start from an in-memory copy of recently used aggregates instead of replaying
//! every fact. That copy is always an exact replay of stored facts: it is only updated with
//! facts that were committed. Before deciding, a command reads the facts committed since by
//! anyone, unless the service is told it is the store's only writer (`trust_cached_copies`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventUpcaster, PersistedEventRepository, PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate, AggregateError, EventEnvelope};
use slsplay_aggregates::Clock;
use slsplay_aggregates::history::upcast;

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

/// How many aggregates the service keeps in memory by default.
pub const DEFAULT_CACHED_AGGREGATES: usize = 10_000;

pub struct CommandService<A: Aggregate, R: PersistedEventRepository> {
    repository: R,
    upcasters: Vec<Box<dyn EventUpcaster>>,
    cache: AggregateCache<A>,
    services: A::Services,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    locks: KeyedLocks,
    conflicts: AtomicU64,
    trust_cache: bool,
}

impl<A, R> CommandService<A, R>
where
    A: Aggregate + Clone,
    A::Command: Clone,
    R: PersistedEventRepository,
{
    /// Facts are read through `upcasters`. cqrs-es's snapshot stores are not used: in 0.5.0
    /// they apply new facts twice; the in-memory copy serves their purpose.
    pub fn new(
        repository: R,
        upcasters: Vec<Box<dyn EventUpcaster>>,
        services: A::Services,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            repository,
            upcasters,
            cache: AggregateCache::new(DEFAULT_CACHED_AGGREGATES),
            services,
            clock,
            retry: RetryPolicy::default(),
            locks: KeyedLocks::default(),
            conflicts: AtomicU64::new(0),
            trust_cache: false,
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How many aggregates to keep in memory (0: load every aggregate from its first fact).
    pub fn with_cached_aggregates(mut self, capacity: usize) -> Self {
        self.cache = AggregateCache::new(capacity);
        self
    }

    /// Commands decide on the in-memory copy without first asking the store for newer facts:
    /// for a service that is its store's only writer (the local platform holds its data folder
    /// alone), which saves a read per command. A copy made stale by a write from elsewhere is
    /// still caught: the commit at the next sequence conflicts and is retried on the newest
    /// state, and a refusal or a no-op, which no commit checks, is decided again when the
    /// store has newer facts. With several writers (Lambda instances) leave it off: under
    /// contention, the instance that committed last would keep winning with its fresh copy
    /// while the others, which must read first, starve.
    pub fn trust_cached_copies(mut self) -> Self {
        self.trust_cache = true;
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
        // With `trust_cached_copies`, the first attempt decides on the in-memory copy as it is;
        // if another process committed since, the commit's sequence check refuses it and the
        // next attempt reads the newer facts first.
        let mut from_cache = self.trust_cache;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .try_once(aggregate_id, &command, context, expected_version, from_cache)
                .await
            {
                Err(CommandError::Store(AggregateError::AggregateConflict)) => {
                    if let Some(expected) = expected_version {
                        let actual = self.load(aggregate_id).await?.1;
                        return Err(CommandError::StaleVersion { expected, actual });
                    }
                    if attempt >= self.retry.max_attempts {
                        return Err(CommandError::Contended { attempts: attempt });
                    }
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(aggregate_id, attempt, "conflict, retrying");
                    if from_cache {
                        // A stale copy, not contention: retry at once from the store.
                        from_cache = false;
                    } else {
                        tokio::time::sleep(self.retry.delay(attempt)).await;
                    }
                }
                other => return other,
            }
        }
    }

    async fn try_once(
        &self,
        aggregate_id: &str,
        command: &A::Command,
        context: &CommandContext,
        expected_version: Option<usize>,
        mut from_cache: bool,
    ) -> Result<Committed<A>, CommandError<A::Error>> {
        let (aggregate, version, facts) = loop {
            let cached = from_cache.then(|| self.cache.get(aggregate_id)).flatten();
            let (mut aggregate, version, checked) = match cached {
                Some((aggregate, version)) if expected_version.is_none_or(|e| e == version) => {
                    (aggregate, version, false)
                }
                _ => {
                    let (aggregate, version) = self.load(aggregate_id).await?;
                    (aggregate, version, true)
                }
            };
            if let Some(expected) = expected_version
                && expected != version
            {
                return Err(CommandError::StaleVersion {
                    expected,
                    actual: version,
                });
            }
            // `handle` works on a copy: facts it writes before refusing never reach the cache.
            let sink = EventSink::default();
            let decided = aggregate.handle(command.clone(), &self.services, &sink).await;
            let facts = sink.collect().await;
            if !checked && (decided.is_err() || facts.is_empty()) {
                // No commit checks a refusal or a no-op: it must stand on the newest state.
                let (_, current) = self.load(aggregate_id).await?;
                if current != version {
                    from_cache = false;
                    continue;
                }
            }
            decided.map_err(CommandError::Rejected)?;
            break (aggregate, version, facts);
        };
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
        let facts: Vec<EventEnvelope<A>> = facts
            .into_iter()
            .zip(version + 1..)
            .map(|(payload, sequence)| EventEnvelope {
                aggregate_id: aggregate_id.to_owned(),
                sequence,
                payload,
                metadata: metadata.clone(),
            })
            .collect();
        let serialized = facts
            .iter()
            .map(SerializedEvent::try_from)
            .collect::<Result<Vec<_>, PersistenceError>>()
            .map_err(store_error)?;
        self.repository
            .persist::<A>(&serialized, None)
            .await
            .map_err(store_error)?;
        let version = version + facts.len();
        self.cache.put(aggregate_id, aggregate, version);
        Ok(Committed { version, facts })
    }

    /// The aggregate's current state and version: the in-memory copy, caught up with the
    /// facts committed since (by this process or any other), or a replay from the first fact.
    pub async fn load(&self, aggregate_id: &str) -> Result<(A, usize), CommandError<A::Error>> {
        let cached = self.cache.get(aggregate_id);
        let was_cached = cached.is_some();
        let (mut aggregate, mut version) = cached.unwrap_or_default();
        let newer = self
            .repository
            .get_last_events::<A>(aggregate_id, version)
            .await
            .map_err(store_error)?;
        let caught_up = !newer.is_empty();
        for envelope in self.decode(newer)? {
            version = envelope.sequence;
            aggregate.apply(envelope.payload);
        }
        // Unknown ids (version 0) are not kept: probing them must not push real events out.
        if version > 0 && (caught_up || !was_cached) {
            self.cache.put(aggregate_id, aggregate.clone(), version);
        }
        Ok((aggregate, version))
    }

    /// Every fact of one aggregate, upcast, in order.
    pub async fn history(&self, aggregate_id: &str) -> Result<Vec<EventEnvelope<A>>, CommandError<A::Error>> {
        let facts = self
            .repository
            .get_events::<A>(aggregate_id)
            .await
            .map_err(store_error)?;
        self.decode(facts)
    }

    fn decode(&self, facts: Vec<SerializedEvent>) -> Result<Vec<EventEnvelope<A>>, CommandError<A::Error>> {
        facts
            .into_iter()
            .map(|f| EventEnvelope::try_from(upcast(f, &self.upcasters)).map_err(store_error))
            .collect()
    }
}

fn store_error<E: std::error::Error>(e: PersistenceError) -> CommandError<E> {
    CommandError::Store(e.into())
}

/// Recently used aggregates with their versions. Bounded: past capacity an arbitrary entry
/// makes room, which costs only a replay the next time that aggregate is used.
struct AggregateCache<A> {
    entries: Mutex<HashMap<String, (A, usize)>>,
    capacity: usize,
}

impl<A: Clone> AggregateCache<A> {
    fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn get(&self, aggregate_id: &str) -> Option<(A, usize)> {
        self.entries
            .lock()
            .expect("cache poisoned")
            .get(aggregate_id)
            .cloned()
    }

    /// Keeps the newer of what is cached and what is offered.
    fn put(&self, aggregate_id: &str, aggregate: A, version: usize) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().expect("cache poisoned");
        if entries
            .get(aggregate_id)
            .is_some_and(|(_, cached)| *cached >= version)
        {
            return;
        }
        if entries.len() >= self.capacity && !entries.contains_key(aggregate_id) {
            let evicted = entries.keys().next().cloned();
            if let Some(key) = evicted {
                entries.remove(&key);
            }
        }
        entries.insert(aggregate_id.to_owned(), (aggregate, version));
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
