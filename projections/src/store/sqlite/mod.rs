//! Read models in one SQLite file, one real table per read model, so analysts can open the
//! file and query it with plain SQL.

mod columns;

use std::path::Path;
use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, Value as SqlValue};
use std::any::Any;
use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde_json::Value;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{ReadStore, ReadStoreError, ReadTx, decode};
use crate::read_models::TABLES;
use crate::schema::{ColumnType, Key, ReadModel, Row, Table, scalar_text};

const CHECKPOINTS: &str = "CREATE TABLE IF NOT EXISTS projection_checkpoints (
    projection    TEXT    NOT NULL,
    aggregate_id  TEXT    NOT NULL,
    last_sequence INTEGER NOT NULL,
    PRIMARY KEY (projection, aggregate_id)
)";

fn storage(e: rusqlite::Error) -> ReadStoreError {
    ReadStoreError::Storage(Box::new(e))
}

#[derive(Clone)]
pub struct SqliteReadStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteReadStore {
    /// Opens (or creates) the read model file with every read model table.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadStoreError> {
        Self::open_with(path, TABLES)
    }

    /// Opens (or creates) a store with the given tables (the email builder keeps its outbox).
    pub fn open_with(path: impl AsRef<Path>, tables: &[Table]) -> Result<Self, ReadStoreError> {
        let conn = Connection::open(path).map_err(storage)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(storage)?;
        // Read models can always be rebuilt from the facts: no fsync per commit.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(storage)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(storage)?;
        conn.execute_batch(CHECKPOINTS).map_err(storage)?;
        for table in tables {
            conn.execute_batch(&create_table(table)).map_err(storage)?;
            add_new_columns(&conn, table).map_err(storage)?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Opens a fresh copy for a rebuild. Nothing in it counts until the rebuild has finished
    /// and moved it in place (a rebuild that stops starts over), so it keeps no journal file and
    /// never syncs, and its page cache holds far more of the tables than SQLite's default 2 MB.
    /// In A/B runs of the replay benchmark these settings took the read model rebuild from
    /// about 33 s to about 25 s. The caller syncs the file before it moves it in place.
    pub fn open_scratch(path: impl AsRef<Path>, tables: &[Table]) -> Result<Self, ReadStoreError> {
        let store = Self::open_with(path, tables)?;
        {
            let conn = store.conn.try_lock().expect("a store just opened is not shared");
            conn.pragma_update(None, "journal_mode", "MEMORY")
                .map_err(storage)?;
            conn.pragma_update(None, "synchronous", "OFF").map_err(storage)?;
            conn.pragma_update(None, "cache_size", SCRATCH_CACHE_KIB)
                .map_err(storage)?;
        }
        Ok(store)
    }
}

/// The tables of the file at `path` that an earlier version wrote without some of today's
/// columns (or not at all): rows built before lack what those columns say, so a read model
/// file with any needs a rebuild. None for a file not made yet.
pub fn outdated_tables(
    path: impl AsRef<Path>,
    tables: &[Table],
) -> Result<Vec<&'static str>, ReadStoreError> {
    if !path.as_ref().exists() {
        return Ok(Vec::new());
    }
    let conn =
        Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(storage)?;
    let mut outdated = Vec::new();
    for table in tables {
        let existing: std::collections::HashSet<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{}')", table.name))
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(storage)?;
        if table.columns.iter().any(|c| !existing.contains(c.name)) {
            outdated.push(table.name);
        }
    }
    Ok(outdated)
}

/// The rebuild copy's page cache, in KiB as SQLite counts a negative size.
const SCRATCH_CACHE_KIB: i64 = -256 * 1024;

/// A file written by an earlier version lacks the columns added since (all nullable): they are
/// added, empty, so the file keeps its rows (the outbox is a record, never rebuilt).
fn add_new_columns(conn: &Connection, table: &Table) -> rusqlite::Result<()> {
    let existing: std::collections::HashSet<String> = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{}')", table.name))?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for column in table.columns.iter().filter(|c| !existing.contains(c.name)) {
        let kind = match column.kind {
            ColumnType::Text => "TEXT",
            ColumnType::Integer => "INTEGER",
        };
        conn.execute_batch(&format!(
            "ALTER TABLE {} ADD COLUMN {} {kind}",
            table.name, column.name
        ))?;
    }
    Ok(())
}

