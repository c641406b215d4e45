//! Lambda: the scheduled jobs. EventBridge Scheduler invokes it every minute once per job with
//! `{"job": "digest" | "reminders" | "seat-holds" | "close-invitations" | "retention"}`; a run with failed items fails the
//! invocation, so the schedule's retry policy (and the next minute) try them again.
//! Environment: EVENT_TABLE_PREFIX, READ_MODEL_TABLE_PREFIX, INVITATION_SECRET; optional
//! RETENTION_DAYS (30: how long ended events stay in the read models).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use slsplay_aggregates::virtual_event::VirtualEventServices;
use slsplay_aggregates::{Clock, SystemClock};
use slsplay_aws::lambda::{
    ConfigError, env, event_store, init_logging, invitation_tokens, optional_env, sdk_config,
};
use slsplay_aws::metrics;
use slsplay_aws::scheduler::{Invocation, RunError, handle, jobs};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let services = VirtualEventServices::new(clock.clone(), invitation_tokens()?);
    let retention_days = match optional_env("RETENTION_DAYS")? {
        Some(days) => days
            .parse()
            .map_err(|e| ConfigError::invalid("RETENTION_DAYS", e))?,
        None => 30,
    };
    let jobs = jobs(
        event_store(&dynamodb)?,
        &dynamodb,
        &env("READ_MODEL_TABLE_PREFIX")?,
        services,
        clock,
    )
    .with_retention_days(retention_days);
    let jobs = &jobs;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Invocation>| async move {
        let outcome = Box::pin(handle(jobs, &event.payload)).await;
        let report = match &outcome {
            Ok(report) | Err(RunError::Failed { report }) => Some(report),
            Err(_) => None,
        };
        if let Some(report) = report {
            // The embedded metric format: CloudWatch reads this line as metrics.
            println!("{}", metrics::job(report, SystemClock.now()));
        }
        outcome.map_err(Error::from)
    }))
    .await
}
