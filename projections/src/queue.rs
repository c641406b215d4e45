//! The embedded queue: SQS FIFO semantics on one SQLite file, for the local platform.
//!
//! - At least once: a received message stays until acknowledged; if its consumer dies, it is
//!   delivered again when its visibility timeout runs out, or at once when the process that
//!   holds the queues starts again (`release_deliveries_of_earlier_runs`).
//! - In order per group (the event): only the oldest message of a group is ever delivered,
//!   and not while an earlier delivery of it is in flight.
//! - Deduplicated: a second send with the same deduplication id is ignored while the first is
//!   queued.
//! - Retries with exponential backoff; after `max_receives` deliveries a message moves to the
//!   dead-letter state, where `slsplay dlq list` shows it and `slsplay dlq redrive` requeues it.
//!   A dead message no longer blocks its group, as with SQS FIFO and a redrive policy.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use slsplay_aggregates::Clock;
use tokio::sync::{Mutex, Notify};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queue_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    queue       TEXT    NOT NULL,
    group_id    TEXT    NOT NULL,
    dedup_id    TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    receives    INTEGER NOT NULL DEFAULT 0,
    visible_at  INTEGER NOT NULL,
    dead        INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    sent_at     TEXT    NOT NULL,
    in_flight   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (queue, dedup_id)
);
CREATE INDEX IF NOT EXISTS queue_heads ON queue_messages (queue, dead, group_id, id);
CREATE TABLE IF NOT EXISTS cursors (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
";

#[derive(Debug, thiserror::Error)]
#[error("embedded queue: {0}")]
pub struct QueueError(#[from] rusqlite::Error);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub group_id: String,
    pub dedup_id: String,
    pub body: String,
}

impl Outgoing {
    /// The message that carries one fact to a builder, from either fan-out (the embedded
    /// queues' or SQS FIFO's): grouped by aggregate, so each event's facts arrive in order;
    /// deduplicated by aggregate and sequence; the fact as JSON, which `handler::handle_batch`
    /// reads.
    pub fn carrying(fact: &slsplay_aggregates::history::RecordedFact) -> Result<Self, serde_json::Error> {
        Ok(Self {
            group_id: fact.aggregate_id.clone(),
            dedup_id: format!("{}:{}:{}", fact.aggregate_type, fact.aggregate_id, fact.sequence),
            body: serde_json::to_string(fact)?,
        })
    }
}

/// A delivered message; `receipt` acknowledges or fails it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub receipt: i64,
    pub group_id: String,
    pub dedup_id: String,
    pub body: String,
    /// How many times it has been delivered, this time included.
    pub receives: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub id: i64,
    pub queue: String,
    pub group_id: String,
    pub dedup_id: String,
    pub receives: u32,
    pub last_error: Option<String>,
    pub sent_at: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    pub queue: String,
    pub depth: usize,
    pub dead_letters: usize,
    pub oldest_sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone)]
pub struct QueuePolicy {
    pub max_receives: u32,
    pub visibility_timeout: Duration,
    pub first_retry_after: Duration,
    pub max_retry_after: Duration,
}

