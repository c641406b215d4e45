//! What an operator watches: per builder, how far behind it is (the age of the oldest fact it
//! has not applied), its queue's depth, its dead letters and its oldest message; the event
//! store's head and the fan-out's place behind it. Served on `GET /health`, printed by
//! `slsplay status`, and logged as one JSON line by the scheduler every minute.

use chrono::{DateTime, Utc};
use serde::Serialize;
use slsplay_commands::store::SqliteEventRepository;
use slsplay_projections::queue::{EmbeddedQueues, QueueError};

use crate::pipeline::FANOUT_CURSOR;

/// The builders `slsplay dev` runs, by their queues' names.
pub const BUILDERS: [&str; 4] = ["read_models", "emails", "search", "web_cache"];

#[derive(Debug, Clone, Serialize)]
pub struct Diagnostics {
    pub event_store: EventStore,
    pub fan_out: FanOut,
    pub builders: Vec<BuilderState>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventStore {
    pub kind: &'static str,
    pub head_position: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FanOut {
    pub position: u64,
    /// Facts appended but not yet sent to the builders' queues.
    pub behind: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuilderState {
    pub name: &'static str,
    /// Seconds since the oldest fact this builder has not applied was recorded (0: current).
    pub projection_lag_seconds: f64,
    pub queue_depth: usize,
    pub dead_letters: usize,
    pub oldest_message_age_seconds: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiagnosticsError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("reading the event store: {0}")]
    Store(#[from] cqrs_es::persist::PersistenceError),
}

fn seconds_since(then: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    ((now - then).num_milliseconds().max(0) as f64) / 1000.0
}

pub async fn diagnose(
    store: &SqliteEventRepository,
    queues: &EmbeddedQueues,
    now: DateTime<Utc>,
) -> Result<Diagnostics, DiagnosticsError> {
    let head = store.head();
    let position = queues.cursor(FANOUT_CURSOR).await?;
    // A fact not fanned out yet is behind for every builder.
    let unsent = store
        .read_from(position, 1)
        .await?
        .first()
        .and_then(|f| f.metadata.get("recorded_at")?.as_str().map(str::to_owned))
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc));
    let mut builders = Vec::with_capacity(BUILDERS.len());
    for name in BUILDERS {
        let stats = queues.stats(name).await?;
        let oldest = [stats.oldest_sent_at, unsent].into_iter().flatten().min();
        builders.push(BuilderState {
            name,
            projection_lag_seconds: oldest.map_or(0.0, |t| seconds_since(t, now)),
            queue_depth: stats.depth,
            dead_letters: stats.dead_letters,
            oldest_message_age_seconds: stats.oldest_sent_at.map(|t| seconds_since(t, now)),
        });
    }
    Ok(Diagnostics {
        event_store: EventStore {
            kind: "sqlite",
            head_position: head,
        },
        fan_out: FanOut {
            position,
            behind: head.saturating_sub(position),
        },
        builders,
    })
}

/// The diagnostics as `GET /health` serves them: read at most once a second, by one request
/// at a time while the others answer with the last reading, since load balancers and load
/// tests call it far more often and the queues' lock is the builders'.
#[derive(Default)]
pub struct RecentDiagnostics {
    last: std::sync::Mutex<Option<(std::time::Instant, std::sync::Arc<Diagnostics>)>>,
    reading: tokio::sync::Mutex<()>,
}

impl RecentDiagnostics {
    const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(1);

    fn last(&self) -> Option<(std::time::Instant, std::sync::Arc<Diagnostics>)> {
        self.last.lock().expect("diagnostics lock").clone()
    }

    pub async fn get(
        &self,
        store: &SqliteEventRepository,
        queues: &EmbeddedQueues,
        now: DateTime<Utc>,
    ) -> Result<std::sync::Arc<Diagnostics>, DiagnosticsError> {
        let last = self.last();
        if let Some((at, d)) = &last
            && at.elapsed() < Self::FRESH_FOR
        {
            return Ok(d.clone());
        }
        let _reading = match (self.reading.try_lock(), last) {
            (Ok(guard), _) => guard,
            // Another request is reading them: the last reading will do.
            (Err(_), Some((_, d))) => return Ok(d),
            (Err(_), None) => self.reading.lock().await,
        };
        if let Some((at, d)) = self.last()
            && at.elapsed() < Self::FRESH_FOR
        {
            return Ok(d);
        }
        let fresh = std::sync::Arc::new(diagnose(store, queues, now).await?);
        *self.last.lock().expect("diagnostics lock") = Some((std::time::Instant::now(), fresh.clone()));
        Ok(fresh)
    }
}
