//! Where read models live: a port with a transaction per fact, so a row change and the
//! builder's checkpoint are committed together or not at all.

#[cfg(feature = "dynamo")]
pub mod dynamo;
pub mod sqlite;

use std::future::Future;

use serde_json::Value;

use crate::schema::{Key, ReadModel, Row};

#[derive(Debug, thiserror::Error)]
pub enum ReadStoreError {
    /// Handling: a storage failure; the message is retried by the queue.
    #[error("read model store: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Handling: a stored row no longer matches its struct; a bug or a missed migration.
    #[error("row of `{table}` cannot be read: {source}")]
    Decode {
        table: &'static str,
        source: serde_json::Error,
    },
}

pub trait ReadStore: Send + Sync {
    type Tx: ReadTx + Send;

    fn begin(&self) -> impl Future<Output = Result<Self::Tx, ReadStoreError>> + Send;
}

/// One transaction. Dropped without `commit`, it changes nothing.
pub trait ReadTx {
    fn get<M: ReadModel + Send>(
        &mut self,
        key: &Key,
    ) -> impl Future<Output = Result<Option<M>, ReadStoreError>> + Send;
    /// Takes the row: a builder makes it to be stored, and the store keeps it until commit.
    fn put<M: ReadModel>(&mut self, model: M) -> impl Future<Output = Result<(), ReadStoreError>> + Send;
    fn delete<M: ReadModel>(&mut self, key: &Key) -> impl Future<Output = Result<(), ReadStoreError>> + Send;
    /// Every row of one partition, in sort key order.
    fn list<M: ReadModel + Send>(
        &mut self,
        partition: &Value,
    ) -> impl Future<Output = Result<Vec<M>, ReadStoreError>> + Send;
    /// The sequence of the last fact of `aggregate_id` that `projection` applied (0: none).
    fn checkpoint(
        &mut self,
        projection: &str,
        aggregate_id: &str,
    ) -> impl Future<Output = Result<usize, ReadStoreError>> + Send;
    fn set_checkpoint(
        &mut self,
        projection: &str,
        aggregate_id: &str,
        sequence: usize,
    ) -> impl Future<Output = Result<(), ReadStoreError>> + Send;
    fn commit(self) -> impl Future<Output = Result<(), ReadStoreError>> + Send;
}

/// One page of a partition, in sort key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<M> {
    pub items: Vec<M>,
    /// The sort key of the last item when more may follow: pass it as `after` for the next page.
    pub last_sort_key: Option<String>,
}

/// What the APIs read: single rows and pages of a partition, outside any builder transaction,
/// so that reads never wait for a builder and never block one.
pub trait ReadQueries: Send + Sync {
    fn get<M: ReadModel + Send>(
        &self,
        key: &Key,
    ) -> impl Future<Output = Result<Option<M>, ReadStoreError>> + Send;

    /// Several rows at once (DataLoader batches); absent rows are left out.
    fn get_many<M: ReadModel + Send>(
        &self,
        keys: &[Key],
    ) -> impl Future<Output = Result<Vec<M>, ReadStoreError>> + Send;

    /// Up to `limit` rows of `partition` whose sort key is greater than `after`.
    fn page<M: ReadModel + Send>(
        &self,
        partition: &str,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<M>, ReadStoreError>> + Send;
}

/// The read side an API runs on, chosen at start-up: SQLite locally, DynamoDB on AWS.
#[derive(Clone)]
pub enum Queries {
    Sqlite(sqlite::SqliteQueries),
    #[cfg(feature = "dynamo")]
    Dynamo(dynamo::DynamoReadStore),
}

impl ReadQueries for Queries {
    async fn get<M: ReadModel + Send>(&self, key: &Key) -> Result<Option<M>, ReadStoreError> {
        match self {
            Self::Sqlite(q) => q.get(key).await,
            #[cfg(feature = "dynamo")]
            Self::Dynamo(q) => ReadQueries::get(q, key).await,
        }
    }

    async fn get_many<M: ReadModel + Send>(&self, keys: &[Key]) -> Result<Vec<M>, ReadStoreError> {
        match self {
            Self::Sqlite(q) => q.get_many(keys).await,
            #[cfg(feature = "dynamo")]
            Self::Dynamo(q) => q.get_many(keys).await,
        }
    }

    async fn page<M: ReadModel + Send>(
        &self,
        partition: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<M>, ReadStoreError> {
        match self {
            Self::Sqlite(q) => q.page(partition, after, limit).await,
            #[cfg(feature = "dynamo")]
            Self::Dynamo(q) => q.page(partition, after, limit).await,
        }
    }
}

/// A stored row as its model; a row the model cannot read names its table.
fn decode<M: ReadModel>(row: Row) -> Result<M, ReadStoreError> {
    M::from_row(row).map_err(|source| ReadStoreError::Decode {
        table: M::TABLE.name,
        source,
    })
}
