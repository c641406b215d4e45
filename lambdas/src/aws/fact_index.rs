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

impl FactIndexWriter for DynamoFactIndex {
    async fn record(&self, facts: &[RecordedFact]) -> Result<(), String> {
        for chunk in facts.chunks(BATCH) {
            let requests = chunk
                .iter()
                .map(|fact| {
                    let (bucket, key) = index_key(fact);
                    let put = PutRequest::builder()
                        .item("Bucket", AttributeValue::S(bucket))
                        .item("Key", AttributeValue::S(key))
                        .item(
                            "AggregateTypeAndId",
                            AttributeValue::S(format!("{}:{}", fact.aggregate_type, fact.aggregate_id)),
                        )
                        .item(
                            "AggregateIdSequence",
                            AttributeValue::N(fact.sequence.to_string()),
                        )
                        .build()
                        .map_err(|e| e.to_string())?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, String>>()?;
            let written = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(|e| format!("BatchWriteItem to {}: {e}", self.table))?;
            if written.unprocessed_items().is_some_and(|u| !u.is_empty()) {
                return Err("DynamoDB left index entries unprocessed (throttled)".into());
            }
        }
        Ok(())
    }
}
