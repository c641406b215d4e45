//! Read models on DynamoDB: one table per read model (same attribute names and keys as the
//! SQLite tables), and a state table with each builder's checkpoint per event.
//!
//! A fact can change more rows than one DynamoDB transaction takes (100 items; an event with
//! many invitees is renamed, 100 guests are invited at once), so a commit is not one
//! transaction. It is made safe by an intent: before writing any row, the state item records
//! the rows' values as of the checkpoint ("pre-images"). If the writer dies halfway, the next
//! attempt reads the pre-images instead of the half-written rows, so it computes exactly the
//! same changes, and it restores any row the failed attempt touched but it does not. The
//! checkpoint moves (and the intent goes) only after every row is written, with a condition
//! on the checkpoint it started from.
//!
//! Limits: one event per transaction (the live path; rebuilds on AWS go fact by fact), and an
//! intent must fit in one item (about 1,500 changed rows per fact).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, KeySchemaElement, KeyType, PutRequest,
    ScalarAttributeType, WriteRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ReadStore, ReadStoreError, ReadTx, decode};
use crate::schema::{ColumnType, Key, ReadModel, Row, Table};

const STATE: &str = "ProjectionState";
/// DynamoDB items are at most 400 KB; leave room for the rest of the state item.
const MAX_INTENT_BYTES: usize = 350_000;

fn storage(e: impl std::error::Error + Send + Sync + 'static) -> ReadStoreError {
    ReadStoreError::Storage(Box::new(e))
}

fn failed(message: String) -> ReadStoreError {
    ReadStoreError::Storage(message.into())
}

#[derive(Clone)]
pub struct DynamoReadStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    prefix: String,
    tables: Vec<Table>,
    /// Test hook: the next commit stops after writing its rows, as if the process died.
    crash_after_rows: AtomicBool,
}

impl DynamoReadStore {
    /// `tables` are the read models this store keeps, in tables named `{prefix}{name}`.
    pub fn new(client: Client, prefix: impl Into<String>, tables: &[Table]) -> Self {
        let inner = Inner {
            client,
            prefix: prefix.into(),
            tables: tables.to_vec(),
            crash_after_rows: AtomicBool::new(false),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    fn name(&self, table: &str) -> String {
        format!("{}{table}", self.inner.prefix)
    }

    fn table(&self, name: &str) -> Result<Table, ReadStoreError> {
        self.inner
            .tables
            .iter()
            .find(|t| t.name == name)
            .copied()
            .ok_or_else(|| failed(format!("unknown table {name}")))
    }

    /// Creates every table (on-demand capacity) unless it exists: for tests and a fresh account;
    /// the CDK stack owns the production tables.
    pub async fn create_tables(&self) -> Result<(), ReadStoreError> {
        let mut specs: Vec<(String, &str, Option<&str>)> = self
            .inner
            .tables
            .iter()
            .map(|t| (self.name(t.name), t.partition_key, t.sort_key))
            .collect();
        specs.push((self.name(STATE), "Id", None));
        for (name, partition, sort) in specs {
            let attribute = |n: &str| {
                AttributeDefinition::builder()
                    .attribute_name(n)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
            };
            let key = |n: &str, t| KeySchemaElement::builder().attribute_name(n).key_type(t).build();
            let mut request = self
                .inner
                .client
                .create_table()
                .table_name(&name)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(attribute(partition).map_err(storage)?)
                .key_schema(key(partition, KeyType::Hash).map_err(storage)?);
            if let Some(sort) = sort {
                request = request
                    .attribute_definitions(attribute(sort).map_err(storage)?)
                    .key_schema(key(sort, KeyType::Range).map_err(storage)?);
            }
            match request.send().await {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_in_use_exception()) => {}
                Err(e) => return Err(storage(e)),
            }
        }
        Ok(())
    }

    /// Makes the next commit stop right after its row writes (tests of crash recovery).
    #[doc(hidden)]
    pub fn crash_next_commit_after_rows(&self) {
        self.inner.crash_after_rows.store(true, Ordering::SeqCst);
    }
}

fn scalar(value: &Value) -> Option<AttributeValue> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(AttributeValue::S(s.clone())),
        Value::Number(n) => Some(AttributeValue::N(n.to_string())),
        Value::Bool(b) => Some(AttributeValue::N(i64::from(*b).to_string())),
        other => Some(AttributeValue::S(other.to_string())),
    }
}

