//! Lambda: the event table's DynamoDB stream -> each builder's SQS FIFO queue + the fact index.
//! Event source mapping: the event table's stream, `ReportBatchItemFailures`, a retry limit
//! and an on-failure destination.
//! Environment: READ_MODELS_QUEUE_URL, EMAILS_QUEUE_URL, SEARCH_QUEUE_URL, WEB_CACHE_QUEUE_URL,
//! FACT_INDEX_TABLE.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use slsplay_aws::fact_index::DynamoFactIndex;
use slsplay_aws::fan_out::fan_out;
use slsplay_aws::lambda::{env, init_logging, queue_urls, sdk_config};
use slsplay_aws::sqs::SqsQueues;

const QUEUES: [&str; 4] = ["read_models", "emails", "search", "web_cache"];

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    // Clients are built once per instance, not per invocation.
    let config = sdk_config().await;
    let queues = SqsQueues::serving(aws_sdk_sqs::Client::new(&config), queue_urls()?, &QUEUES)?;
    let index = DynamoFactIndex::new(aws_sdk_dynamodb::Client::new(&config), env("FACT_INDEX_TABLE")?);
    let (queues, index) = (&queues, &index);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(fan_out(&event.payload, &QUEUES, queues, index).await)
    }))
    .await
}
