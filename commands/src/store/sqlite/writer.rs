//! Group commit. One thread owns the write connection; commits that arrive while it is busy
//! wait and are then written together in one transaction, each inside its own savepoint, so
//! one fsync serves them all while each commit still succeeds or fails on its own. A commit
//! is acknowledged only after its transaction is durable.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use cqrs_es::persist::PersistenceError;
use rusqlite::{Connection, params};
use tokio::sync::{oneshot, watch};

/// At most this many commits share one transaction, to bound its latency.
const MAX_BATCH: usize = 128;

/// One fact, ready for its row.
pub(super) struct FactRow {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
}

pub(super) struct SnapshotRow {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub payload: String,
    pub version: i64,
    pub last_sequence: i64,
}

/// Everything one `persist` call writes, atomically.
pub(super) struct Commit {
    pub facts: Vec<FactRow>,
    pub snapshot: Option<SnapshotRow>,
}

struct Request {
    commit: Commit,
    reply: oneshot::Sender<Result<(), PersistenceError>>,
}

pub(super) struct Writer {
    requests: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub fn spawn(conn: Connection, head: Arc<watch::Sender<u64>>) -> std::io::Result<Self> {
        let (requests, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, &queue, &head))?;
        Ok(Self {
            requests: Some(requests),
            thread: Some(thread),
        })
    }

    pub async fn commit(&self, commit: Commit) -> Result<(), PersistenceError> {
        let (reply, answer) = oneshot::channel();
        let gone = || PersistenceError::ConnectionError("the SQLite writer has stopped".into());
        self.requests
            .as_ref()
            .ok_or_else(gone)?
            .send(Request { commit, reply })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

impl Drop for Writer {
    /// Waits for the writer to finish what is queued and close its connection, which
    /// checkpoints the write-ahead log: nothing acknowledged is left behind in it.
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(mut conn: Connection, queue: &mpsc::Receiver<Request>, head: &watch::Sender<u64>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let commits: Vec<&Commit> = batch.iter().map(|r| &r.commit).collect();
        match write_batch(&mut conn, &commits) {
            Ok((outcomes, new_head)) => {
                head.send_if_modified(|current| {
                    let moved = new_head > *current;
                    *current = (*current).max(new_head);
                    moved
                });
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = request.reply.send(outcome);
                }
            }
            Err(e) => {
                tracing::error!(error = e, commits = batch.len(), "SQLite transaction failed");
                for request in batch {
                    let failed =
                        PersistenceError::UnknownError(format!("the commit was not written: {e}").into());
                    let _ = request.reply.send(Err(failed));
                }
            }
        }
    }
}

type Outcomes = Vec<Result<(), PersistenceError>>;

/// Writes every commit in its own savepoint of one transaction. A conflict fails that commit
/// alone; any other error (disk full, I/O) may have rolled back the whole transaction, so it
/// fails the whole batch and nothing in it is acknowledged.
fn write_batch(conn: &mut Connection, commits: &[&Commit]) -> Result<(Outcomes, u64), String> {
    let mut tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    let mut outcomes = Vec::with_capacity(commits.len());
    let mut head = 0;
    if let [commit] = commits {
        // Alone in its transaction, a commit needs no savepoint: on a conflict nothing else
        // is lost by rolling the transaction back.
        match write_one(&tx, commit) {
            Ok(last) => {
                head = last;
                outcomes.push(Ok(()));
            }
            Err(PersistenceError::OptimisticLockError) => {
                return Ok((vec![Err(PersistenceError::OptimisticLockError)], 0));
            }
            Err(e) => return Err(e.to_string()),
        }
    } else {
        for commit in commits {
            let savepoint = tx.savepoint().map_err(|e| e.to_string())?;
            match write_one(&savepoint, commit) {
                Ok(last) => {
                    savepoint.commit().map_err(|e| e.to_string())?;
                    head = head.max(last);
                    outcomes.push(Ok(()));
                }
                // Dropping the savepoint rolls this commit back, and only this one.
                Err(PersistenceError::OptimisticLockError) => {
                    outcomes.push(Err(PersistenceError::OptimisticLockError))
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    tx.commit().map_err(|e| e.to_string())?;
    Ok((outcomes, head))
}

/// Writes one commit's rows and returns the position of its last fact (0: it had none).
fn write_one(conn: &Connection, commit: &Commit) -> Result<u64, PersistenceError> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(unknown)?;
    for f in &commit.facts {
        insert
            .execute(params![
                f.aggregate_type,
                f.aggregate_id,
                f.sequence,
                f.event_type,
                f.event_version,
                f.payload,
                f.metadata
            ])
            .map_err(conflict_or_unknown)?;
    }
    let last = if commit.facts.is_empty() {
        0
    } else {
        u64::try_from(conn.last_insert_rowid()).unwrap_or(0)
    };
    if let Some(snapshot) = &commit.snapshot {
        save_snapshot(conn, snapshot)?;
    }
    Ok(last)
}

/// Snapshots are optimistic too: version N replaces only version N-1.
fn save_snapshot(conn: &Connection, s: &SnapshotRow) -> Result<(), PersistenceError> {
    let changed = if s.version == 1 {
        conn.execute(
            "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, snapshot_version, payload)
             VALUES (?1, ?2, ?3, 1, ?4)",
            params![s.aggregate_type, s.aggregate_id, s.last_sequence, s.payload],
        )
        .map_err(conflict_or_unknown)?
    } else {
        conn.execute(
            "UPDATE snapshots SET last_sequence = ?3, snapshot_version = ?4, payload = ?5
             WHERE aggregate_type = ?1 AND aggregate_id = ?2 AND snapshot_version = ?4 - 1",
            params![
                s.aggregate_type,
                s.aggregate_id,
                s.last_sequence,
                s.version,
                s.payload
            ],
        )
        .map_err(unknown)?
    };
    if changed == 1 {
        Ok(())
    } else {
        Err(PersistenceError::OptimisticLockError)
    }
}

fn conflict_or_unknown(e: rusqlite::Error) -> PersistenceError {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            PersistenceError::OptimisticLockError
        }
        e => unknown(e),
    }
}

fn unknown(e: rusqlite::Error) -> PersistenceError {
    PersistenceError::UnknownError(Box::new(e))
}