/// The DDL of one read model table.
pub fn create_table(table: &Table) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let kind = match c.kind {
                ColumnType::Text => "TEXT",
                ColumnType::Integer => "INTEGER",
            };
            format!("{} {kind}", c.name)
        })
        .collect();
    let key = match table.sort_key {
        Some(sort) => format!("{}, {sort}", table.partition_key),
        None => table.partition_key.to_owned(),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({key}))",
        table.name,
        columns.join(", ")
    )
}

impl ReadStore for SqliteReadStore {
    type Tx = SqliteTx;

    async fn begin(&self) -> Result<SqliteTx, ReadStoreError> {
        let conn = self.conn.clone().lock_owned().await;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(storage)?;
        Ok(SqliteTx {
            conn,
            open: true,
            rows: foldhash::HashMap::default(),
            checkpoints: HashMap::new(),
        })
    }
}

/// A transaction that keeps the rows it touched in memory and writes the changed ones at
/// commit: a rebuild applies thousands of facts per transaction, and most of them touch the
/// same few rows (the event's page, its lists, the day's counts).
pub struct SqliteTx {
    conn: OwnedMutexGuard<Connection>,
    open: bool,
    /// Keyed by table and `Key::cache_key`. foldhash is several times faster than the
    /// default SipHash on these keys and, seeded per process, still not predictable to
    /// someone who chooses the invited emails.
    rows: foldhash::HashMap<(&'static str, String), Cached>,
    /// Per projection, per aggregate: the last sequence applied and whether this transaction
    /// moved it. Nested so a lookup needs no owned key.
    checkpoints: HashMap<String, HashMap<String, (usize, bool)>>,
}

/// A row as this transaction sees it (None: absent), typed, and whether the transaction
/// changed it. Rows stay typed until the commit writes them: converting on every read and
/// write was most of a rebuild's time.
struct Cached {
    table: Table,
    key: Key,
    model: Option<Box<dyn CachedModel>>,
    dirty: bool,
}

trait CachedModel: Send {
    fn bind(&self, table: &Table, statement: &mut rusqlite::Statement<'_>) -> Result<(), columns::BindError>;
    fn as_any(&self) -> &dyn Any;
}

impl<M: ReadModel> CachedModel for M {
    fn bind(&self, table: &Table, statement: &mut rusqlite::Statement<'_>) -> Result<(), columns::BindError> {
        columns::bind_columns(table, self, statement)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn typed<M: ReadModel>(model: &dyn CachedModel) -> M {
    model
        .as_any()
        .downcast_ref::<M>()
        .expect("a cached row has its table's type")
        .clone()
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// A JSON scalar as an SQL value.
fn sql(value: &Value) -> ToSqlOutput<'static> {
    ToSqlOutput::Owned(match value {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => n.as_i64().map_or_else(
            || SqlValue::Real(n.as_f64().unwrap_or_default()),
            SqlValue::Integer,
        ),
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    })
}

/// The four statements of each table, written once.
struct Statements {
    get: String,
    list: String,
    upsert: String,
    delete: String,
}

fn statements(table: &Table) -> &'static Statements {
    static ALL: std::sync::Mutex<BTreeMap<&'static str, &'static Statements>> =
        std::sync::Mutex::new(BTreeMap::new());
    let mut all = ALL.lock().expect("statements poisoned");
    all.entry(table.name).or_insert_with(|| {
        let columns = column_list(table);
        let placeholders: Vec<String> = (1..=table.columns.len()).map(|i| format!("?{i}")).collect();
        // Written once per table for the life of the process.
        Box::leak(Box::new(Statements {
            get: format!("SELECT {columns} FROM {} WHERE {}", table.name, key_clause(table)),
            list: format!(
                "SELECT {columns} FROM {} WHERE {} = ?1",
                table.name, table.partition_key
            ),
            upsert: format!(
                "INSERT OR REPLACE INTO {} ({columns}) VALUES ({})",
                table.name,
                placeholders.join(", ")
            ),
            delete: format!("DELETE FROM {} WHERE {}", table.name, key_clause(table)),
        }))
    })
}

fn key_clause(table: &Table) -> String {
    match table.sort_key {
        Some(sort) => format!("{} = ?1 AND {sort} = ?2", table.partition_key),
        None => format!("{} = ?1", table.partition_key),
    }
}

fn key_params(key: &Key) -> Vec<ToSqlOutput<'static>> {
    std::iter::once(&key.partition)
        .chain(key.sort.as_ref())
        .map(sql)
        .collect()
}

fn column_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_row(table: &Table, row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let mut out = Row::new();
    for (i, c) in table.columns.iter().enumerate() {
        let value = match c.kind {
            ColumnType::Text => row
                .get::<_, Option<String>>(i)?
                .map_or(Value::Null, Value::String),
            ColumnType::Integer => row.get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::from),
        };
        out.insert(c.name.to_owned(), value);
    }
    Ok(out)
}

impl SqliteTx {
    fn load<M: ReadModel>(&mut self, key: &Key) -> Result<Option<M>, ReadStoreError> {
        let table = M::TABLE;
        let cache = (table.name, key.cache_key());
        if let Some(cached) = self.rows.get(&cache) {
            return Ok(cached.model.as_deref().map(typed::<M>));
        }
        let sql_text = &statements(&table).get;
        let row = self
            .conn
            .prepare_cached(sql_text)
            .and_then(|mut stmt| {
                stmt.query_row(params_from_iter(key_params(key)), |r| read_row(&table, r))
                    .optional()
            })
            .map_err(storage)?;
        let model = row.map(decode::<M>).transpose()?;
        let boxed = model.clone().map(|m| Box::new(m) as Box<dyn CachedModel>);
        self.rows.insert(
            cache,
            Cached {
                table,
                key: key.clone(),
                model: boxed,
                dirty: false,
            },
        );
        Ok(model)
    }

