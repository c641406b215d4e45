//! Read models in one SQLite file, one real table per read model, so analysts can open the
//! file and query it with plain SQL.

use std::path::Path;
use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, Value as SqlValue};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde_json::Value;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{ReadStore, ReadStoreError, ReadTx};
use crate::read_models::TABLES;
use crate::schema::{ColumnType, Key, ReadModel, Row, Table};

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
    /// Opens (or creates) the read model file with every table.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadStoreError> {
        let conn = Connection::open(path).map_err(storage)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(storage)?;
        // Read models can always be rebuilt from the facts: no fsync per commit.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(storage)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(storage)?;
        conn.execute_batch(CHECKPOINTS).map_err(storage)?;
        for table in TABLES {
            conn.execute_batch(&create_table(table)).map_err(storage)?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }
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
        Ok(SqliteTx { conn, open: true })
    }
}

pub struct SqliteTx {
    conn: OwnedMutexGuard<Connection>,
    open: bool,
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

fn decode<M: ReadModel>(row: Row) -> Result<M, ReadStoreError> {
    M::from_row(row).map_err(|source| ReadStoreError::Decode {
        table: M::TABLE.name,
        source,
    })
}

impl ReadTx for SqliteTx {
    async fn get<M: ReadModel + Send>(&mut self, key: &Key) -> Result<Option<M>, ReadStoreError> {
        let table = M::TABLE;
        let sql_text = format!(
            "SELECT {} FROM {} WHERE {}",
            column_list(&table),
            table.name,
            key_clause(&table)
        );
        let row = self
            .conn
            .prepare_cached(&sql_text)
            .and_then(|mut stmt| {
                stmt.query_row(params_from_iter(key_params(key)), |r| read_row(&table, r))
                    .optional()
            })
            .map_err(storage)?;
        row.map(decode).transpose()
    }

    async fn put<M: ReadModel + Sync>(&mut self, model: &M) -> Result<(), ReadStoreError> {
        let table = M::TABLE;
        let row = model.to_row();
        let placeholders: Vec<String> = (1..=table.columns.len()).map(|i| format!("?{i}")).collect();
        let sql_text = format!(
            "INSERT OR REPLACE INTO {} ({}) VALUES ({})",
            table.name,
            column_list(&table),
            placeholders.join(", ")
        );
        let values: Vec<_> = table
            .columns
            .iter()
            .map(|c| sql(row.get(c.name).unwrap_or(&Value::Null)))
            .collect();
        self.conn
            .prepare_cached(&sql_text)
            .and_then(|mut s| s.execute(params_from_iter(values)))
            .map_err(storage)?;
        Ok(())
    }

    async fn delete<M: ReadModel>(&mut self, key: &Key) -> Result<(), ReadStoreError> {
        let table = M::TABLE;
        let sql_text = format!("DELETE FROM {} WHERE {}", table.name, key_clause(&table));
        self.conn
            .prepare_cached(&sql_text)
            .and_then(|mut s| s.execute(params_from_iter(key_params(key))))
            .map_err(storage)?;
        Ok(())
    }

    async fn list<M: ReadModel + Send>(&mut self, partition: &Value) -> Result<Vec<M>, ReadStoreError> {
        let table = M::TABLE;
        let order = table.sort_key.unwrap_or(table.partition_key);
        let sql_text = format!(
            "SELECT {} FROM {} WHERE {} = ?1 ORDER BY {order}",
            column_list(&table),
            table.name,
            table.partition_key
        );
        let rows = self
            .conn
            .prepare_cached(&sql_text)
            .and_then(|mut stmt| {
                stmt.query_map([sql(partition)], |r| read_row(&table, r))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(storage)?;
        rows.into_iter().map(decode).collect()
    }

    async fn checkpoint(&mut self, projection: &str, aggregate_id: &str) -> Result<usize, ReadStoreError> {
        let found: Option<i64> = self
            .conn
            .prepare_cached("SELECT last_sequence FROM projection_checkpoints WHERE projection = ?1 AND aggregate_id = ?2")
            .and_then(|mut s| s.query_row(params![projection, aggregate_id], |r| r.get(0)).optional())
            .map_err(storage)?;
        Ok(found.and_then(|n| usize::try_from(n).ok()).unwrap_or(0))
    }

    async fn set_checkpoint(
        &mut self,
        projection: &str,
        aggregate_id: &str,
        sequence: usize,
    ) -> Result<(), ReadStoreError> {
        let sequence = i64::try_from(sequence).map_err(|e| ReadStoreError::Storage(Box::new(e)))?;
        self.conn
            .prepare_cached(
                "INSERT INTO projection_checkpoints (projection, aggregate_id, last_sequence) VALUES (?1, ?2, ?3)
                 ON CONFLICT (projection, aggregate_id) DO UPDATE SET last_sequence = excluded.last_sequence",
            )
            .and_then(|mut s| s.execute(params![projection, aggregate_id, sequence]))
            .map_err(storage)?;
        Ok(())
    }

    async fn commit(mut self) -> Result<(), ReadStoreError> {
        self.conn.execute_batch("COMMIT").map_err(storage)?;
        self.open = false;
        Ok(())
    }
}
