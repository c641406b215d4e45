//! DynamoDB through dynamo-es. The CDK stack owns the production tables; `create_tables`
//! makes the same shape for tests and for a fresh account without CDK.
//!
//! dynamo-es's loads stop at DynamoDB's 1 MB page and its catch-up load reads eventually
//! consistent data, so `DynamoRepository` loads with consistent, paginated queries itself and
//! hands everything else (commits, snapshots, replays) to dynamo-es.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType,
};
use cqrs_es::Aggregate;
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use dynamo_es::DynamoEventRepository;
use serde_json::Value;

/// The names of the event table and the snapshot table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoTables {
    pub events: String,
    pub snapshots: String,
}

impl DynamoTables {
    /// `{prefix}Events` and `{prefix}Snapshots`.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            events: format!("{prefix}Events"),
            snapshots: format!("{prefix}Snapshots"),
        }
    }
}

impl Default for DynamoTables {
    fn default() -> Self {
        Self::with_prefix("")
    }
}

pub fn dynamo_repository(client: Client, tables: &DynamoTables) -> DynamoRepository {
    DynamoRepository {
        inner: DynamoEventRepository::new(client.clone()).with_tables(&tables.events, &tables.snapshots),
        client,
        events_table: tables.events.clone(),
    }
}

/// The event repository on DynamoDB.
pub struct DynamoRepository {
    inner: DynamoEventRepository,
    client: Client,
    events_table: String,
}

impl DynamoRepository {
    /// Every fact of one aggregate after `after_sequence`, page by page, read consistently so
    /// that a load right after a commit sees it.
    async fn facts_after(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let mut facts = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.events_table)
                .consistent_read(true)
                .key_condition_expression("#id = :id AND #seq > :after")
                .expression_attribute_names("#id", "AggregateTypeAndId")
                .expression_attribute_names("#seq", "AggregateIdSequence")
                .expression_attribute_values(
                    ":id",
                    AttributeValue::S(format!("{aggregate_type}:{aggregate_id}")),
                )
                .expression_attribute_values(":after", AttributeValue::N(after_sequence.to_string()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| PersistenceError::ConnectionError(Box::new(e)))?;
            for item in page.items() {
                facts.push(decode(item)?);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(facts),
            }
        }
    }
}

/// dynamo-es reads only `ConditionalCheckFailed` as a conflict. DynamoDB also cancels a
/// transaction with `TransactionConflict` when another transaction touches the same item at
/// the same moment; nothing was written either way, so both are conflicts to retry.
fn conflict_if_retryable(error: PersistenceError) -> PersistenceError {
    let PersistenceError::UnknownError(source) = &error else {
        return error;
    };
    let Some(SdkError::ServiceError(service)) = source.downcast_ref::<SdkError<TransactWriteItemsError>>()
    else {
        return error;
    };
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err() else {
        return error;
    };
    if cancelled
        .cancellation_reasons()
        .iter()
        .any(|r| r.code() == Some("TransactionConflict"))
    {
        PersistenceError::OptimisticLockError
    } else {
        error
    }
}

/// A stored fact from its item in the event table (as dynamo-es writes it).
pub fn decode(item: &HashMap<String, AttributeValue>) -> Result<SerializedEvent, PersistenceError> {
    let missing = |name: &str| {
        PersistenceError::DeserializationError(format!("event item without a valid `{name}`").into())
    };
    let string = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| missing(name))
    };
    let json = |name: &str| -> Result<Value, PersistenceError> {
        let blob = item
            .get(name)
            .and_then(|v| v.as_b().ok())
            .ok_or_else(|| missing(name))?;
        Ok(serde_json::from_slice(blob.as_ref())?)
    };
    let sequence = item
        .get("AggregateIdSequence")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| missing("AggregateIdSequence"))?;
    Ok(SerializedEvent::new(
        string("AggregateId")?,
        sequence,
        string("AggregateType")?,
        string("EventType")?,
        string("EventVersion")?,
        json("Payload")?,
        json("Metadata")?,
    ))
}

impl PersistedEventRepository for DynamoRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.facts_after(A::TYPE, aggregate_id, 0).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.facts_after(A::TYPE, aggregate_id, last_sequence).await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        self.inner.get_snapshot::<A>(aggregate_id).await
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        self.inner
            .persist::<A>(events, snapshot_update)
            .await
            .map_err(conflict_if_retryable)
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        self.inner.stream_events::<A>(aggregate_id).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        self.inner.stream_all_events::<A>().await
    }
}

/// Creates both tables if they do not exist. The event table streams new images: that stream
/// feeds every projection (dynamo-es's sample template enables none).
pub async fn create_tables(
    client: &Client,
    tables: &DynamoTables,
) -> Result<(), Box<SdkError<CreateTableError>>> {
    let pk = "AggregateTypeAndId";
    let events = client
        .create_table()
        .table_name(&tables.events)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(pk, ScalarAttributeType::S))
        .attribute_definitions(attribute("AggregateIdSequence", ScalarAttributeType::N))
        .key_schema(key(pk, KeyType::Hash))
        .key_schema(key("AggregateIdSequence", KeyType::Range))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .expect("stream_enabled is set"),
        )
        .send()
        .await;
    ignore_existing(events)?;
    let snapshots = client
        .create_table()
        .table_name(&tables.snapshots)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(pk, ScalarAttributeType::S))
        .key_schema(key(pk, KeyType::Hash))
        .send()
        .await;
    ignore_existing(snapshots)
}

fn ignore_existing<T>(
    result: Result<T, SdkError<CreateTableError>>,
) -> Result<(), Box<SdkError<CreateTableError>>> {
    match result {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(e)) if matches!(e.err(), CreateTableError::ResourceInUseException(_)) => {
            Ok(())
        }
        Err(e) => Err(Box::new(e)),
    }
}

fn attribute(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .expect("name and type are set")
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("name and type are set")
}
