//! Read model tables, described once: the SQLite adapter creates them from this, the DynamoDB
//! adapter maps the same rows to items, and the README documents them from the same names.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Integer,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
}

pub const fn text(name: &'static str) -> Column {
    Column {
        name,
        kind: ColumnType::Text,
    }
}

pub const fn integer(name: &'static str) -> Column {
    Column {
        name,
        kind: ColumnType::Integer,
    }
}

/// A read model table: a partition key, an optional sort key, and flat scalar columns.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: Option<&'static str>,
    /// Every column, keys included, in the order analysts see them.
    pub columns: &'static [Column],
}

impl Table {
    pub fn key_of(&self, row: &Row) -> Key {
        let part = |name: &str| row.get(name).cloned().unwrap_or(Value::Null);
        Key {
            partition: part(self.partition_key),
            sort: self.sort_key.map(part),
        }
    }
}

/// A row as stored: column name to a scalar JSON value (string, integer or null).
pub type Row = Map<String, Value>;

/// The primary key of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub partition: Value,
    pub sort: Option<Value>,
}

impl Key {
    pub fn new(partition: impl Into<Value>) -> Self {
        Self {
            partition: partition.into(),
            sort: None,
        }
    }

    pub fn with_sort(partition: impl Into<Value>, sort: impl Into<Value>) -> Self {
        Self {
            partition: partition.into(),
            sort: Some(sort.into()),
        }
    }

    /// The key as one string, for the stores' in-memory maps: partition and sort key joined by
    /// a separator no key contains, so a partition's rows sort by their sort key.
    pub(crate) fn cache_key(&self) -> String {
        let mut k = String::with_capacity(64);
        push_scalar(&mut k, &self.partition);
        if let Some(sort) = &self.sort {
            k.push('\u{1f}');
            push_scalar(&mut k, sort);
        }
        k
    }
}

/// Appends a key value as `scalar_text` writes it, without a String of its own: a rebuild
/// makes a cache key for every row it reads or writes.
fn push_scalar(out: &mut String, value: &Value) {
    match value {
        Value::String(s) => out.push_str(s),
        other => {
            use std::fmt::Write;
            let _ = write!(out, "{other}");
        }
    }
}

/// A key value as text: strings as they are, numbers in decimal.
pub(crate) fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A typed row of one table. Its fields are the table's columns.
pub trait ReadModel: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    const TABLE: Table;

    /// This row's primary key (`TABLE.key_of(&self.to_row())`, without building the row).
    fn key(&self) -> Key;

    fn to_row(&self) -> Row {
        match serde_json::to_value(self) {
            Ok(Value::Object(row)) => row,
            _ => unreachable!("read models serialize to flat objects"),
        }
    }

    fn from_row(row: Row) -> Result<Self, serde_json::Error> {
        serde_json::from_value(Value::Object(row))
    }
}
