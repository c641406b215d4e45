//! The ordered index of appended facts: what lets a rebuild on AWS read the whole history in
//! order after the stream's 24 hours, without scanning the event table (dynamo-es's replay is
//! a full Scan). Equinox's indexer does the same.
//!
//! Table `FactIndex`: partition key `Bucket` (S, the UTC hour the fact was recorded,
//! `2030-05-15T09`), sort key `Key` (S, `recorded_at#aggregate_type:aggregate_id#sequence`
//! with a zero-padded sequence). A rebuild pages through the buckets hour by hour and each
//! bucket's keys in order, then reads the facts themselves by primary key. Facts of one
//! aggregate keep their order (their times never decrease and the sequence breaks ties);
//! facts of different aggregates need no common order.

use std::collections::HashMap;
use std::num::ParseIntError;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{DateTime, Utc};
use slsplay_aggregates::history::RecordedFact;

use super::fan_out::FactIndexWriter;

/// BatchWriteItem takes at most 25 requests.
const BATCH: usize = 25;

/// Why the fact index could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FactIndexError {
    /// Handling: poison (the command service records the time of every fact); the fan-out
    /// retries the batch until its mapping sends it to the on-failure destination.
    #[error("fact {fact} has no recorded_at in its metadata")]
    NoRecordedAt { fact: String },
    /// Handling: as `NoRecordedAt`.
    #[error("fact {fact} was recorded at {value:?}, which is no RFC 3339 time")]
    BadRecordedAt {
        fact: String,
        value: String,
        #[source]
        source: chrono::ParseError,
    },
    /// Handling: a bug (an entry DynamoDB cannot take); not retryable.
    #[error("building an index entry")]
    Entry(#[source] BuildError),
    /// Handling: DynamoDB failed or is unreachable; retry.
    #[error("BatchWriteItem to {table}")]
    Write {
        table: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Handling: throttled; retry.
    #[error("DynamoDB left index entries unprocessed in {table} (throttled)")]
    Unprocessed { table: String },
    /// Handling: DynamoDB failed or is unreachable; retry.
    #[error("Query {table}")]
    Query {
        table: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Handling: the index holds an item it never writes; a person must look (a rebuild from
    /// it would miss facts).
    #[error("{what} in {table} (bucket {bucket})")]
    Corrupt {
        table: String,
        bucket: String,
        what: &'static str,
    },
    /// Handling: as `Corrupt`.
    #[error("an index entry in {table} (bucket {bucket}) with sequence {value:?}, not a number")]
    BadSequence {
        table: String,
        bucket: String,
        value: String,
        #[source]
        source: ParseIntError,
    },
}

pub struct DynamoFactIndex {
    client: Client,
    table: String,
}

impl DynamoFactIndex {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

/// (bucket, key) of a fact in the index: the bucket is the UTC hour of its `recorded_at`,
/// which every fact has (a fact without one could not be placed in order).
pub fn index_key(fact: &RecordedFact) -> Result<(String, String), FactIndexError> {
    let name = || format!("{}:{}#{}", fact.aggregate_type, fact.aggregate_id, fact.sequence);
    let recorded_at = fact
        .metadata
        .get("recorded_at")
        .and_then(|v| v.as_str())
        .ok_or_else(|| FactIndexError::NoRecordedAt { fact: name() })?;
    let at = DateTime::parse_from_rfc3339(recorded_at).map_err(|source| FactIndexError::BadRecordedAt {
        fact: name(),
        value: recorded_at.to_owned(),
        source,
    })?;
    let bucket = at.with_timezone(&Utc).format("%Y-%m-%dT%H").to_string();
    let key = format!(
        "{recorded_at}#{}:{}#{:010}",
        fact.aggregate_type, fact.aggregate_id, fact.sequence
    );
    Ok((bucket, key))
}

/// The partition that lists the buckets that hold anything, so a rebuild need not probe every
/// hour since the beginning.
const BUCKETS: &str = "#buckets";

fn put(
    bucket: String,
    key: String,
    extra: Vec<(&str, AttributeValue)>,
) -> Result<WriteRequest, FactIndexError> {
    let mut put = PutRequest::builder()
        .item("Bucket", AttributeValue::S(bucket))
        .item("Key", AttributeValue::S(key));
    for (name, value) in extra {
        put = put.item(name, value);
    }
    Ok(WriteRequest::builder()
        .put_request(put.build().map_err(FactIndexError::Entry)?)
        .build())
}

impl DynamoFactIndex {
    async fn write(&self, requests: Vec<WriteRequest>) -> Result<(), FactIndexError> {
        for chunk in requests.chunks(BATCH) {
            let written = self
                .client
                .batch_write_item()
                .request_items(&self.table, chunk.to_vec())
                .send()
                .await
                .map_err(|e| FactIndexError::Write {
                    table: self.table.clone(),
                    source: e.into(),
                })?;
            if written.unprocessed_items().is_some_and(|u| !u.is_empty()) {
                return Err(FactIndexError::Unprocessed {
                    table: self.table.clone(),
                });
            }
        }
        Ok(())
    }

    /// Every (bucket, key) item of one partition, in key order.
    async fn partition(&self, bucket: &str) -> Result<Vec<HashMap<String, AttributeValue>>, FactIndexError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("Bucket = :b")
                .expression_attribute_values(":b", AttributeValue::S(bucket.to_owned()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| FactIndexError::Query {
                    table: self.table.clone(),
                    source: e.into(),
                })?;
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// The keys of every indexed fact, in order: (aggregate type and id, sequence).
    pub async fn keys_in_order(&self) -> Result<Vec<(String, usize)>, FactIndexError> {
        let corrupt = |bucket: &str, what| FactIndexError::Corrupt {
            table: self.table.clone(),
            bucket: bucket.to_owned(),
            what,
        };
        let mut keys = Vec::new();
        for marker in self.partition(BUCKETS).await? {
            let bucket = match marker.get("Key") {
                Some(AttributeValue::S(bucket)) => bucket.clone(),
                _ => return Err(corrupt(BUCKETS, "a bucket marker without a key")),
            };
            for item in self.partition(&bucket).await? {
                let id = match item.get("AggregateTypeAndId") {
                    Some(AttributeValue::S(id)) => id.clone(),
                    _ => return Err(corrupt(&bucket, "an index entry without its fact")),
                };
                let sequence = match item.get("AggregateIdSequence") {
                    Some(AttributeValue::N(n)) => {
                        n.parse().map_err(|source| FactIndexError::BadSequence {
                            table: self.table.clone(),
                            bucket: bucket.clone(),
                            value: n.clone(),
                            source,
                        })?
                    }
                    _ => return Err(corrupt(&bucket, "an index entry without a sequence")),
                };
                keys.push((id, sequence));
            }
        }
        Ok(keys)
    }
}

impl FactIndexWriter for DynamoFactIndex {
    type Error = FactIndexError;

    async fn record(&self, facts: &[RecordedFact]) -> Result<(), FactIndexError> {
        let keys = facts.iter().map(index_key).collect::<Result<Vec<_>, _>>()?;
        // The bucket markers go first: an entry in a bucket nobody lists would be lost to
        // rebuilds, a listed bucket that stays empty costs nothing.
        let mut buckets: Vec<&String> = keys.iter().map(|(bucket, _)| bucket).collect();
        buckets.sort();
        buckets.dedup();
        self.write(
            buckets
                .into_iter()
                .map(|b| put(BUCKETS.to_owned(), b.clone(), Vec::new()))
                .collect::<Result<_, _>>()?,
        )
        .await?;
        let entries = facts
            .iter()
            .zip(keys)
            .map(|(fact, (bucket, key))| {
                let id = AttributeValue::S(format!("{}:{}", fact.aggregate_type, fact.aggregate_id));
                let sequence = AttributeValue::N(fact.sequence.to_string());
                put(
                    bucket,
                    key,
                    vec![("AggregateTypeAndId", id), ("AggregateIdSequence", sequence)],
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.write(entries).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fact(metadata: serde_json::Value) -> RecordedFact {
        RecordedFact {
            position: None,
            aggregate_type: "virtual_event".into(),
            aggregate_id: "ev".into(),
            sequence: 3,
            event_type: "VirtualEventPublished".into(),
            event_version: "1.0.0".into(),
            payload: json!({}),
            metadata,
        }
    }

    #[test]
    fn a_fact_is_filed_under_the_utc_hour_it_was_recorded() {
        let (bucket, key) =
            index_key(&fact(json!({ "recorded_at": "2030-05-15T09:59:59.5+00:00" }))).unwrap();
        assert_eq!(bucket, "2030-05-15T09");
        assert_eq!(key, "2030-05-15T09:59:59.5+00:00#virtual_event:ev#0000000003");
    }

    #[test]
    fn a_fact_without_a_recorded_time_is_refused_not_filed_in_year_zero() {
        assert!(matches!(
            index_key(&fact(json!({}))),
            Err(FactIndexError::NoRecordedAt { fact }) if fact == "virtual_event:ev#3"
        ));
        assert!(matches!(
            index_key(&fact(json!({ "recorded_at": "yesterday" }))),
            Err(FactIndexError::BadRecordedAt { value, .. }) if value == "yesterday"
        ));
    }
}
