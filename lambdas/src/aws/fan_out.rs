//! The stream fan-out Lambda: DynamoDB Streams records of the event table in, each fact sent
//! to every projection builder's SQS FIFO queue (group = aggregate, deduplication = aggregate
//! and sequence) and recorded in the ordered fact index.
//!
//! Needs `FunctionResponseTypes: ReportBatchItemFailures` on the event source mapping: it
//! reports the first record it could not pass on, and Lambda retries the batch from there.
//! Records before it are done; records after it come again, which is harmless, as every step
//! is idempotent (FIFO deduplication, builder checkpoints, index puts of the same key).

use std::future::Future;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_dynamo::AttributeValue;
use slsplay_aggregates::history::RecordedFact;
use slsplay_projections::queue::Outgoing;

/// Where facts go: one FIFO queue per builder.
pub trait FactQueues: Send + Sync {
    /// Sends `messages` in order; an error means some or all were not accepted.
    fn send(&self, queue: &str, messages: &[Outgoing]) -> impl Future<Output = Result<(), String>> + Send;
}

/// The ordered index of appended facts (see `fact_index`).
pub trait FactIndexWriter: Send + Sync {
    fn record(&self, facts: &[RecordedFact]) -> impl Future<Output = Result<(), String>> + Send;
}

/// A fact from a stream record's new image; `None` for anything but an insert (facts are never
/// changed or deleted, so there is nothing else to pass on).
pub fn decode(record: &EventRecord) -> Result<Option<RecordedFact>, String> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let image = record.change.new_image.inner();
    let text = |name: &str| match image.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(format!("no text attribute {name}")),
    };
    let json = |name: &str| match image.get(name) {
        Some(AttributeValue::B(bytes)) => {
            serde_json::from_slice(bytes).map_err(|e| format!("{name} is not JSON: {e}"))
        }
        _ => Err(format!("no binary attribute {name}")),
    };
    let sequence = match image.get("AggregateIdSequence") {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| format!("bad sequence {n}"))?,
        _ => return Err("no AggregateIdSequence".into()),
    };
    Ok(Some(RecordedFact {
        position: None,
        aggregate_type: text("AggregateType")?,
        aggregate_id: text("AggregateId")?,
        sequence,
        event_type: text("EventType")?,
        event_version: text("EventVersion")?,
        payload: json("Payload")?,
        metadata: json("Metadata")?,
    }))
}

/// The message that carries one fact to a builder.
pub fn message(fact: &RecordedFact) -> Result<Outgoing, serde_json::Error> {
    Ok(Outgoing {
        group_id: fact.aggregate_id.clone(),
        dedup_id: format!("{}:{}:{}", fact.aggregate_type, fact.aggregate_id, fact.sequence),
        body: serde_json::to_string(fact)?,
    })
}

fn failure(record: &EventRecord) -> DynamoDbEventResponse {
    let mut failed = DynamoDbBatchItemFailure::default();
    failed.item_identifier = record.change.sequence_number.clone();
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures.push(failed);
    response
}

/// Passes every record of the batch on, in order, and reports the first one that failed.
pub async fn fan_out(
    event: &Event,
    queue_names: &[&str],
    queues: &impl FactQueues,
    index: &impl FactIndexWriter,
) -> DynamoDbEventResponse {
    for record in &event.records {
        let fact = match decode(record) {
            Ok(Some(fact)) => fact,
            Ok(None) => continue,
            Err(error) => {
                // Poison in the event table is a bug: stop here, so it is retried, alarmed
                // (iterator age) and, after the mapping's retry limit, sent to its on-failure
                // destination, instead of silently skipped.
                tracing::error!(error, record = record.event_id, "undecodable stream record");
                return failure(record);
            }
        };
        let sent = async {
            let message = message(&fact).map_err(|e| e.to_string())?;
            for queue in queue_names {
                queues.send(queue, std::slice::from_ref(&message)).await?;
            }
            index.record(std::slice::from_ref(&fact)).await
        };
        if let Err(error) = sent.await {
            tracing::warn!(
                error,
                record = record.event_id,
                "fan-out failed; the batch is retried from here"
            );
            return failure(record);
        }
    }
    DynamoDbEventResponse::default()
}