    fn write<M: ReadModel>(&mut self, key: Key, model: Option<M>) {
        let model = model.map(|m| Box::new(m) as Box<dyn CachedModel>);
        self.rows.insert(
            (M::TABLE.name, key.cache_key()),
            Cached {
                table: M::TABLE,
                key,
                model,
                dirty: true,
            },
        );
    }

    fn remember_checkpoint(&mut self, projection: &str, aggregate_id: &str, state: (usize, bool)) {
        let aggregates = match self.checkpoints.get_mut(projection) {
            Some(aggregates) => aggregates,
            None => self.checkpoints.entry(projection.to_owned()).or_default(),
        };
        match aggregates.get_mut(aggregate_id) {
            Some(known) => *known = state,
            None => {
                aggregates.insert(aggregate_id.to_owned(), state);
            }
        }
    }

    fn flush(&mut self) -> Result<(), ReadStoreError> {
        let dirty: Vec<_> = self.rows.drain().filter(|(_, cached)| cached.dirty).collect();
        for (
            _,
            Cached {
                table, key, model, ..
            },
        ) in dirty
        {
            match model {
                Some(model) => {
                    let mut upsert = self
                        .conn
                        .prepare_cached(&statements(&table).upsert)
                        .map_err(storage)?;
                    model
                        .bind(&table, &mut upsert)
                        .map_err(|e| ReadStoreError::Storage(Box::new(e)))?;
                    upsert.raw_execute().map_err(storage)?;
                }
                None => {
                    self.conn
                        .prepare_cached(&statements(&table).delete)
                        .and_then(|mut s| s.execute(params_from_iter(key_params(&key))))
                        .map_err(storage)?;
                }
            }
        }
        let moved = self.checkpoints.drain().flat_map(|(projection, aggregates)| {
            aggregates
                .into_iter()
                .filter(|(_, (_, dirty))| *dirty)
                .map(move |(aggregate_id, (sequence, _))| (projection.clone(), aggregate_id, sequence))
        });
        for (projection, aggregate_id, sequence) in moved.collect::<Vec<_>>() {
            let sequence = i64::try_from(sequence).map_err(|e| ReadStoreError::Storage(Box::new(e)))?;
            self.conn
                .prepare_cached(
                    "INSERT INTO projection_checkpoints (projection, aggregate_id, last_sequence) VALUES (?1, ?2, ?3)
                     ON CONFLICT (projection, aggregate_id) DO UPDATE SET last_sequence = excluded.last_sequence",
                )
                .and_then(|mut s| s.execute(params![projection, aggregate_id, sequence]))
                .map_err(storage)?;
        }
        Ok(())
    }
}

impl ReadTx for SqliteTx {
    async fn get<M: ReadModel + Send>(&mut self, key: &Key) -> Result<Option<M>, ReadStoreError> {
        self.load::<M>(key)
    }

