//! The builders' queues on SQS FIFO.

use std::collections::HashMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use slsplay_projections::queue::Outgoing;

use super::fan_out::FactQueues;

/// SQS takes at most 10 messages per batch.
const BATCH: usize = 10;

pub struct SqsQueues {
    client: Client,
    /// Builder name -> queue URL.
    urls: HashMap<String, String>,
}

impl SqsQueues {
    pub fn new(client: Client, urls: HashMap<String, String>) -> Self {
        Self { client, urls }
    }
}

impl FactQueues for SqsQueues {
    async fn send(&self, queue: &str, messages: &[Outgoing]) -> Result<(), (usize, String)> {
        let url = self
            .urls
            .get(queue)
            .ok_or_else(|| (0, format!("no URL for queue {queue}")))?;
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
                        .map_err(|e| (offset + i, e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let sent = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| (offset, format!("SendMessageBatch to {queue}: {e}")))?;
            // Entry ids are positions in the chunk: the lowest refused one is where we stop.
            let refused = sent
                .failed()
                .iter()
                .filter_map(|f| f.id().parse::<usize>().ok().map(|i| (i, f)))
                .min_by_key(|(i, _)| *i);
            if let Some((i, failed)) = refused {
                return Err((
                    offset + i,
                    format!(
                        "SQS refused a message for {queue}: {} {}",
                        failed.code(),
                        failed.message().unwrap_or("")
                    ),
                ));
            }
        }
        Ok(())
    }
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
) -> Result<BuilderQueue, String> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let dead_letter = client
        .create_queue()
        .queue_name(format!("{name}-dlq.fifo"))
        .attributes(A::FifoQueue, "true")
        .attributes(A::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| format!("creating {name}-dlq.fifo: {e}"))?;
    let dead_letter_url = dead_letter.queue_url().unwrap_or_default().to_owned();
    let attributes = client
        .get_queue_attributes()
        .queue_url(&dead_letter_url)
        .attribute_names(A::QueueArn)
        .send()
        .await
        .map_err(|e| format!("reading {name}-dlq.fifo: {e}"))?;
    let arn = attributes
        .attributes()
        .and_then(|a| a.get(&A::QueueArn))
        .cloned()
        .ok_or("the DLQ has no ARN")?;
    let redrive =
        serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": max_receives }).to_string();
    let queue = client
        .create_queue()
        .queue_name(format!("{name}.fifo"))
        .attributes(A::FifoQueue, "true")
        .attributes(A::VisibilityTimeout, visibility_timeout_seconds.to_string())
        .attributes(A::RedrivePolicy, redrive)
        .send()
        .await
        .map_err(|e| format!("creating {name}.fifo: {e}"))?;
    Ok(BuilderQueue {
        url: queue.queue_url().unwrap_or_default().to_owned(),
        dead_letter_url,
    })
}
