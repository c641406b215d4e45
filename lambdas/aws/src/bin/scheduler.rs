//! Lambda: the scheduled jobs. EventBridge Scheduler invokes it every minute once per job with
//! `{"job": "digest" | "reminders" | "seat-holds" | "close-invitations"}`; a run with failed items fails the
//! invocation, so the schedule's retry policy (and the next minute) try them again.
//! Environment: EVENT_TABLE_PREFIX, READ_MODEL_TABLE_PREFIX, INVITATION_SECRET.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use slsplay_aggregates::virtual_event::VirtualEventServices;
use slsplay_aggregates::{Clock, SystemClock};
use slsplay_aws::lambda::{env, event_store, init_logging, invitation_tokens, sdk_config};
use slsplay_aws::scheduler::{Invocation, handle, jobs};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let services = VirtualEventServices::new(clock.clone(), invitation_tokens()?);
    let jobs = jobs(
        event_store(&dynamodb)?,
        &dynamodb,
        &env("READ_MODEL_TABLE_PREFIX")?,
        services,
        clock,
    );
    let jobs = &jobs;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Invocation>| async move {
        Box::pin(handle(jobs, &event.payload)).await.map_err(Error::from)
    }))
    .await
}
