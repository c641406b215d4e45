//! The builders' queues on SQS FIFO.

use std::collections::HashMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::BuildError;
use aws_sdk_sqs::types::{BatchResultErrorEntry, SendMessageBatchRequestEntry};
use slsplay_projections::queue::Outgoing;

use super::fan_out::{FactQueues, NotAccepted};

/// SQS takes at most 10 messages per batch.
const BATCH: usize = 10;

/// An SDK error, kept whole as the source.
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why SQS did not take a message, or a builder's queue could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    /// Handling: a deployment mistake (the builder's queue URL is not configured); fix the
    /// configuration. `SqsQueues::serving` refuses it at start-up.
    #[error("no URL for queue {builder}")]
    NoQueueUrl { builder: String },
    /// Handling: a bug (a message SQS cannot take, like an empty group id); not retryable.
    #[error("building a message for {queue}")]
    Entry {
        queue: String,
        #[source]
        source: BuildError,
    },
    /// Handling: SQS failed or is unreachable; retry the messages from the batch's first.
    #[error("SendMessageBatch to {queue}")]
    SendMessageBatch {
        queue: String,
        #[source]
        source: Cause,
    },
    /// Handling: SQS refused this message (throttled, too large, ...); retry from it.
    #[error("SQS refused a message for {queue}: {code} {}", message.as_deref().unwrap_or(""))]
    Refused {
        queue: String,
        code: String,
        message: Option<String>,
    },
    /// Handling: SQS answered a failure we cannot place in the batch; retry the whole batch.
    #[error("SQS refused a message for {queue} with entry id {id:?}, which is not in the batch: {code}")]
    UnknownEntry { queue: String, id: String, code: String },
    /// Handling: SQS failed or is unreachable, or the queue exists with other attributes;
    /// retry, or fix the queue.
    #[error("creating {queue}")]
    CreateQueue {
        queue: String,
        #[source]
        source: Cause,
    },
    /// Handling: SQS failed or is unreachable; retry.
    #[error("reading {queue}")]
    GetQueueAttributes {
        queue: String,
        #[source]
        source: Cause,
    },
    /// Handling: SQS answered without what it always answers; retry, else report it.
    #[error("SQS answered for {queue} without its {what}")]
    Incomplete { queue: String, what: &'static str },
}

pub struct SqsQueues {
    client: Client,
    /// Builder name -> queue URL.
    urls: HashMap<String, String>,
}

impl SqsQueues {
    pub fn new(client: Client, urls: HashMap<String, String>) -> Self {
        Self { client, urls }
    }

    /// The queues of `builders`, each of which must have its URL in `urls`: a builder without
    /// one is a configuration mistake to see at start-up, not at every send.
    pub fn serving(
        client: Client,
        urls: HashMap<String, String>,
        builders: &[&str],
    ) -> Result<Self, SqsError> {
        if let Some(missing) = builders.iter().find(|b| !urls.contains_key(**b)) {
            return Err(SqsError::NoQueueUrl {
                builder: (*missing).to_owned(),
            });
        }
        Ok(Self::new(client, urls))
    }
}

impl FactQueues for SqsQueues {
    type Error = SqsError;

    async fn send(&self, queue: &str, messages: &[Outgoing]) -> Result<(), NotAccepted<SqsError>> {
        let refused = |at, cause| NotAccepted {
            first_refused: at,
            cause,
        };
        let url = self.urls.get(queue).ok_or_else(|| {
            refused(
                0,
                SqsError::NoQueueUrl {
                    builder: queue.to_owned(),
                },
            )
        })?;
        for (batch, chunk) in messages.chunks(BATCH).enumerate() {
            let offset = batch * BATCH;
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&m.body)
                        .message_group_id(&m.group_id)
                        .message_deduplication_id(&m.dedup_id)
                        .build()
                        .map_err(|source| {
                            let queue = queue.to_owned();
                            refused(offset + i, SqsError::Entry { queue, source })
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let sent = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    let queue = queue.to_owned();
                    refused(
                        offset,
                        SqsError::SendMessageBatch {
                            queue,
                            source: e.into(),
                        },
                    )
                })?;
            let first = first_refused(queue, chunk.len(), sent.failed());
            if let Some((i, error)) = first {
                return Err(refused(offset + i, error));
            }
        }
        Ok(())
    }
}

