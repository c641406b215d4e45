//! The Lambdas: the AWS adapters (SQS, SES, OpenSearch, S3, the fact index, DynamoDB
//! idempotency keys) and the handlers the Lambda binaries (`src/bin/`) run over them. Each
//! handler is a plain async function of the `aws_lambda_events` shapes, so tests call it with
//! the same records the Lambda gets. The local platform never depends on this crate.

pub mod fact_index;
pub mod fan_out;
pub mod http_api;
pub mod idempotency;
pub mod lambda;
pub mod mail;
pub mod metrics;
pub mod opensearch;
pub mod projection;
pub mod rebuild;
pub mod s3;
pub mod s3_post_policy;
pub mod scheduler;
pub mod sqs;

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

/// The answer that makes Lambda retry a DynamoDB stream batch from `record` on
/// (`ReportBatchItemFailures`): the records before it are done.
pub(crate) fn retry_from(record: &EventRecord) -> DynamoDbEventResponse {
    let mut failed = DynamoDbBatchItemFailure::default();
    failed.item_identifier = record.change.sequence_number.clone();
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures.push(failed);
    response
}