    async fn put<M: ReadModel>(&mut self, model: M) -> Result<(), ReadStoreError> {
        self.write(model.key(), Some(model));
        Ok(())
    }

    async fn delete<M: ReadModel>(&mut self, key: &Key) -> Result<(), ReadStoreError> {
        self.write::<M>(key.clone(), None);
        Ok(())
    }

    async fn list<M: ReadModel + Send>(&mut self, partition: &Value) -> Result<Vec<M>, ReadStoreError> {
        let table = M::TABLE;
        let stored = self
            .conn
            .prepare_cached(&statements(&table).list)
            .and_then(|mut stmt| {
                stmt.query_map([sql(partition)], |r| read_row(&table, r))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(storage)?;
        // Keyed by partition and sort key, so the map is in sort key order; what this
        // transaction changed wins over what is stored.
        let mut rows: BTreeMap<String, M> = BTreeMap::new();
        for row in stored {
            let key = table.key_of(&row).cache_key();
            rows.insert(key, decode(row)?);
        }
        for ((name, cache), cached) in &self.rows {
            if *name != table.name || cached.key.partition != *partition {
                continue;
            }
            match cached.model.as_deref() {
                Some(model) => rows.insert(cache.clone(), typed::<M>(model)),
                None => rows.remove(cache),
            };
        }
        Ok(rows.into_values().collect())
    }

    async fn checkpoint(&mut self, projection: &str, aggregate_id: &str) -> Result<usize, ReadStoreError> {
        if let Some((sequence, _)) = self.checkpoints.get(projection).and_then(|a| a.get(aggregate_id)) {
            return Ok(*sequence);
        }
        let found: Option<i64> = self
            .conn
            .prepare_cached("SELECT last_sequence FROM projection_checkpoints WHERE projection = ?1 AND aggregate_id = ?2")
            .and_then(|mut s| s.query_row(params![projection, aggregate_id], |r| r.get(0)).optional())
            .map_err(storage)?;
        let sequence = found.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
        self.remember_checkpoint(projection, aggregate_id, (sequence, false));
        Ok(sequence)
    }

    async fn set_checkpoint(
        &mut self,
        projection: &str,
        aggregate_id: &str,
        sequence: usize,
    ) -> Result<(), ReadStoreError> {
        self.remember_checkpoint(projection, aggregate_id, (sequence, true));
        Ok(())
    }

    async fn commit(mut self) -> Result<(), ReadStoreError> {
        self.flush()?;
        self.conn.execute_batch("COMMIT").map_err(storage)?;
        self.open = false;
        Ok(())
    }
}

/// Reads for the APIs: a small pool of read-only connections beside the builder's writer.
/// WAL lets them read the last committed state while a builder writes.
#[derive(Clone)]
pub struct SqliteQueries {
    path: Arc<std::path::PathBuf>,
    idle: Arc<std::sync::Mutex<Vec<Connection>>>,
}

/// Connections kept open between requests; more are opened under load and closed after.
const IDLE_READERS: usize = 8;

impl SqliteQueries {
    /// The file must exist (the platform opens its `SqliteReadStore` first, which creates it).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadStoreError> {
        let queries = Self {
            path: Arc::new(path.as_ref().to_owned()),
            idle: Arc::new(std::sync::Mutex::new(Vec::new())),
        };
        let probe = queries.connect()?;
        queries.give_back(probe);
        Ok(queries)
    }

    fn connect(&self) -> Result<Connection, ReadStoreError> {
        let conn = Connection::open_with_flags(
            self.path.as_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(storage)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(storage)?;
        Ok(conn)
    }

    fn take(&self) -> Result<Connection, ReadStoreError> {
        let idle = self.idle.lock().expect("reader pool poisoned").pop();
        idle.map_or_else(|| self.connect(), Ok)
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().expect("reader pool poisoned");
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
    }

    /// Runs `read` on a pooled connection off the async threads.
    async fn with_reader<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, ReadStoreError> + Send + 'static,
    ) -> Result<T, ReadStoreError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = this.take()?;
            let result = read(&conn);
            // A connection left inside a transaction would serve an old snapshot from then
            // on (and hold the WAL back): it is closed instead of pooled.
            if conn.is_autocommit() {
                this.give_back(conn);
            }
            result
        })
        .await
        .map_err(|e| ReadStoreError::Storage(Box::new(e)))?
    }
}

