//! What every Lambda binary shares: its configuration from the environment (named in the error
//! when missing), the AWS SDK configuration, and logging for CloudWatch.

use std::collections::HashMap;

use slsplay_aggregates::virtual_event::InvitationTokens;
use slsplay_commands::store::{DynamoRepository, DynamoTables, dynamo_repository};

/// A required environment variable.
pub fn env(name: &str) -> Result<String, lambda_runtime::Error> {
    std::env::var(name).map_err(|_| format!("the environment variable {name} is not set").into())
}

/// JSON logs without timestamps (CloudWatch adds them), filtered by `RUST_LOG`.
pub fn init_logging() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .without_time()
        .with_ansi(false)
        .init();
}

pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The event store, from `EVENT_TABLE_PREFIX` (tables `{prefix}Events` and `{prefix}Snapshots`),
/// on a clone of `dynamodb` (clones share one connection pool).
pub fn event_store(dynamodb: &aws_sdk_dynamodb::Client) -> Result<DynamoRepository, lambda_runtime::Error> {
    let tables = DynamoTables::with_prefix(&env("EVENT_TABLE_PREFIX")?);
    Ok(dynamo_repository(dynamodb.clone(), &tables))
}

/// The builders' queue URLs: `READ_MODELS_QUEUE_URL`, `EMAILS_QUEUE_URL`, `SEARCH_QUEUE_URL`.
pub fn queue_urls() -> Result<HashMap<String, String>, lambda_runtime::Error> {
    [
        ("read_models", "READ_MODELS_QUEUE_URL"),
        ("emails", "EMAILS_QUEUE_URL"),
        ("search", "SEARCH_QUEUE_URL"),
    ]
    .into_iter()
    .map(|(queue, variable)| Ok((queue.to_owned(), env(variable)?)))
    .collect()
}

/// The platform's secret, base64url in `INVITATION_SECRET` (from Secrets Manager).
pub fn invitation_secret() -> Result<Vec<u8>, lambda_runtime::Error> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(env("INVITATION_SECRET")?.trim())?)
}

/// The key of invitation tokens, from `INVITATION_SECRET`.
pub fn invitation_tokens() -> Result<InvitationTokens, lambda_runtime::Error> {
    Ok(InvitationTokens::new(&invitation_secret()?)?)
}
