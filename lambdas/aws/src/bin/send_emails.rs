//! Lambda: the outbox table's DynamoDB stream -> SES, once per (recipient, cause) (twice, with
//! the same Message-ID, only when an invocation dies between sending and confirming).
//! Event source mapping: the outbox table's stream (NEW_IMAGE), `ReportBatchItemFailures`.
//! Timeout: below the outbox's `CLAIM_LEASE` (two minutes), so a claim outlives no invocation.
//! Environment: OUTBOX_TABLE, MAIL_FROM (an address verified in SES).

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use slsplay_aggregates::{Clock, SystemClock};
use slsplay_aws::lambda::{env, init_logging, sdk_config};
use slsplay_aws::mail::{DynamoOutbox, SesMailer, send_new_emails};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = sdk_config().await;
    let outbox = DynamoOutbox::new(aws_sdk_dynamodb::Client::new(&config), env("OUTBOX_TABLE")?);
    let from: lettre::message::Mailbox = env("MAIL_FROM")?.parse()?;
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&config), from.email.to_string());
    let (outbox, mailer) = (&outbox, &mailer);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(send_new_emails(&event.payload, outbox, mailer, SystemClock.now()).await)
    }))
    .await
}