/// Where SQS stopped taking a batch of `len` messages, from the entries it `failed`: entry ids
/// are positions in the batch, and the lowest refused one is where we stop. A failure whose
/// id is no position in the batch cannot be placed, so none of the batch is known to be sent.
fn first_refused(queue: &str, len: usize, failed: &[BatchResultErrorEntry]) -> Option<(usize, SqsError)> {
    let mut first: Option<(usize, SqsError)> = None;
    for entry in failed {
        let (at, error) = match entry.id().parse::<usize>() {
            Ok(i) if i < len => (
                i,
                SqsError::Refused {
                    queue: queue.to_owned(),
                    code: entry.code().to_owned(),
                    message: entry.message().map(str::to_owned),
                },
            ),
            _ => (
                0,
                SqsError::UnknownEntry {
                    queue: queue.to_owned(),
                    id: entry.id().to_owned(),
                    code: entry.code().to_owned(),
                },
            ),
        };
        if first.as_ref().is_none_or(|(lowest, _)| at < *lowest) {
            first = Some((at, error));
        }
    }
    first
}

/// A builder's queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuilderQueue {
    pub url: String,
    pub dead_letter_url: String,
}

/// Creates `{name}.fifo` with its dead-letter queue `{name}-dlq.fifo`, where a message goes
/// after `max_receives` failed deliveries: what the CDK stack declares, for tests and a fresh
/// account. Creating existing queues with the same attributes is a no-op in SQS.
pub async fn create_builder_queue(
    client: &Client,
    name: &str,
    max_receives: u32,
    visibility_timeout_seconds: u32,
) -> Result<BuilderQueue, SqsError> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let (dead_letter_name, queue_name) = (format!("{name}-dlq.fifo"), format!("{name}.fifo"));
    let dead_letter = client
        .create_queue()
        .queue_name(&dead_letter_name)
        .attributes(A::FifoQueue, "true")
        .attributes(A::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| SqsError::CreateQueue {
            queue: dead_letter_name.clone(),
            source: e.into(),
        })?;
    let dead_letter_url = dead_letter
        .queue_url()
        .ok_or_else(|| SqsError::Incomplete {
            queue: dead_letter_name.clone(),
            what: "URL",
        })?
        .to_owned();
    let attributes = client
        .get_queue_attributes()
        .queue_url(&dead_letter_url)
        .attribute_names(A::QueueArn)
        .send()
        .await
        .map_err(|e| SqsError::GetQueueAttributes {
            queue: dead_letter_name.clone(),
            source: e.into(),
        })?;
    let arn = attributes
        .attributes()
        .and_then(|a| a.get(&A::QueueArn))
        .cloned()
        .ok_or_else(|| SqsError::Incomplete {
            queue: dead_letter_name.clone(),
            what: "ARN",
        })?;
    let redrive =
        serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": max_receives }).to_string();
    let queue = client
        .create_queue()
        .queue_name(&queue_name)
        .attributes(A::FifoQueue, "true")
        .attributes(A::VisibilityTimeout, visibility_timeout_seconds.to_string())
        .attributes(A::RedrivePolicy, redrive)
        .send()
        .await
        .map_err(|e| SqsError::CreateQueue {
            queue: queue_name.clone(),
            source: e.into(),
        })?;
    let url = queue
        .queue_url()
        .ok_or(SqsError::Incomplete {
            queue: queue_name,
            what: "URL",
        })?
        .to_owned();
    Ok(BuilderQueue { url, dead_letter_url })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(id: &str, code: &str) -> BatchResultErrorEntry {
        BatchResultErrorEntry::builder()
            .id(id)
            .code(code)
            .sender_fault(false)
            .build()
            .unwrap()
    }

    #[test]
    fn the_lowest_refused_entry_is_where_a_batch_stops() {
        let (at, error) =
            first_refused("q", 10, &[failed("7", "Throttled"), failed("3", "Throttled")]).unwrap();
        assert_eq!(at, 3);
        assert!(matches!(error, SqsError::Refused { code, message: None, .. } if code == "Throttled"));
        assert!(first_refused("q", 10, &[]).is_none());
    }

    #[test]
    fn a_refused_entry_that_is_not_in_the_batch_fails_all_of_it() {
        for id in ["x", "10"] {
            let (at, error) = first_refused("q", 10, &[failed("5", "Throttled"), failed(id, "Odd")]).unwrap();
            assert_eq!(at, 0, "entry id {id}");
            assert!(matches!(error, SqsError::UnknownEntry { id: ref found, .. } if found == id));
        }
    }

    #[test]
    fn a_builder_without_a_queue_url_is_refused_at_start_up() {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .build();
        let urls = HashMap::from([("read_models".to_owned(), "https://sqs/q".to_owned())]);
        let refused = SqsQueues::serving(Client::from_conf(config), urls, &["read_models", "search"]);
        assert!(matches!(refused, Err(SqsError::NoQueueUrl { builder }) if builder == "search"));
    }
}
