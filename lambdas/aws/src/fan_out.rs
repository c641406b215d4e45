//! The stream fan-out Lambda: DynamoDB Streams records of the event table in, each fact sent
//! to every projection builder's SQS FIFO queue (group = aggregate, deduplication = aggregate
//! and sequence) and recorded in the ordered fact index.
//!
//! Needs `FunctionResponseTypes: ReportBatchItemFailures` on the event source mapping: it
//! reports the first record it could not pass on, and Lambda retries the batch from there.
//! Records before it are done; records after it come again, which is harmless, as every step
//! is idempotent (FIFO deduplication, builder checkpoints, index puts of the same key).

use std::future::Future;
use std::num::ParseIntError;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use serde_dynamo::AttributeValue;
use slsplay_aggregates::history::RecordedFact;
use slsplay_api::problem::ErrorChain;
use slsplay_projections::queue::Outgoing;

/// Where facts go: one FIFO queue per builder.
pub trait FactQueues: Send + Sync {
    /// Why a queue did not take a message.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Sends `messages` in order, in batches of up to 10. On failure, the index of the first
    /// message not accepted: every message before it was.
    fn send(
        &self,
        queue: &str,
        messages: &[Outgoing],
    ) -> impl Future<Output = Result<(), NotAccepted<Self::Error>>> + Send;
}

/// A send that stopped part-way through its messages.
///
/// Handling: every message before `first_refused` was accepted; from it on, none is known to
/// be. The fan-out retries the stream batch from the record of that message.
#[derive(Debug, thiserror::Error)]
#[error("messages from #{first_refused} on were not accepted")]
pub struct NotAccepted<E: std::error::Error + 'static> {
    pub first_refused: usize,
    #[source]
    pub cause: E,
}