impl super::ReadQueries for SqliteQueries {
    async fn get_many<M: ReadModel + Send>(&self, keys: &[Key]) -> Result<Vec<M>, ReadStoreError> {
        let keys = keys.to_vec();
        let rows = self
            .with_reader(move |conn| {
                let table = M::TABLE;
                let mut rows = Vec::with_capacity(keys.len());
                // One read transaction: the rows come from one state of the file.
                conn.execute_batch("BEGIN").map_err(storage)?;
                let read = (|| {
                    let mut statement = conn.prepare_cached(&statements(&table).get)?;
                    for key in &keys {
                        if let Some(row) = statement
                            .query_row(params_from_iter(key_params(key)), |r| read_row(&table, r))
                            .optional()?
                        {
                            rows.push(row);
                        }
                    }
                    Ok(())
                })();
                let end = conn.execute_batch(if read.is_ok() { "COMMIT" } else { "ROLLBACK" });
                read.map_err(storage)?;
                end.map_err(storage)?;
                Ok(rows)
            })
            .await?;
        rows.into_iter().map(decode).collect()
    }

    async fn get<M: ReadModel + Send>(&self, key: &Key) -> Result<Option<M>, ReadStoreError> {
        let params = key_params(key);
        let row = self
            .with_reader(move |conn| {
                let table = M::TABLE;
                conn.prepare_cached(&statements(&table).get)
                    .and_then(|mut s| {
                        s.query_row(params_from_iter(params), |r| read_row(&table, r))
                            .optional()
                    })
                    .map_err(storage)
            })
            .await?;
        row.map(decode).transpose()
    }