fn key_item(table: &Table, key: &Key) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::new();
    if let Some(v) = scalar(&key.partition) {
        item.insert(table.partition_key.to_owned(), v);
    }
    if let (Some(sort), Some(value)) = (table.sort_key, key.sort.as_ref().and_then(scalar)) {
        item.insert(sort.to_owned(), value);
    }
    item
}

fn to_item(table: &Table, row: &Row) -> HashMap<String, AttributeValue> {
    table
        .columns
        .iter()
        .filter_map(|c| Some((c.name.to_owned(), scalar(row.get(c.name)?)?)))
        .collect()
}

fn to_row(table: &Table, item: &HashMap<String, AttributeValue>) -> Row {
    table
        .columns
        .iter()
        .map(|c| {
            let value = match (c.kind, item.get(c.name)) {
                (ColumnType::Text, Some(AttributeValue::S(s))) => Value::String(s.clone()),
                (ColumnType::Integer, Some(AttributeValue::N(n))) => {
                    n.parse::<i64>().map_or(Value::Null, Value::from)
                }
                _ => Value::Null,
            };
            (c.name.to_owned(), value)
        })
        .collect()
}

/// A row's value as of the checkpoint, kept in the intent.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Image {
    table: String,
    partition: Value,
    sort: Option<Value>,
    row: Option<Row>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Intent {
    images: Vec<Image>,
}

fn cache_key(table: &str, key: &Key) -> (String, String) {
    (table.to_owned(), key.cache_key())
}

struct Cached {
    table: Table,
    key: Key,
    row: Option<Row>,
    /// The value as of the checkpoint, once known.
    original: Option<Option<Row>>,
    dirty: bool,
}

struct Checkpoint {
    id: String,
    last: usize,
    exists: bool,
    intent: Intent,
}

pub struct DynamoTx {
    store: DynamoReadStore,
    rows: HashMap<(String, String), Cached>,
    checkpoint: Option<Checkpoint>,
    target: Option<usize>,
}

impl ReadStore for DynamoReadStore {
    type Tx = DynamoTx;

    async fn begin(&self) -> Result<DynamoTx, ReadStoreError> {
        Ok(DynamoTx {
            store: self.clone(),
            rows: HashMap::new(),
            checkpoint: None,
            target: None,
        })
    }
}

impl DynamoTx {
    fn client(&self) -> &Client {
        &self.store.inner.client
    }