/// The ordered index of appended facts (see `fact_index`).
pub trait FactIndexWriter: Send + Sync {
    /// Why facts could not be indexed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Indexes every one of `facts`, or fails (some may be indexed: writing one twice is
    /// harmless).
    fn record(&self, facts: &[RecordedFact]) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Why a stream record of the event table is not a fact.
///
/// Handling: every variant is a bug (poison in the event table, or a fact that cannot be
/// written as a message): the fan-out stops at the record, which is retried, alarmed (iterator
/// age) and, after the mapping's retry limit, sent to its on-failure destination for a person
/// to see.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// An attribute every fact has is missing, or of another type.
    #[error("no {kind} attribute {name}")]
    Missing {
        name: &'static str,
        /// `text`, `binary` or `number`, as DynamoDB types it.
        kind: &'static str,
    },
    /// A binary attribute that holds no JSON.
    #[error("{name} is not JSON")]
    NotJson {
        name: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The sequence is not a whole number.
    #[error("bad sequence {value}")]
    Sequence {
        value: String,
        #[source]
        source: ParseIntError,
    },
    /// The fact does not serialize as a queue message.
    #[error("the fact cannot be written as a message")]
    Message(#[source] serde_json::Error),
}

/// A fact from a stream record's new image; `None` for anything but an insert (facts are never
/// changed or deleted, so there is nothing else to pass on).
pub fn decode(record: &EventRecord) -> Result<Option<RecordedFact>, DecodeError> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let image = record.change.new_image.inner();
    let text = |name: &'static str| match image.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(DecodeError::Missing { name, kind: "text" }),
    };
    let json = |name: &'static str| match image.get(name) {
        Some(AttributeValue::B(bytes)) => {
            serde_json::from_slice(bytes).map_err(|source| DecodeError::NotJson { name, source })
        }
        _ => Err(DecodeError::Missing { name, kind: "binary" }),
    };
    let sequence = match image.get("AggregateIdSequence") {
        Some(AttributeValue::N(n)) => n.parse().map_err(|source| DecodeError::Sequence {
            value: n.clone(),
            source,
        })?,
        _ => {
            return Err(DecodeError::Missing {
                name: "AggregateIdSequence",
                kind: "number",
            });
        }
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

/// A fact and the message that carries it; `None` for a record that carries no fact.
fn message(record: &EventRecord) -> Result<Option<(RecordedFact, Outgoing)>, DecodeError> {
    let Some(fact) = decode(record)? else {
        return Ok(None);
    };
    let message = Outgoing::carrying(&fact).map_err(DecodeError::Message)?;
    Ok(Some((fact, message)))
}

/// Passes every record of the batch on, in order, and reports the first one that failed.
pub async fn fan_out(
    event: &Event,
    queue_names: &[&str],
    queues: &impl FactQueues,
    index: &impl FactIndexWriter,
) -> DynamoDbEventResponse {
    // Decode up to the first record that cannot be read.
    let mut facts: Vec<(usize, RecordedFact, Outgoing)> = Vec::new();
    let mut unreadable = None;
    for (i, record) in event.records.iter().enumerate() {
        match message(record) {
            Ok(Some((fact, message))) => facts.push((i, fact, message)),
            Ok(None) => {}
            Err(error) => {
                // Poison in the event table is a bug: stop here, so it is retried, alarmed
                // (iterator age) and, after the mapping's retry limit, sent to its on-failure
                // destination, instead of silently skipped.
                tracing::error!(
                    error = %ErrorChain(&error),
                    record = record.event_id,
                    "undecodable stream record"
                );
                unreadable = Some(i);
                break;
            }
        }
    }
    // Every queue gets the same messages in batches of 10; what all of them accepted is done.
    let messages: Vec<Outgoing> = facts.iter().map(|(_, _, m)| m.clone()).collect();
    let mut accepted = facts.len();
    for queue in queue_names {
        if let Err(error) = queues.send(queue, &messages[..accepted]).await {
            tracing::warn!(
                error = %ErrorChain(&error),
                queue,
                "fan-out failed; the batch is retried from there"
            );
            accepted = accepted.min(error.first_refused);
        }
    }
    let done: Vec<RecordedFact> = facts[..accepted].iter().map(|(_, f, _)| f.clone()).collect();
    if let Err(error) = index.record(&done).await {
        tracing::warn!(error = %ErrorChain(&error), "indexing failed; the batch is retried");
        accepted = 0;
    }
    let first_failed = facts.get(accepted).map(|(i, _, _)| *i).or(unreadable);
    match first_failed {
        Some(i) => super::retry_from(&event.records[i]),
        None => DynamoDbEventResponse::default(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;

    /// Accepts messages until it has `capacity`, then refuses the rest.
    struct Queues {
        capacity: usize,
        sent: Mutex<Vec<(String, String)>>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the queue is full")]
    struct Full;

    impl FactQueues for Queues {
        type Error = Full;

        async fn send(&self, queue: &str, messages: &[Outgoing]) -> Result<(), NotAccepted<Full>> {
            let mut sent = self.sent.lock().unwrap();
            for (i, m) in messages.iter().enumerate() {
                if sent.iter().filter(|(q, _)| q == queue).count() >= self.capacity {
                    return Err(NotAccepted {
                        first_refused: i,
                        cause: Full,
                    });
                }
                sent.push((queue.to_owned(), m.dedup_id.clone()));
            }
            Ok(())
        }
    }

    struct Index(Mutex<Vec<usize>>);

    impl FactIndexWriter for Index {
        type Error = std::convert::Infallible;

        async fn record(&self, facts: &[RecordedFact]) -> Result<(), Self::Error> {
            self.0.lock().unwrap().extend(facts.iter().map(|f| f.sequence));
            Ok(())
        }
    }

    /// An index that is down.
    struct Down;

    #[derive(Debug, thiserror::Error)]
    #[error("the index is down")]
    struct IndexDown;

    impl FactIndexWriter for Down {
        type Error = IndexDown;

        async fn record(&self, _: &[RecordedFact]) -> Result<(), IndexDown> {
            Err(IndexDown)
        }
    }

    fn record(sequence: usize) -> serde_json::Value {
        let payload = base64_of(&json!({ "Published": { "at": "2030-01-01T00:00:00Z" } }).to_string());
        json!({
            "eventID": format!("e{sequence}"), "eventName": "INSERT", "awsRegion": "us-east-1",
            "dynamodb": {
                "SequenceNumber": format!("{sequence:05}"), "SizeBytes": 1, "StreamViewType": "NEW_IMAGE",
                "NewImage": {
                    "AggregateType": { "S": "virtual_event" }, "AggregateId": { "S": "ev" },
                    "AggregateIdSequence": { "N": sequence.to_string() },
                    "EventType": { "S": "VirtualEventPublished" }, "EventVersion": { "S": "1.0.0" },
                    "Payload": { "B": payload }, "Metadata": { "B": base64_of("{}") }
                }
            }
        })
    }

    fn base64_of(text: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    fn event(n: usize) -> Event {
        serde_json::from_value(json!({ "Records": (1..=n).map(record).collect::<Vec<_>>() })).unwrap()
    }

    #[tokio::test]
    async fn a_queue_that_refuses_part_of_a_batch_fails_the_batch_from_its_first_refused_record() {
        let queues = Queues {
            capacity: 12,
            sent: Mutex::default(),
        };
        let index = Index(Mutex::default());
        let response = fan_out(&event(25), &["read_models", "emails"], &queues, &index).await;
        let reported: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        assert_eq!(reported, [Some("00013".to_owned())]);
        assert_eq!(
            *index.0.lock().unwrap(),
            (1..=12).collect::<Vec<_>>(),
            "only what every queue took is indexed"
        );
    }

    #[tokio::test]
    async fn a_whole_batch_goes_out_when_every_queue_takes_it() {
        let queues = Queues {
            capacity: 100,
            sent: Mutex::default(),
        };
        let index = Index(Mutex::default());
        assert!(
            fan_out(&event(25), &["read_models", "emails", "search"], &queues, &index)
                .await
                .batch_item_failures
                .is_empty()
        );
        assert_eq!(queues.sent.lock().unwrap().len(), 75);
        assert_eq!(index.0.lock().unwrap().len(), 25);
    }

    fn reported(response: &DynamoDbEventResponse) -> Vec<Option<String>> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect()
    }

    #[tokio::test]
    async fn when_the_index_fails_the_whole_batch_is_retried() {
        let queues = Queues {
            capacity: 100,
            sent: Mutex::default(),
        };
        let response = fan_out(&event(3), &["read_models"], &queues, &Down).await;
        assert_eq!(reported(&response), [Some("00001".to_owned())]);
    }

    #[tokio::test]
    async fn a_record_whose_sequence_is_not_a_number_is_reported_and_nothing_after_it_goes_out() {
        let mut records: Vec<serde_json::Value> = (1..=3).map(record).collect();
        records[1]["dynamodb"]["NewImage"]["AggregateIdSequence"] = json!({ "N": "2.5" });
        let event: Event = serde_json::from_value(json!({ "Records": records })).unwrap();
        assert!(matches!(
            decode(&event.records[1]),
            Err(DecodeError::Sequence { ref value, .. }) if value == "2.5"
        ));
        let queues = Queues {
            capacity: 100,
            sent: Mutex::default(),
        };
        let index = Index(Mutex::default());
        let response = fan_out(&event, &["read_models"], &queues, &index).await;
        assert_eq!(reported(&response), [Some("00002".to_owned())]);
        assert_eq!(*index.0.lock().unwrap(), [1]);
    }

    #[test]
    fn a_record_without_an_attribute_names_it() {
        let mut value = record(1);
        value["dynamodb"]["NewImage"]
            .as_object_mut()
            .unwrap()
            .remove("EventType");
        let record: EventRecord = serde_json::from_value(value).unwrap();
        let error = decode(&record).unwrap_err();
        assert_eq!(error.to_string(), "no text attribute EventType");
    }
}