impl Default for QueuePolicy {
    fn default() -> Self {
        Self {
            max_receives: 5,
            visibility_timeout: Duration::from_secs(30),
            first_retry_after: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl QueuePolicy {
    fn retry_after(&self, receives: u32) -> Duration {
        let exponent = receives.saturating_sub(1).min(16);
        self.first_retry_after
            .saturating_mul(1 << exponent)
            .min(self.max_retry_after)
    }
}

#[derive(Clone)]
pub struct EmbeddedQueues {
    conn: Arc<Mutex<Connection>>,
    policy: QueuePolicy,
    sent: Arc<Notify>,
    clock: Arc<dyn Clock>,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl EmbeddedQueues {
    pub fn open(
        path: impl AsRef<Path>,
        policy: QueuePolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, QueueError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Everything here can be derived again from the event store: the fan-out cursor moves
        // in the same transactions as the messages, so a power cut loses both together and the
        // fan-out sends them again; a lost acknowledgement means a redelivery, which builders
        // skip. So no fsync per commit.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let has_in_flight: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('queue_messages') WHERE name = 'in_flight'",
            [],
            |r| r.get(0),
        )?;
        if !has_in_flight {
            // A file of an earlier version: its deliveries cannot be told from backoffs, and
            // wait for their timeout once.
            conn.execute_batch("ALTER TABLE queue_messages ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 0")?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            policy,
            sent: Arc::new(Notify::new()),
            clock,
        })
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Woken whenever a message is sent or a failed one is released, so consumers need not poll
    /// fast to stay close behind.
    pub fn sent(&self) -> Arc<Notify> {
        self.sent.clone()
    }

    /// Sends to several queues and moves a named cursor, atomically: a fan-out that crashes
    /// in between resends nothing twice and loses nothing.
    pub async fn send_and_advance(
        &self,
        batches: &[(&str, Vec<Outgoing>)],
        cursor: Option<(&str, u64)>,
    ) -> Result<(), QueueError> {
        let mut conn = self.conn.lock().await;
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO queue_messages (queue, group_id, dedup_id, body, visible_at, sent_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (queue, dedup_id) DO NOTHING",
            )?;
            let (now, sent_at) = (self.now_ms(), self.clock.now().to_rfc3339());
            for (queue, messages) in batches {
                for m in messages {
                    insert.execute(params![queue, m.group_id, m.dedup_id, m.body, now, sent_at])?;
                }
            }
            if let Some((name, position)) = cursor {
                let position = i64::try_from(position).unwrap_or(i64::MAX);
                tx.execute(
                    "INSERT INTO cursors (name, position) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                    params![name, position],
                )?;
            }
        }
        tx.commit()?;
        self.sent.notify_waiters();
        Ok(())
    }

    pub async fn cursor(&self, name: &str) -> Result<u64, QueueError> {
        let conn = self.conn.lock().await;
        let position: Option<i64> = conn
            .query_row("SELECT position FROM cursors WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(position.and_then(|p| u64::try_from(p).ok()).unwrap_or(0))
    }

    /// Up to `max` messages, at most one per group: each group's oldest live message, if it is
    /// due and not in flight. Messages that reach `max_receives` without success go dead.
    pub async fn receive(&self, queue: &str, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let mut conn = self.conn.lock().await;
        let now = self.now_ms();
        let tx = conn.transaction()?;
        // A message whose last delivery timed out after its last allowed receive is dead.
        tx.execute(
            "UPDATE queue_messages SET dead = 1, in_flight = 0, last_error = COALESCE(last_error, 'visibility timeout')
             WHERE queue = ?1 AND dead = 0 AND receives >= ?2 AND visible_at <= ?3",
            params![queue, self.policy.max_receives, now],
        )?;
        let heads: Vec<Delivery> = {
            let mut stmt = tx.prepare_cached(
                "SELECT m.id, m.group_id, m.dedup_id, m.body, m.receives FROM queue_messages m
                 WHERE m.queue = ?1 AND m.dead = 0 AND m.visible_at <= ?2
                   AND m.id = (SELECT MIN(h.id) FROM queue_messages h
                               WHERE h.queue = ?1 AND h.dead = 0 AND h.group_id = m.group_id)
                 ORDER BY m.id LIMIT ?3",
            )?;
            let limit = i64::try_from(max).unwrap_or(i64::MAX);
            stmt.query_map(params![queue, now, limit], |r| {
                Ok(Delivery {
                    receipt: r.get(0)?,
                    group_id: r.get(1)?,
                    dedup_id: r.get(2)?,
                    body: r.get(3)?,
                    receives: r.get::<_, u32>(4)? + 1,
                })
            })?
            .collect::<Result<_, _>>()?
        };
        {
            let hidden_until = now + millis(self.policy.visibility_timeout);
            let mut take = tx.prepare_cached(
                "UPDATE queue_messages SET receives = receives + 1, visible_at = ?2, in_flight = 1 WHERE id = ?1",
            )?;
            for d in &heads {
                take.execute(params![d.receipt, hidden_until])?;
            }
        }
        tx.commit()?;
        Ok(heads)
    }

    pub async fn ack(&self, receipt: i64) -> Result<(), QueueError> {
        self.ack_all(&[receipt]).await
    }

    /// Makes every delivery still out due now. Only for the one process that holds the queues
    /// (`slsplay dev` locks its data folder), at its start: a delivery of an earlier run can
    /// only be one whose consumer died with it, and its group would otherwise wait a whole
    /// visibility timeout. The receive is counted, so a message that kills the process still
    /// goes dead after `max_receives`.
    pub async fn release_deliveries_of_earlier_runs(&self) -> Result<usize, QueueError> {
        let conn = self.conn.lock().await;
        let released = conn.execute(
            "UPDATE queue_messages SET in_flight = 0, visible_at = ?1 WHERE in_flight = 1 AND dead = 0",
            [self.now_ms()],
        )?;
        drop(conn);
        self.sent.notify_waiters();
        Ok(released)
    }

    /// Acknowledges many deliveries in one transaction.
    pub async fn ack_all(&self, receipts: &[i64]) -> Result<(), QueueError> {
        let mut conn = self.conn.lock().await;
        let tx = conn.transaction()?;
        {
            let mut delete = tx.prepare_cached("DELETE FROM queue_messages WHERE id = ?1")?;
            for receipt in receipts {
                delete.execute([receipt])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The delivery failed: retry after a backoff, or go dead after the last allowed receive.
    pub async fn fail(&self, delivery: &Delivery, error: &str) -> Result<(), QueueError> {
        let conn = self.conn.lock().await;
        let dead = delivery.receives >= self.policy.max_receives;
        let retry_at = self.now_ms() + millis(self.policy.retry_after(delivery.receives));
        conn.execute(
            "UPDATE queue_messages SET dead = ?2, visible_at = ?3, last_error = ?4, in_flight = 0 WHERE id = ?1",
            params![delivery.receipt, dead, retry_at, error],
        )?;
        if dead {
            tracing::warn!(
                dedup_id = delivery.dedup_id,
                error,
                "message moved to the dead-letter queue"
            );
        }
        Ok(())
    }

    /// When the next message of `queue` becomes due, if any is waiting.
    pub async fn next_due_in(&self, queue: &str) -> Result<Option<Duration>, QueueError> {
        let conn = self.conn.lock().await;
        let next: Option<i64> = conn.query_row(
            "SELECT MIN(visible_at) FROM queue_messages WHERE queue = ?1 AND dead = 0",
            [queue],
            |r| r.get(0),
        )?;
        Ok(next.map(|at| Duration::from_millis(u64::try_from(at - self.now_ms()).unwrap_or(0))))
    }

    pub async fn dead_letters(&self, queue: Option<&str>) -> Result<Vec<DeadLetter>, QueueError> {
        let conn = self.conn.lock().await;
        let mut stmt = conn.prepare(
            "SELECT id, queue, group_id, dedup_id, receives, last_error, sent_at, body FROM queue_messages
             WHERE dead = 1 AND (?1 IS NULL OR queue = ?1) ORDER BY id",
        )?;
        let rows = stmt.query_map([queue], |r| {
            Ok(DeadLetter {
                id: r.get(0)?,
                queue: r.get(1)?,
                group_id: r.get(2)?,
                dedup_id: r.get(3)?,
                receives: r.get(4)?,
                last_error: r.get(5)?,
                sent_at: r.get(6)?,
                body: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Puts dead messages back in line with a fresh count of receives; returns how many.
    pub async fn redrive(&self, queue: Option<&str>) -> Result<usize, QueueError> {
        let conn = self.conn.lock().await;
        let n = conn.execute(
            "UPDATE queue_messages SET dead = 0, receives = 0, visible_at = ?2, last_error = NULL
             WHERE dead = 1 AND (?1 IS NULL OR queue = ?1)",
            params![queue, self.now_ms()],
        )?;
        drop(conn);
        self.sent.notify_waiters();
        Ok(n)
    }

    /// What an operator watches of `queue`: waiting messages, dead letters, and when the
    /// oldest waiting message was sent.
    pub async fn stats(&self, queue: &str) -> Result<QueueStats, QueueError> {
        let conn = self.conn.lock().await;
        let (depth, dead, oldest): (i64, i64, Option<String>) = conn.query_row(
            "SELECT COALESCE(SUM(dead = 0), 0), COALESCE(SUM(dead = 1), 0), MIN(CASE WHEN dead = 0 THEN sent_at END)
             FROM queue_messages WHERE queue = ?1",
            [queue],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let oldest_sent_at = oldest
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&chrono::Utc));
        Ok(QueueStats {
            queue: queue.to_owned(),
            depth: usize::try_from(depth).unwrap_or(0),
            dead_letters: usize::try_from(dead).unwrap_or(0),
            oldest_sent_at,
        })
    }

    /// Messages waiting (not dead) in `queue`.
    pub async fn depth(&self, queue: &str) -> Result<usize, QueueError> {
        let conn = self.conn.lock().await;
        let n: i64 = conn.query_row(
            "SELECT COUNT(*) FROM queue_messages WHERE queue = ?1 AND dead = 0",
            [queue],
            |r| r.get(0),
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}
