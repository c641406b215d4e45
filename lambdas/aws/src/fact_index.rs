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

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use slsplay_aggregates::history::RecordedFact;

use super::fan_out::FactIndexWriter;

/// BatchWriteItem takes at most 25 requests.
const BATCH: usize = 25;

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

/// (bucket, key) of a fact in the index.
pub fn index_key(fact: &RecordedFact) -> (String, String) {
    let recorded_at = fact
        .metadata
        .get("recorded_at")
        .and_then(|v| v.as_str())
        .unwrap_or("0000-00-00T00:00:00Z");
    let bucket = recorded_at.get(..13).unwrap_or(recorded_at).to_owned();
    let key = format!(
        "{recorded_at}#{}:{}#{:010}",
        fact.aggregate_type, fact.aggregate_id, fact.sequence
    );
    (bucket, key)
}

/// The partition that lists the buckets that hold anything, so a rebuild need not probe every
/// hour since the beginning.
const BUCKETS: &str = "#buckets";

fn put(bucket: String, key: String, extra: Vec<(&str, AttributeValue)>) -> Result<WriteRequest, String> {
    let mut put = PutRequest::builder()
        .item("Bucket", AttributeValue::S(bucket))
        .item("Key", AttributeValue::S(key));
    for (name, value) in extra {
        put = put.item(name, value);
    }
    Ok(WriteRequest::builder()
        .put_request(put.build().map_err(|e| e.to_string())?)
        .build())
}

impl DynamoFactIndex {
    async fn write(&self, requests: Vec<WriteRequest>) -> Result<(), String> {
        for chunk in requests.chunks(BATCH) {
            let written = self
                .client
                .batch_write_item()
                .request_items(&self.table, chunk.to_vec())
                .send()
                .await
                .map_err(|e| format!("BatchWriteItem to {}: {e}", self.table))?;
            if written.unprocessed_items().is_some_and(|u| !u.is_empty()) {
                return Err("DynamoDB left index entries unprocessed (throttled)".into());
            }
        }
        Ok(())
    }

    /// Every (bucket, key) item of one partition, in key order.
    async fn partition(&self, bucket: &str) -> Result<Vec<HashMap<String, AttributeValue>>, String> {
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
                .map_err(|e| format!("Query {}: {e}", self.table))?;
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// The keys of every indexed fact, in order: (aggregate type and id, sequence).
    pub async fn keys_in_order(&self) -> Result<Vec<(String, usize)>, String> {
        let text = |item: &HashMap<String, AttributeValue>, name: &str| {
            item.get(name).and_then(|v| v.as_s().ok()).cloned()
        };
        let mut keys = Vec::new();
        for marker in self.partition(BUCKETS).await? {
            let bucket = text(&marker, "Key").ok_or("a bucket marker without a key")?;
            for item in self.partition(&bucket).await? {
                let id = text(&item, "AggregateTypeAndId").ok_or("an index entry without its fact")?;
                let sequence = item
                    .get("AggregateIdSequence")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .ok_or("an index entry without a sequence")?;
                keys.push((id, sequence));
            }
        }
        Ok(keys)
    }
}

impl FactIndexWriter for DynamoFactIndex {
    async fn record(&self, facts: &[RecordedFact]) -> Result<(), String> {
        // The bucket markers go first: an entry in a bucket nobody lists would be lost to
        // rebuilds, a listed bucket that stays empty costs nothing.
        let mut buckets: Vec<String> = facts.iter().map(|f| index_key(f).0).collect();
        buckets.sort();
        buckets.dedup();
        self.write(
            buckets
                .into_iter()
                .map(|b| put(BUCKETS.to_owned(), b, Vec::new()))
                .collect::<Result<_, _>>()?,
        )
        .await?;
        let entries = facts
            .iter()
            .map(|fact| {
                let (bucket, key) = index_key(fact);
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