    /// The row as of the checkpoint: from the intent if a failed attempt may have overwritten
    /// it, else as stored.
    async fn original(&self, table: &Table, key: &Key) -> Result<Option<Row>, ReadStoreError> {
        let wanted = cache_key(table.name, key);
        if let Some(image) = self.checkpoint.as_ref().and_then(|c| {
            c.intent.images.iter().find(|i| {
                cache_key(
                    &i.table,
                    &Key {
                        partition: i.partition.clone(),
                        sort: i.sort.clone(),
                    },
                ) == wanted
            })
        }) {
            return Ok(image.row.clone());
        }
        let found = self
            .client()
            .get_item()
            .table_name(self.store.name(table.name))
            .set_key(Some(key_item(table, key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(storage)?;
        Ok(found.item().map(|item| to_row(table, item)))
    }

    async fn load(&mut self, table: Table, key: &Key) -> Result<Option<Row>, ReadStoreError> {
        let id = cache_key(table.name, key);
        if let Some(cached) = self.rows.get(&id) {
            return Ok(cached.row.clone());
        }
        let row = self.original(&table, key).await?;
        self.rows.insert(
            id,
            Cached {
                table,
                key: key.clone(),
                row: row.clone(),
                original: Some(row.clone()),
                dirty: false,
            },
        );
        Ok(row)
    }

    fn write(&mut self, table: Table, key: Key, row: Option<Row>) {
        let id = cache_key(table.name, &key);
        let original = self.rows.remove(&id).and_then(|c| c.original);
        self.rows.insert(
            id,
            Cached {
                table,
                key,
                row,
                original,
                dirty: true,
            },
        );
    }

    async fn batch_write(&self, writes: Vec<(String, WriteRequest)>) -> Result<(), ReadStoreError> {
        for chunk in writes.chunks(25) {
            let mut pending: HashMap<String, Vec<WriteRequest>> = HashMap::new();
            for (table, request) in chunk {
                pending.entry(table.clone()).or_default().push(request.clone());
            }
            for _ in 0..10 {
                let written = self
                    .client()
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(storage)?;
                match written.unprocessed_items {
                    Some(left) if !left.is_empty() => pending = left,
                    _ => {
                        pending = HashMap::new();
                        break;
                    }
                }
            }
            if !pending.is_empty() {
                return Err(failed("DynamoDB kept rows unprocessed (throttled); retry".into()));
            }
        }
        Ok(())
    }

    async fn save_checkpoint(
        &self,
        id: &str,
        from: &Checkpoint,
        last: usize,
        intent: Option<&Intent>,
    ) -> Result<(), ReadStoreError> {
        let mut put = self
            .client()
            .put_item()
            .table_name(self.store.name(STATE))
            .item("Id", AttributeValue::S(id.to_owned()))
            .item("LastSequence", AttributeValue::N(last.to_string()));
        if let Some(intent) = intent {
            let json = serde_json::to_string(intent).map_err(storage)?;
            if json.len() > MAX_INTENT_BYTES {
                return Err(failed(format!(
                    "a fact changes too many rows for one intent ({} bytes)",
                    json.len()
                )));
            }
            put = put.item("Intent", AttributeValue::S(json));
        }
        put = if from.exists {
            put.condition_expression("LastSequence = :from")
                .expression_attribute_values(":from", AttributeValue::N(from.last.to_string()))
        } else {
            put.condition_expression("attribute_not_exists(Id)")
        };
        put.send().await.map_err(storage)?;
        Ok(())
    }
}

impl ReadTx for DynamoTx {
    async fn get<M: ReadModel + Send>(&mut self, key: &Key) -> Result<Option<M>, ReadStoreError> {
        self.load(M::TABLE, key).await?.map(decode).transpose()
    }

    async fn put<M: ReadModel>(&mut self, model: M) -> Result<(), ReadStoreError> {
        self.write(M::TABLE, model.key(), Some(model.to_row()));
        Ok(())
    }

    async fn delete<M: ReadModel>(&mut self, key: &Key) -> Result<(), ReadStoreError> {
        self.write(M::TABLE, key.clone(), None);
        Ok(())
    }

    async fn list<M: ReadModel + Send>(&mut self, partition: &Value) -> Result<Vec<M>, ReadStoreError> {
        let table = M::TABLE;
        let mut rows: std::collections::BTreeMap<String, Row> = std::collections::BTreeMap::new();
        let mut start = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.store.name(table.name))
                .consistent_read(true)
                .key_condition_expression("#p = :p")
                .expression_attribute_names("#p", table.partition_key)
                .set_expression_attribute_values(Some(HashMap::from([(
                    ":p".to_owned(),
                    scalar(partition).unwrap_or(AttributeValue::Null(true)),
                )])))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(storage)?;
            for item in page.items() {
                let row = to_row(&table, item);
                rows.insert(cache_key(table.name, &table.key_of(&row)).1, row);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        // Rows a failed attempt may have changed count as they were; this transaction's own
        // changes count as made.
        if let Some(checkpoint) = &self.checkpoint {
            for image in checkpoint
                .intent
                .images
                .iter()
                .filter(|i| i.table == table.name && i.partition == *partition)
            {
                let key = Key {
                    partition: image.partition.clone(),
                    sort: image.sort.clone(),
                };
                let id = cache_key(table.name, &key).1;
                match &image.row {
                    Some(row) => rows.insert(id, row.clone()),
                    None => rows.remove(&id),
                };
            }
        }
        for ((name, id), cached) in &self.rows {
            if name != table.name || cached.key.partition != *partition {
                continue;
            }
            match &cached.row {
                Some(row) => rows.insert(id.clone(), row.clone()),
                None => rows.remove(id),
            };
        }
        rows.into_values().map(decode).collect()
    }

    async fn checkpoint(&mut self, projection: &str, aggregate_id: &str) -> Result<usize, ReadStoreError> {
        let id = format!("{projection}#{aggregate_id}");
        if let Some(c) = self.checkpoint.as_ref().filter(|c| c.id == id) {
            return Ok(c.last);
        }
        if self.checkpoint.is_some() {
            return Err(failed(
                "a DynamoDB read model transaction covers one event".into(),
            ));
        }
        let found = self
            .client()
            .get_item()
            .table_name(self.store.name(STATE))
            .key("Id", AttributeValue::S(id.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(storage)?;
        let item = found.item();
        let last = item
            .and_then(|i| i.get("LastSequence"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let intent = match item.and_then(|i| i.get("Intent")).and_then(|v| v.as_s().ok()) {
            Some(json) => serde_json::from_str(json).map_err(storage)?,
            None => Intent::default(),
        };
        self.checkpoint = Some(Checkpoint {
            id,
            last,
            exists: item.is_some(),
            intent,
        });
        Ok(last)
    }

    async fn set_checkpoint(
        &mut self,
        projection: &str,
        aggregate_id: &str,
        sequence: usize,
    ) -> Result<(), ReadStoreError> {
        self.checkpoint(projection, aggregate_id).await?;
        self.target = Some(sequence);
        Ok(())
    }

    async fn commit(mut self) -> Result<(), ReadStoreError> {
        let Some(target) = self.target else {
            if self.rows.values().any(|c| c.dirty) {
                return Err(failed("rows changed without a checkpoint to move".into()));
            }
            return Ok(());
        };
        let Some(checkpoint) = self.checkpoint.take() else {
            return Err(failed("a checkpoint was set without being read".into()));
        };
        self.checkpoint = Some(Checkpoint {
            id: checkpoint.id.clone(),
            last: checkpoint.last,
            exists: checkpoint.exists,
            intent: checkpoint.intent.clone(),
        });
        // Pre-images of every row this attempt changes, added to those of earlier attempts.
        let mut intent = checkpoint.intent.clone();
        let keys: Vec<(String, String)> = self
            .rows
            .iter()
            .filter(|(_, c)| c.dirty)
            .map(|(k, _)| k.clone())
            .collect();
        for id in &keys {
            let cached = &self.rows[id];
            let known = intent.images.iter().any(|i| {
                cache_key(
                    &i.table,
                    &Key {
                        partition: i.partition.clone(),
                        sort: i.sort.clone(),
                    },
                ) == *id
            });
            if known {
                continue;
            }
            let original = match &cached.original {
                Some(row) => row.clone(),
                None => self.original(&cached.table, &cached.key).await?,
            };
            let (table, key) = (cached.table.name.to_owned(), cached.key.clone());
            intent.images.push(Image {
                table,
                partition: key.partition,
                sort: key.sort,
                row: original,
            });
        }
        self.save_checkpoint(&checkpoint.id, &checkpoint, checkpoint.last, Some(&intent))
            .await?;
        let moved = Checkpoint {
            id: checkpoint.id.clone(),
            last: checkpoint.last,
            exists: true,
            intent: Intent::default(),
        };

        // The new rows, and the pre-images back for rows only an earlier attempt touched.
        let mut writes = Vec::new();
        let mut request = |table: &Table, key: &Key, row: Option<&Row>| {
            let name = self.store.name(table.name);
            let write = match row {
                Some(row) => WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(to_item(table, row)))
                            .build()
                            .map_err(storage)?,
                    )
                    .build(),
                None => WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(key_item(table, key)))
                            .build()
                            .map_err(storage)?,
                    )
                    .build(),
            };
            writes.push((name, write));
            Ok::<_, ReadStoreError>(())
        };
        for id in &keys {
            let cached = &self.rows[id];
            request(&cached.table, &cached.key, cached.row.as_ref())?;
        }
        for image in &checkpoint.intent.images {
            let key = Key {
                partition: image.partition.clone(),
                sort: image.sort.clone(),
            };
            if !keys.contains(&cache_key(&image.table, &key)) {
                let table = self.store.table(&image.table)?;
                request(&table, &key, image.row.as_ref())?;
            }
        }
        self.batch_write(writes).await?;
        if self.store.inner.crash_after_rows.swap(false, Ordering::SeqCst) {
            return Err(failed("crashed after writing rows (test hook)".into()));
        }
        self.save_checkpoint(&checkpoint.id, &moved, target, None).await
    }
}

/// The APIs' reads. Single rows are read consistently, so that a client waiting for its own
/// write sees it once it is there; pages are eventually consistent (half the read capacity),
/// as the read models themselves trail the facts.
impl super::ReadQueries for DynamoReadStore {
    async fn get_many<M: ReadModel + Send>(&self, keys: &[Key]) -> Result<Vec<M>, ReadStoreError> {
        let table = M::TABLE;
        let name = self.name(table.name);
        let mut found = Vec::with_capacity(keys.len());
        // BatchGetItem takes 100 keys; what it leaves unprocessed under load is asked again.
        for chunk in keys.chunks(100) {
            let mut pending: Vec<HashMap<String, AttributeValue>> =
                chunk.iter().map(|k| key_item(&table, k)).collect();
            let mut pause = std::time::Duration::from_millis(20);
            while !pending.is_empty() {
                let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .build()
                    .map_err(storage)?;
                let answer = self
                    .inner
                    .client
                    .batch_get_item()
                    .request_items(&name, request)
                    .send()
                    .await
                    .map_err(storage)?;
                for item in answer
                    .responses()
                    .and_then(|r| r.get(&name))
                    .into_iter()
                    .flatten()
                {
                    found.push(decode::<M>(to_row(&table, item))?);
                }
                if let Some(left) = answer.unprocessed_keys().and_then(|u| u.get(&name)) {
                    pending = left.keys().to_vec();
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(1));
                }
            }
        }
        Ok(found)
    }

    async fn get<M: ReadModel + Send>(&self, key: &Key) -> Result<Option<M>, ReadStoreError> {
        let table = M::TABLE;
        let found = self
            .inner
            .client
            .get_item()
            .table_name(self.name(table.name))
            .set_key(Some(key_item(&table, key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(storage)?;
        found
            .item()
            .map(|item| decode::<M>(to_row(&table, item)))
            .transpose()
    }

    async fn page<M: ReadModel + Send>(
        &self,
        partition: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<super::Page<M>, ReadStoreError> {
        let table = M::TABLE;
        let Some(sort) = table.sort_key else {
            let row = super::ReadQueries::get::<M>(self, &Key::new(partition)).await?;
            return Ok(super::Page {
                items: row.into_iter().collect(),
                last_sort_key: None,
            });
        };
        let start = after.map(|after| {
            HashMap::from([
                (
                    table.partition_key.to_owned(),
                    AttributeValue::S(partition.to_owned()),
                ),
                (sort.to_owned(), AttributeValue::S(after.to_owned())),
            ])
        });
        let limit = limit.clamp(1, 1000);
        // One row more than asked tells whether another page follows (as on SQLite).
        let mut rows: Vec<(Option<String>, M)> = Vec::new();
        let mut start = start;
        // A Query page can stop short of Limit at 1 MB; keep reading until the page is full.
        loop {
            let wanted = i32::try_from(limit + 1 - rows.len()).unwrap_or(1);
            let page = self
                .inner
                .client
                .query()
                .table_name(self.name(table.name))
                .key_condition_expression("#p = :p")
                .expression_attribute_names("#p", table.partition_key)
                .expression_attribute_values(":p", AttributeValue::S(partition.to_owned()))
                .set_exclusive_start_key(start.take())
                .limit(wanted)
                .send()
                .await
                .map_err(storage)?;
            for item in page.items() {
                let sort_key = match item.get(sort) {
                    Some(AttributeValue::S(s)) => Some(s.clone()),
                    _ => None,
                };
                rows.push((sort_key, decode::<M>(to_row(&table, item))?));
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() && rows.len() <= limit => start = Some(k),
                _ => break,
            }
        }
        let more = rows.len() > limit;
        rows.truncate(limit);
        let last_sort_key = if more {
            rows.last().and_then(|(k, _)| k.clone())
        } else {
            None
        };
        Ok(super::Page {
            items: rows.into_iter().map(|(_, m)| m).collect(),
            last_sort_key,
        })
    }
}
