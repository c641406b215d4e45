//! The embedded event store: one SQLite file, no server. Besides what cqrs-es asks of a
//! repository it gives every fact a global position, the local stand-in for DynamoDB Streams:
//! readers follow `read_from(position)` and can replay everything from 0.
//!
//! Why positions never skip a committed fact: SQLite has one writer at a time, and the
//! position (an AUTOINCREMENT rowid) is taken inside the write transaction, so facts become
//! visible in position order. A rolled-back transaction leaves a gap that is never filled,
//! which followers simply step over.

mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cqrs_es::Aggregate;
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde_json::Value;
use slsplay_aggregates::history::RecordedFact;
use tokio::sync::watch;
use writer::{Commit, FactRow, SnapshotRow, Writer};

const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS events (
    position        INTEGER PRIMARY KEY AUTOINCREMENT,
    aggregate_type  TEXT    NOT NULL,
    aggregate_id    TEXT    NOT NULL,
    sequence        INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    event_version   TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    metadata        TEXT    NOT NULL,
    UNIQUE (aggregate_type, aggregate_id, sequence)
);
CREATE TABLE IF NOT EXISTS snapshots (
    aggregate_type   TEXT    NOT NULL,
    aggregate_id     TEXT    NOT NULL,
    last_sequence    INTEGER NOT NULL,
    snapshot_version INTEGER NOT NULL,
    payload          TEXT    NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);
";

/// How hard each commit waits for the disk. `Full` (the default) means an acknowledged command
/// survives a power cut; `Normal` survives a crash of the process but not of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    #[default]
    Full,
    Normal,
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "normal" => Ok(Self::Normal),
            _ => Err(format!("`{s}` is not a durability (full or normal)")),
        }
    }
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub durability: Durability,
    /// Read connections, so loads do not queue behind commits.
    pub readers: usize,
    /// How long a statement waits for another process's write lock.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Full,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The embedded event store. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct SqliteEventRepository {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    // Readers are declared (so dropped) before the writer: the last connection to close
    // checkpoints the write-ahead log, and only the writer can.
    readers: Mutex<Vec<Connection>>,
    writer: Writer,
    options: SqliteOptions,
    head: Arc<watch::Sender<u64>>,
}

impl std::fmt::Debug for SqliteEventRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteEventRepository")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

fn connection_error(e: impl std::error::Error + Send + Sync + 'static) -> PersistenceError {
    PersistenceError::ConnectionError(Box::new(e))
}

fn unknown(e: impl std::error::Error + Send + Sync + 'static) -> PersistenceError {
    PersistenceError::UnknownError(Box::new(e))
}

impl SqliteEventRepository {
    /// Opens (or creates) the store at `path`, creating the schema when missing.
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, PersistenceError> {
        let path = path.as_ref().to_path_buf();
        let writer = Self::connect(&path, &options, OpenFlags::default())?;
        writer.execute_batch(SCHEMA).map_err(connection_error)?;
        let head: u64 = writer
            .query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |r| r.get(0))
            .map_err(connection_error)?;
        let read_flags =
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let readers = (0..options.readers.max(1))
            .map(|_| Self::connect(&path, &options, read_flags))
            .collect::<Result<Vec<_>, _>>()?;
        let head = Arc::new(watch::channel(head).0);
        let writer = Writer::spawn(writer, head.clone()).map_err(connection_error)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                readers: Mutex::new(readers),
                writer,
                options,
                head,
            }),
        })
    }

    fn connect(
        path: &Path,
        options: &SqliteOptions,
        flags: OpenFlags,
    ) -> Result<Connection, PersistenceError> {
        let conn = Connection::open_with_flags(path, flags).map_err(connection_error)?;
        conn.busy_timeout(options.busy_timeout)
            .map_err(connection_error)?;
        if !flags.contains(OpenFlags::SQLITE_OPEN_READ_ONLY) {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(connection_error)?;
        }
        conn.pragma_update(None, "synchronous", options.durability.pragma())
            .map_err(connection_error)?;
        Ok(conn)
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The position of the newest committed fact (0 when the store is empty).
    pub fn head(&self) -> u64 {
        *self.inner.head.borrow()
    }

    /// Wakes up when this process commits; followers also poll, for commits from other processes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.head.subscribe()
    }

    /// Up to `limit` facts after `position`, of every aggregate, in global order.
    pub async fn read_from(
        &self,
        position: u64,
        limit: usize,
    ) -> Result<Vec<RecordedFact>, PersistenceError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
                 FROM events WHERE position > ?1 ORDER BY position LIMIT ?2",
            )?;
            stmt.query_map(params![position, limit], row_to_fact)?.collect::<Result<Vec<_>, _>>()
        })
        .await?
        .into_iter()
        .map(|f| f.map_err(PersistenceError::from))
        .collect()
    }

    /// The ids of every aggregate of one type, oldest first.
    pub async fn aggregate_ids(&self, aggregate_type: &str) -> Result<Vec<String>, PersistenceError> {
        let aggregate_type = aggregate_type.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT aggregate_id FROM events WHERE aggregate_type = ?1 AND sequence = 1 ORDER BY position",
            )?;
            stmt.query_map([aggregate_type], |r| r.get(0))?.collect()
        })
        .await
    }

    /// Runs a read on a pooled read-only connection, on the calling task. These reads are
    /// short indexed lookups served from memory (WAL readers never wait for the writer), and
    /// handing each to a blocking thread cost more in thread switches than the read itself:
    /// in the benchmark, most of the time went to context switches.
    async fn read<T, F>(&self, f: F) -> Result<T, PersistenceError>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T>,
    {
        let inner = &self.inner;
        let pooled = inner.readers.lock().expect("reader pool poisoned").pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                Self::connect(&inner.path, &inner.options, flags)?
            }
        };
        let result = f(&conn).map_err(unknown);
        let mut pool = inner.readers.lock().expect("reader pool poisoned");
        if pool.len() < inner.options.readers {
            pool.push(conn);
        }
        result
    }

    /// Every fact of one aggregate with its global position, in sequence order.
    pub async fn aggregate_history(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<RecordedFact>, PersistenceError> {
        self.facts_after(aggregate_type, aggregate_id, 0).await
    }

    async fn facts_after(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after_sequence: usize,
    ) -> Result<Vec<RecordedFact>, PersistenceError> {
        let (aggregate_type, aggregate_id) = (aggregate_type.to_owned(), aggregate_id.to_owned());
        let after = i64::try_from(after_sequence).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
                 FROM events WHERE aggregate_type = ?1 AND aggregate_id = ?2 AND sequence > ?3 ORDER BY sequence",
            )?;
            stmt.query_map(params![aggregate_type, aggregate_id, after], row_to_fact)?.collect::<Result<Vec<_>, _>>()
        })
        .await?
        .into_iter()
        .map(|r| r.map_err(PersistenceError::from))
        .collect()
    }

    async fn events_after(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let facts = self
            .facts_after(aggregate_type, aggregate_id, after_sequence)
            .await?;
        Ok(facts.into_iter().map(SerializedEvent::from).collect())
    }

    async fn replay(&self, filter: Option<String>, aggregate_type: &'static str) -> ReplayStream {
        let (mut feed, stream) = ReplayStream::new(256);
        let repo = self.clone();
        tokio::spawn(async move {
            let mut position = 0;
            loop {
                let batch = match repo.read_from(position, 512).await {
                    Ok(batch) => batch,
                    Err(e) => {
                        let _ = feed.push(Err(e)).await;
                        return;
                    }
                };
                let Some(last) = batch.last().and_then(|f| f.position) else {
                    return;
                };
                position = last;
                for fact in batch {
                    let wanted = fact.aggregate_type == aggregate_type
                        && filter.as_ref().is_none_or(|id| *id == fact.aggregate_id);
                    if wanted && feed.push(Ok(fact.into())).await.is_err() {
                        return;
                    }
                }
            }
        });
        stream
    }
}

