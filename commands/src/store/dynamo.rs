//! DynamoDB through dynamo-es. The CDK stack owns the production tables; `create_tables`
//! makes the same shape for tests and for a fresh account without CDK.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification,
    StreamViewType,
};
use dynamo_es::DynamoEventRepository;

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

pub fn dynamo_repository(client: Client, tables: &DynamoTables) -> DynamoEventRepository {
    DynamoEventRepository::new(client).with_tables(&tables.events, &tables.snapshots)
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
