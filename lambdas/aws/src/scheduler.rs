//! The scheduler Lambda's handler: EventBridge Scheduler invokes it every minute once per job,
//! with the input `{"job": "digest"}` (or `reminders`, `seat-holds`, `close-invitations`, `retention`), and it runs that job over
//! dynamo-es and the DynamoDB read models. Two invocations at once send nothing twice: each
//! job's command is refused the second time by the aggregate (a conditional write decides
//! which commit wins), and the emails are projections of the one fact.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use slsplay_aggregates::Clock;
use slsplay_aggregates::virtual_event::{VirtualEventServices, upcasters};
use slsplay_commands::CommandService;
use slsplay_commands::store::DynamoRepository;
use slsplay_jobs::{JobError, JobName, Jobs, Report, UnknownJob};
use slsplay_projections::read_models::TABLES;
use slsplay_projections::store::Queries;
use slsplay_projections::store::dynamo::DynamoReadStore;

pub type AwsJobs = Jobs<DynamoRepository, Queries>;

/// What EventBridge Scheduler sends: the job's name.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Invocation {
    pub job: String,
}

/// A run that the Lambda reports as failed, so the schedule's retry policy runs it again.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    UnknownJob(#[from] UnknownJob),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("{} of {} due items failed (retried next run): {:?}", report.failed.len(), report.due, report.failed)]
    Failed { report: Report },
}

/// The jobs over `store` and the read models under `read_model_prefix`.
pub fn jobs(
    store: DynamoRepository,
    dynamodb: &aws_sdk_dynamodb::Client,
    read_model_prefix: &str,
    services: VirtualEventServices,
    clock: Arc<dyn Clock>,
) -> AwsJobs {
    let commands = CommandService::new(store, upcasters(), services, clock.clone());
    let queries = Queries::Dynamo(DynamoReadStore::new(dynamodb.clone(), read_model_prefix, TABLES));
    Jobs::new(Arc::new(commands), queries, clock)
}

/// One invocation: the job's report, or an error when any due item failed.
pub async fn handle(jobs: &AwsJobs, invocation: &Invocation) -> Result<Report, RunError> {
    let job: JobName = invocation.job.parse()?;
    let report = jobs.run(job).await?;
    if report.succeeded() {
        Ok(report)
    } else {
        Err(RunError::Failed { report })
    }
}