    async fn page<M: ReadModel + Send>(
        &self,
        partition: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<super::Page<M>, ReadStoreError> {
        let table = M::TABLE;
        let Some(sort) = table.sort_key else {
            let row = self.get::<M>(&Key::new(partition)).await?;
            return Ok(super::Page {
                items: row.into_iter().collect(),
                last_sort_key: None,
            });
        };
        let partition = partition.to_owned();
        let after = after.map(str::to_owned);
        // One row more than asked tells whether another page follows.
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = self
            .with_reader(move |conn| {
                // Two statements, not `?2 IS NULL OR sort > ?2`: with the OR, SQLite walks the
                // partition from its start to the cursor, so a page cost what came before it.
                let select = format!(
                    "SELECT {} FROM {} WHERE {} = ?1",
                    column_list(&table),
                    table.name,
                    table.partition_key,
                );
                let read = |statement: String, values: &[&dyn rusqlite::ToSql]| {
                    conn.prepare_cached(&statement).and_then(|mut s| {
                        s.query_map(values, |r| read_row(&table, r))?
                            .collect::<Result<Vec<_>, _>>()
                    })
                };
                match &after {
                    Some(after) => read(
                        format!("{select} AND {sort} > ?2 ORDER BY {sort} LIMIT ?3"),
                        params![partition, after, fetch],
                    ),
                    None => read(
                        format!("{select} ORDER BY {sort} LIMIT ?2"),
                        params![partition, fetch],
                    ),
                }
                .map_err(storage)
            })
            .await?;
        let more = rows.len() > limit;
        let mut items = Vec::with_capacity(limit.min(rows.len()));
        let mut last_sort_key = None;
        for row in rows.into_iter().take(limit) {
            last_sort_key = row.get(sort).map(scalar_text);
            items.push(decode(row)?);
        }
        Ok(super::Page {
            items,
            last_sort_key: if more { last_sort_key } else { None },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_models::{
        EventByStart, EventPage, EventStatus, GuestListEntry, InvitationByEmail, OrganizerEvent,
        PaymentStatus, RsvpStatus,
    };
    use crate::store::ReadQueries;

    #[tokio::test]
    async fn a_file_of_an_earlier_version_gains_the_new_columns_and_keeps_its_rows() {
        use crate::email::outbox::OutboxMessage;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mail.sqlite3");
        {
            // The outbox as it was before claims had their own column.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE outbox (recipient TEXT, cause TEXT, id TEXT, event_id TEXT, kind TEXT,
                     subject TEXT, eml TEXT, created_at TEXT, sent_at TEXT, PRIMARY KEY (recipient, cause));
                 INSERT INTO outbox VALUES ('a@example.com', 'invitation:1', 'm1', 'ev', 'invitation',
                     'Hi', 'eml', '2030-01-01T00:00:00Z', '2030-01-01T00:00:01Z');",
            )
            .unwrap();
        }
        let store = SqliteReadStore::open_with(&path, &[OutboxMessage::TABLE]).unwrap();
        let mut tx = store.begin().await.unwrap();
        let kept = tx
            .get::<OutboxMessage>(&Key::with_sort("a@example.com", "invitation:1"))
            .await
            .unwrap()
            .expect("the row survives");
        assert_eq!(kept.sent_at.as_deref(), Some("2030-01-01T00:00:01Z"));
        assert_eq!(kept.claimed_at, None);
        drop(tx);
        // Opening again finds nothing to add.
        SqliteReadStore::open_with(&path, &[OutboxMessage::TABLE]).unwrap();
    }

    /// The statuses are columns of plain text, as analysts query them; a value that is none of
    /// a status's is an error when read, never taken for another.
    #[tokio::test]
    async fn statuses_are_stored_as_their_text_and_an_unknown_one_does_not_decode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("read_models.sqlite3");
        let store = SqliteReadStore::open(&path).unwrap();
        let page = EventPage {
            event_id: "ev".into(),
            status: EventStatus::Cancelled,
            ..EventPage::default()
        };
        let guest = GuestListEntry {
            event_id: "ev".into(),
            invitation_id: "inv".into(),
            rsvp: RsvpStatus::SeatHeld,
            payment: PaymentStatus::Due,
            ..GuestListEntry::default()
        };
        let mut tx = store.begin().await.unwrap();
        tx.put(page.clone()).await.unwrap();
        tx.put(guest.clone()).await.unwrap();
        tx.put(InvitationByEmail {
            email: "a@b.c".into(),
            event_id: "ev".into(),
            event_status: EventStatus::Published,
            rsvp: RsvpStatus::Waitlisted,
            ..InvitationByEmail::default()
        })
        .await
        .unwrap();
        tx.put(OrganizerEvent {
            organizer: "o".into(),
            event_id: "ev".into(),
            status: EventStatus::Draft,
            ..OrganizerEvent::default()
        })
        .await
        .unwrap();
        tx.put(EventByStart {
            start_day: "d".into(),
            start_key: "k".into(),
            status: EventStatus::Deleted,
            ..EventByStart::default()
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let raw = Connection::open(&path).unwrap();
        let text = |sql: &str| -> String { raw.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(text("SELECT status FROM event_pages"), "cancelled");
        assert_eq!(text("SELECT rsvp FROM guest_list"), "seat_held");
        assert_eq!(text("SELECT payment FROM guest_list"), "due");
        assert_eq!(text("SELECT event_status FROM invitations_by_email"), "published");
        assert_eq!(text("SELECT rsvp FROM invitations_by_email"), "waitlisted");
        assert_eq!(text("SELECT status FROM organizer_events"), "draft");
        assert_eq!(text("SELECT status FROM events_by_start"), "deleted");
        // What the README's queries ask: a TEXT value equal to the word (not JSON, not a blob).
        assert_eq!(
            text("SELECT typeof(status) || ' ' || (status = 'cancelled') FROM event_pages"),
            "text 1"
        );

        let queries = SqliteQueries::open(&path).unwrap();
        let key = Key::with_sort("ev", "inv");
        assert_eq!(queries.get::<GuestListEntry>(&key).await.unwrap(), Some(guest));
        assert_eq!(
            queries.get::<EventPage>(&Key::new("ev")).await.unwrap(),
            Some(page)
        );

        raw.execute("UPDATE guest_list SET payment = 'refunded'", [])
            .unwrap();
        let read = queries.get::<GuestListEntry>(&key).await;
        assert!(
            matches!(
                read,
                Err(ReadStoreError::Decode {
                    table: "guest_list",
                    ..
                })
            ),
            "{read:?}"
        );
        raw.execute("UPDATE event_pages SET status = 'Published'", [])
            .unwrap();
        let mut tx = store.begin().await.unwrap();
        let read = tx.get::<EventPage>(&Key::new("ev")).await;
        assert!(
            matches!(
                read,
                Err(ReadStoreError::Decode {
                    table: "event_pages",
                    ..
                })
            ),
            "{read:?}"
        );
    }
}
