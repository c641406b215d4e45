//! Idempotency keys on AWS: one DynamoDB item per (caller, key), claimed with a conditional
//! write, expired by the table's TTL on `expires_at`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

use slsplay_api::idempotency::{
    IN_FLIGHT_SECONDS, IdempotencyError, IdempotencyKeys, KEEP_SECONDS, Pending, Recorded, StoredAnswer,
    decode_headers, encode_headers,
};

pub struct DynamoIdempotency {
    client: Client,
    table: String,
}

fn id(scope: &str, key: &str) -> AttributeValue {
    AttributeValue::S(format!("{scope}:{key}"))
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl DynamoIdempotency {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the table (for tests and a fresh account; the CDK stack owns the real one).
    pub async fn create_table(&self) -> Result<(), IdempotencyError> {
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(IdempotencyError::store)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(IdempotencyError::store)?,
            )
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(IdempotencyError::store(e)),
        }
    }

    async fn read(&self, scope: &str, key: &str) -> Result<Option<Recorded>, IdempotencyError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", id(scope, key))
            .consistent_read(true)
            .send()
            .await
            .map_err(IdempotencyError::store)?;
        let Some(item) = found.item() else {
            return Ok(None);
        };
        let corrupt = |reason: &str| IdempotencyError::Corrupt {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(s)) => Ok(s.clone()),
            _ => Err(corrupt(&format!("no text {name}"))),
        };
        let fingerprint = text("fingerprint")?;
        let status = match item.get("status") {
            None => return Ok(Some(Recorded::InFlight { fingerprint })),
            Some(AttributeValue::N(s)) => s
                .parse::<u16>()
                .map_err(|_| corrupt("status is not a status code"))?,
            Some(_) => return Err(corrupt("status is not a number")),
        };
        let body = match item.get("body") {
            Some(AttributeValue::B(b)) => b.as_ref().to_vec(),
            _ => return Err(corrupt("an answer without a body")),
        };
        Ok(Some(Recorded::Done {
            fingerprint,
            answer: StoredAnswer {
                status,
                headers: decode_headers(key, &text("headers")?)?,
                body,
            },
        }))
    }
}

impl IdempotencyKeys for DynamoIdempotency {
    fn begin<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        fingerprint: &'a str,
        now: i64,
    ) -> Pending<'a, Option<Recorded>> {
        Box::pin(async move {
            // Claimed when no item is there, or the one there is past keeping, or a first
            // request that never finished.
            let claimed = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("id", id(scope, key))
                .item("fingerprint", AttributeValue::S(fingerprint.to_owned()))
                .item("created_at", n(now))
                .item("expires_at", n(now + KEEP_SECONDS))
                .condition_expression(
                    "attribute_not_exists(id) OR created_at < :kept OR (attribute_not_exists(#status) AND created_at < :stuck)",
                )
                .expression_attribute_names("#status", "status")
                .set_expression_attribute_values(Some(HashMap::from([
                    (":kept".to_owned(), n(now - KEEP_SECONDS)),
                    (":stuck".to_owned(), n(now - IN_FLIGHT_SECONDS)),
                ])))
                .send()
                .await;
            match claimed {
                Ok(_) => Ok(None),
                Err(SdkError::ServiceError(e))
                    if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
                {
                    self.read(scope, key).await
                }
                Err(e) => Err(IdempotencyError::store(e)),
            }
        })
    }

    fn finish<'a>(&'a self, scope: &'a str, key: &'a str, answer: &'a StoredAnswer) -> Pending<'a, ()> {
        Box::pin(async move {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("id", id(scope, key))
                .update_expression("SET #status = :status, headers = :headers, body = :body")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", n(i64::from(answer.status)))
                .expression_attribute_values(":headers", AttributeValue::S(encode_headers(&answer.headers)))
                .expression_attribute_values(":body", AttributeValue::B(Blob::new(answer.body.clone())))
                .send()
                .await
                .map(|_| ())
                .map_err(IdempotencyError::store)
        })
    }

    fn abandon<'a>(&'a self, scope: &'a str, key: &'a str) -> Pending<'a, ()> {
        Box::pin(async move {
            let deleted = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("id", id(scope, key))
                .condition_expression("attribute_not_exists(#status)")
                .expression_attribute_names("#status", "status")
                .send()
                .await;
            match deleted {
                Ok(_) => Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    Ok(())
                }
                Err(e) => Err(IdempotencyError::store(e)),
            }
        })
    }
}
