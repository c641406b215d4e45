//! Where read models live: a port with a transaction per fact, so a row change and the
//! builder's checkpoint are committed together or not at all.

pub mod dynamo;
pub mod sqlite;

use std::future::Future;

use serde_json::Value;

use crate::schema::{Key, ReadModel};

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
    fn put<M: ReadModel + Sync>(
        &mut self,
        model: &M,
    ) -> impl Future<Output = Result<(), ReadStoreError>> + Send;
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
