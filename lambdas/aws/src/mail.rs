//! The email sender on AWS: the outbox table's stream in, each new email claimed and sent
//! through SES. Claiming first (a conditional write of `sent_at`) keeps it to at most one email
//! per (recipient, cause), even when the stream delivers a record twice; an email SES refuses
//! is given back and reported, so Lambda retries it.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use serde_dynamo::AttributeValue as StreamValue;

/// The outbox table (`{prefix}outbox`, keys `recipient` and `cause`).
pub struct DynamoOutbox {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoOutbox {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn key(&self, recipient: &str, cause: &str) -> std::collections::HashMap<String, AttributeValue> {
        std::collections::HashMap::from([
            ("recipient".to_owned(), AttributeValue::S(recipient.to_owned())),
            ("cause".to_owned(), AttributeValue::S(cause.to_owned())),
        ])
    }

    /// `true` if this call claimed the email, `false` if it was claimed before.
    pub async fn claim(&self, recipient: &str, cause: &str, at: &str) -> Result<bool, String> {
        let claimed = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(recipient, cause)))
            .update_expression("SET sent_at = :at")
            .condition_expression("attribute_exists(recipient) AND attribute_not_exists(sent_at)")
            .expression_attribute_values(":at", AttributeValue::S(at.to_owned()))
            .send()
            .await;
        match claimed {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(format!("claiming an email: {e}")),
        }
    }

    pub async fn release(&self, recipient: &str, cause: &str) -> Result<(), String> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(recipient, cause)))
            .update_expression("REMOVE sent_at")
            .send()
            .await
            .map_err(|e| format!("releasing an email: {e}"))?;
        Ok(())
    }
}

pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesMailer {
    /// `from` must be an identity verified in SES.
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }

    pub async fn send(&self, recipient: &str, eml: &str) -> Result<(), String> {
        let raw = RawMessage::builder()
            .data(Blob::new(eml.as_bytes()))
            .build()
            .map_err(|e| e.to_string())?;
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(recipient).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(|e| format!("SES SendEmail: {e}"))?;
        Ok(())
    }
}

fn text(record: &EventRecord, name: &str) -> Option<String> {
    match record.change.new_image.inner().get(name) {
        Some(StreamValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Sends every email new in this batch of outbox stream records, in order; reports the first
/// that could not be sent.
pub async fn send_new_emails(
    event: &Event,
    outbox: &DynamoOutbox,
    mailer: &SesMailer,
    now: &str,
) -> DynamoDbEventResponse {
    for record in event.records.iter().filter(|r| r.event_name == "INSERT") {
        let (Some(recipient), Some(cause), Some(eml)) = (
            text(record, "recipient"),
            text(record, "cause"),
            text(record, "eml"),
        ) else {
            tracing::error!(
                record = record.event_id,
                "an outbox record without recipient, cause or message"
            );
            return super::retry_from(record);
        };
        let sent = async {
            if !outbox.claim(&recipient, &cause, now).await? {
                return Ok(());
            }
            if let Err(e) = mailer.send(&recipient, &eml).await {
                outbox.release(&recipient, &cause).await?;
                return Err(e);
            }
            Ok::<_, String>(())
        };
        if let Err(error) = sent.await {
            tracing::warn!(
                error,
                record = record.event_id,
                "email not sent; the batch is retried from here"
            );
            return super::retry_from(record);
        }
    }
    DynamoDbEventResponse::default()
}
