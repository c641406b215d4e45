//! The email sender on AWS: the outbox table's stream in, each new email claimed, sent
//! through SES and confirmed. The claim (a conditional write of `claimed_at`) keeps two
//! deliveries of one stream record from both sending; a claim whose invocation died before
//! confirming lapses after `CLAIM_LEASE`, and the record, retried by Lambda until then, sends
//! it again with the same Message-ID. An email SES refuses is given back and reported, so
//! Lambda retries it.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use chrono::{DateTime, Utc};
use serde_dynamo::AttributeValue as StreamValue;
use slsplay_api::problem::ErrorChain;
use slsplay_projections::email::outbox::{CLAIM_LEASE, claim_stamp};

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
    /// Handling: the claim holds until it lapses, then a retry sends the email.
    #[error("releasing an email in {table}")]
    Release {
        table: String,
        #[source]
        source: Cause,
    },
    /// Handling: SES took the email but it is not marked sent: once the claim lapses, a retry
    /// sends it again (same Message-ID).
    #[error("confirming a sent email in {table}")]
    Confirm {
        table: String,
        #[source]
        source: Cause,
    },
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This delivery holds the email now: send it, then confirm it.
    Taken,
    /// Sent already (or gone from the outbox): nothing to do.
    Settled,
    /// Another delivery's claim holds it: retry once that claim is confirmed or lapsed.
    Held,
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
    /// Handling: as `OutboxError::Release`: retried once the claim lapses.
    #[error("the email was not sent ({}) and could not be given back", ErrorChain(send))]
    NotReleased {
        send: MailerError,
        #[source]
        release: OutboxError,
    },
    /// Handling: retried once the other claim is confirmed (then skipped) or lapses (then sent).
    #[error("another delivery holds the email")]
    Held,
    /// Handling: as `OutboxError::Confirm`.
    #[error(transparent)]
    Confirm(OutboxError),
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

    /// Claims the email for this delivery until `now + CLAIM_LEASE`, unless it was sent or
    /// another live claim holds it.
    pub async fn claim(
        &self,
        recipient: &str,
        cause: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, OutboxError> {
        let claimed = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(recipient, cause)))
            .update_expression("SET claimed_at = :now")
            .condition_expression(
                "attribute_exists(recipient) AND attribute_not_exists(sent_at) \
                 AND (attribute_not_exists(claimed_at) OR claimed_at < :lapsed)",
            )
            .expression_attribute_values(":now", AttributeValue::S(claim_stamp(now)))
            .expression_attribute_values(":lapsed", AttributeValue::S(claim_stamp(now - CLAIM_LEASE)))
            .send()
            .await;
        let claim_error = |source: Cause| OutboxError::Claim {
            table: self.table.clone(),
            source,
        };
        match claimed {
            Ok(_) => Ok(Claim::Taken),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                // Sent, gone, or held: only the item tells which.
                let item = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(self.key(recipient, cause)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| claim_error(e.into()))?
                    .item;
                Ok(match item {
                    Some(item) if !item.contains_key("sent_at") => Claim::Held,
                    _ => Claim::Settled,
                })
            }
            Err(e) => Err(claim_error(e.into())),
        }
    }

    /// Marks the email sent: no claim takes it again.
    pub async fn confirm(&self, recipient: &str, cause: &str, now: DateTime<Utc>) -> Result<(), OutboxError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(recipient, cause)))
            .update_expression("SET sent_at = :now")
            .condition_expression("attribute_exists(recipient)")
            .expression_attribute_values(":now", AttributeValue::S(now.to_rfc3339()))
            .send()
            .await
            .map_err(|e| OutboxError::Confirm {
                table: self.table.clone(),
                source: e.into(),
            })?;
        Ok(())
    }

    /// Gives the claim back after SES certainly refused the email.
    pub async fn release(&self, recipient: &str, cause: &str) -> Result<(), OutboxError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(recipient, cause)))
            .update_expression("REMOVE claimed_at")
            .condition_expression("attribute_exists(recipient)")
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
/// that could not be sent (or that another delivery holds), so Lambda retries from there.
pub async fn send_new_emails(
    event: &Event,
    outbox: &DynamoOutbox,
    mailer: &SesMailer,
    now: DateTime<Utc>,
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
            match outbox
                .claim(&recipient, &cause, now)
                .await
                .map_err(EmailNotSent::Claim)?
            {
                Claim::Taken => {}
                Claim::Settled => return Ok(()),
                Claim::Held => return Err(EmailNotSent::Held),
            }
            if let Err(send) = mailer.send(&recipient, &eml).await {
                return Err(match outbox.release(&recipient, &cause).await {
                    Ok(()) => EmailNotSent::Send(send),
                    Err(release) => EmailNotSent::NotReleased { send, release },
                });
            }
            outbox
                .confirm(&recipient, &cause, now)
                .await
                .map_err(EmailNotSent::Confirm)
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
