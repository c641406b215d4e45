//! Lambda: one projection builder, named by BUILDER (`read_models`, `emails`, `search` or
//! `web_cache`), fed by its SQS FIFO queue (`ReportBatchItemFailures`; a redrive policy to its
//! DLQ). Environment: BUILDER, EVENT_TABLE_PREFIX, READ_MODEL_TABLE_PREFIX; for emails also
//! INVITATION_SECRET, MAIL_FROM, PUBLIC_URL; for search also OPENSEARCH_ENDPOINT,
//! OPENSEARCH_INDEX, OPENSEARCH_SERVICE (`es` or `aoss`); for web_cache also
//! INVITATION_SECRET, PUBLIC_URL, MEDIA_BASE_URL, WEB_BUCKET (and S3_ENDPOINT for a test
//! server).

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use slsplay_aggregates::virtual_event::upcasters;
use slsplay_aggregates::{Clock, SystemClock};
use slsplay_aws::lambda::{
    ConfigError, env, event_store, init_logging, invitation_tokens, optional_env, sdk_config,
};
use slsplay_aws::metrics;
use slsplay_aws::opensearch::OpenSearchIndex;
use slsplay_aws::projection::project;
use slsplay_aws::s3::S3Pages;
use slsplay_projections::builder::{Builder, Projector, ReadModels};
use slsplay_projections::email::outbox::OutboxMessage;
use slsplay_projections::email::{Emails, MailSettings};
use slsplay_projections::read_models::TABLES;
use slsplay_projections::schema::ReadModel;
use slsplay_projections::search::Search;
use slsplay_projections::store::dynamo::DynamoReadStore;
use slsplay_projections::web_cache::{PageSettings, WebCache};

async fn serve<P: Projector + 'static>(
    builder: Builder<P, DynamoReadStore, slsplay_commands::store::DynamoRepository>,
) -> Result<(), Error> {
    let builder = &builder;
    // Boxed: a builder's future nests deep (batch, fact, projector, event state), and laid out
    // inline in `main` with the other two builders it passes rustc's query depth limit.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        Box::pin(async move {
            let taken_up = SystemClock.now();
            let response = project(builder, &event.payload).await;
            let failed = response.batch_item_failures.len();
            // The embedded metric format: CloudWatch reads this line as metrics.
            println!(
                "{}",
                metrics::projection(builder.name(), &event.payload, failed, taken_up)
            );
            Ok::<_, Error>(response)
        })
    }))
    .await
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let prefix = env("READ_MODEL_TABLE_PREFIX")?;
    match env("BUILDER")?.as_str() {
        "read_models" => {
            let store = DynamoReadStore::new(dynamodb.clone(), prefix, TABLES);
            serve(Builder::new(
                ReadModels,
                store,
                event_store(&dynamodb)?,
                upcasters(),
            ))
            .await
        }
        "emails" => {
            let store = DynamoReadStore::new(dynamodb.clone(), prefix, &[OutboxMessage::TABLE]);
            let settings = MailSettings {
                from: env("MAIL_FROM")?,
                public_url: env("PUBLIC_URL")?.trim_end_matches('/').to_owned(),
            };
            let emails = Emails::new(
                event_store(&dynamodb)?,
                upcasters(),
                invitation_tokens()?,
                settings,
            );
            serve(Builder::new(emails, store, event_store(&dynamodb)?, upcasters())).await
        }
        "search" => {
            let store = DynamoReadStore::new(dynamodb.clone(), prefix, &[]);
            let credentials = config
                .credentials_provider()
                .ok_or(ConfigError::Sdk("credentials"))?;
            let region = config.region().cloned().ok_or(ConfigError::Sdk("region"))?;
            let index = OpenSearchIndex::new(
                &env("OPENSEARCH_ENDPOINT")?,
                env("OPENSEARCH_INDEX")?,
                credentials,
                region,
                &env("OPENSEARCH_SERVICE")?,
            )?;
            index.ensure_index().await?;
            let search = Search::new(event_store(&dynamodb)?, upcasters(), Arc::new(index));
            serve(Builder::new(search, store, event_store(&dynamodb)?, upcasters())).await
        }
        "web_cache" => {
            let store = DynamoReadStore::new(dynamodb.clone(), prefix, &[]);
            let pages = S3Pages {
                bucket: env("WEB_BUCKET")?,
                region: config.region().ok_or(ConfigError::Sdk("region"))?.to_string(),
                endpoint: optional_env("S3_ENDPOINT")?,
                credentials: config
                    .credentials_provider()
                    .ok_or(ConfigError::Sdk("credentials"))?,
                http: reqwest::Client::new(),
                clock: Arc::new(SystemClock),
            };
            let settings = PageSettings {
                public_url: env("PUBLIC_URL")?.trim_end_matches('/').to_owned(),
                media_url: env("MEDIA_BASE_URL")?.trim_end_matches('/').to_owned(),
            };
            let web_cache = WebCache::new(
                event_store(&dynamodb)?,
                upcasters(),
                invitation_tokens()?,
                settings,
                Arc::new(pages),
            );
            serve(Builder::new(
                web_cache,
                store,
                event_store(&dynamodb)?,
                upcasters(),
            ))
            .await
        }
        other => {
            Err(format!("BUILDER must be read_models, emails, search or web_cache, not `{other}`").into())
        }
    }
}