/// Decodes `position` and the seven event columns; the JSON is parsed separately so a corrupt
/// payload surfaces as a deserialization error, not a database error.
fn row_to_fact(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<RecordedFact, serde_json::Error>> {
    let position: u64 = row.get(0)?;
    let aggregate_type: String = row.get(1)?;
    let aggregate_id: String = row.get(2)?;
    let sequence: usize = row.get(3)?;
    let event_type: String = row.get(4)?;
    let event_version: String = row.get(5)?;
    let payload: String = row.get(6)?;
    let metadata: String = row.get(7)?;
    let decode = || -> Result<RecordedFact, serde_json::Error> {
        Ok(RecordedFact {
            position: Some(position),
            aggregate_type,
            aggregate_id,
            sequence,
            event_type,
            event_version,
            payload: serde_json::from_str(&payload)?,
            metadata: serde_json::from_str(&metadata)?,
        })
    };
    Ok(decode())
}

impl PersistedEventRepository for SqliteEventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.events_after(A::TYPE, aggregate_id, 0).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.events_after(A::TYPE, aggregate_id, last_sequence).await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        let id = aggregate_id.to_owned();
        let row = self
            .read(move |conn| {
                conn.query_row(
                    "SELECT last_sequence, snapshot_version, payload FROM snapshots
                     WHERE aggregate_type = ?1 AND aggregate_id = ?2",
                    params![A::TYPE, id],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)),
                )
                .optional()
            })
            .await?;
        let Some((last_sequence, snapshot_version, payload)) = row else {
            return Ok(None);
        };
        Ok(Some(SerializedSnapshot {
            aggregate_id: aggregate_id.to_owned(),
            aggregate: serde_json::from_str(&payload)?,
            current_sequence: usize::try_from(last_sequence).unwrap_or_default(),
            current_snapshot: usize::try_from(snapshot_version).unwrap_or_default(),
        }))
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        let number = |n: usize| i64::try_from(n).map_err(|e| PersistenceError::UnknownError(Box::new(e)));
        let facts = events
            .iter()
            .map(|e| {
                Ok(FactRow {
                    aggregate_type: e.aggregate_type.clone(),
                    aggregate_id: e.aggregate_id.clone(),
                    sequence: number(e.sequence)?,
                    event_type: e.event_type.clone(),
                    event_version: e.event_version.clone(),
                    payload: serde_json::to_string(&e.payload)?,
                    metadata: serde_json::to_string(&e.metadata)?,
                })
            })
            .collect::<Result<Vec<_>, PersistenceError>>()?;
        let snapshot = match snapshot_update {
            Some((aggregate_id, payload, version)) => Some(SnapshotRow {
                aggregate_type: A::TYPE.to_owned(),
                aggregate_id,
                payload: serde_json::to_string(&payload)?,
                version: number(version)?,
                last_sequence: number(events.last().map_or(0, |e| e.sequence))?,
            }),
            None => None,
        };
        self.inner.writer.commit(Commit { facts, snapshot }).await
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        Ok(self.replay(Some(aggregate_id.to_owned()), A::TYPE).await)
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        Ok(self.replay(None, A::TYPE).await)
    }
}
