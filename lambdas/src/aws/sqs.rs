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
    async fn send(&self, queue: &str, messages: &[Outgoing]) -> Result<(), String> {
        let url = self
            .urls
            .get(queue)
            .ok_or_else(|| format!("no URL for queue {queue}"))?;
        for chunk in messages.chunks(BATCH) {
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
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let sent = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| format!("SendMessageBatch to {queue}: {e}"))?;
            if let Some(failed) = sent.failed().first() {
                return Err(format!(
                    "SQS refused a message for {queue}: {} {}",
                    failed.code(),
                    failed.message().unwrap_or("")
                ));
            }
        }
        Ok(())
    }
}
