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
use slsplay_api::problem::ErrorChain;

/// An SDK error, kept whole as the source.
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why the outbox could not claim or give back an email.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// Handling: DynamoDB failed or is unreachable; nothing was sent, retry.
    #[error("claiming an email in {table}")]
    Claim {
        table: String,
        #[source]
        source: Cause,
    },
    /// Handling: the email stays claimed but unsent, so a retry skips it; log it for a person
    /// to clear its `sent_at`.
    #[error("releasing an email in {table}")]
    Release {
        table: String,
        #[source]
        source: Cause,
    },
}

/// Why SES did not take an email.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// Handling: a bug (a message SES cannot take); not retryable.
    #[error("building the raw message")]
    Message(#[source] aws_sdk_sesv2::error::BuildError),
    /// Handling: SES refused (an unverified sender, throttling) or is unreachable; give the
    /// email back and retry.
    #[error("SES SendEmail")]
    Send(#[source] Cause),
}

/// Why one email of the outbox stream was not sent.
#[derive(Debug, thiserror::Error)]
pub enum EmailNotSent {
    /// Handling: nothing was sent; retry from this record.
    #[error(transparent)]
    Claim(OutboxError),
    /// Handling: given back; retry from this record.
    #[error(transparent)]
    Send(MailerError),
    /// Handling: as `OutboxError::Release`: a retry skips the email, a person must look.
    #[error("the email was not sent ({}) and could not be given back", ErrorChain(send))]
    NotReleased {
        send: MailerError,
        #[source]
        release: OutboxError,
    },
}

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
    pub async fn claim(&self, recipient: &str, cause: &str, at: &str) -> Result<bool, OutboxError> {
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
            Err(e) => Err(OutboxError::Claim {
                table: self.table.clone(),
                source: e.into(),
            }),
        }
    }

    pub async fn release(&self, recipient: &str, cause: &str) -> Result<(), OutboxError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(recipient, cause)))
            .update_expression("REMOVE sent_at")
            .send()
            .await
            .map_err(|e| OutboxError::Release {
                table: self.table.clone(),
                source: e.into(),
            })?;
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

    pub async fn send(&self, recipient: &str, eml: &str) -> Result<(), MailerError> {
        let raw = RawMessage::builder()
            .data(Blob::new(eml.as_bytes()))
            .build()
            .map_err(MailerError::Message)?;
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(recipient).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(|e| MailerError::Send(e.into()))?;
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
            if !outbox
                .claim(&recipient, &cause, now)
                .await
                .map_err(EmailNotSent::Claim)?
            {
                return Ok(());
            }
            if let Err(send) = mailer.send(&recipient, &eml).await {
                return Err(match outbox.release(&recipient, &cause).await {
                    Ok(()) => EmailNotSent::Send(send),
                    Err(release) => EmailNotSent::NotReleased { send, release },
                });
            }
            Ok(())
        };
        if let Err(error) = sent.await {
            tracing::warn!(
                error = %ErrorChain(&error),
                record = record.event_id,
                "email not sent; the batch is retried from here"
            );
            return super::retry_from(record);
        }
    }
    DynamoDbEventResponse::default()
}
