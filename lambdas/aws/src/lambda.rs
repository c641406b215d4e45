//! What every Lambda binary shares: its configuration from the environment (named in the error
//! when missing), the AWS SDK configuration, and logging for CloudWatch.

use std::collections::HashMap;
use std::env::VarError;

use slsplay_aggregates::virtual_event::{InvitationTokens, WeakSecret};
use slsplay_commands::store::{DynamoRepository, DynamoTables, dynamo_repository};

/// A Lambda's configuration that cannot be used.
///
/// Handling: every variant is fatal at start-up (the runtime reports the init error and
/// restarts the instance); fix the function's configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the environment variable {name} is not set")]
    Missing { name: String },
    #[error("the environment variable {name} is not valid Unicode")]
    NotUnicode { name: String },
    #[error("the environment variable {name} is not valid")]
    Invalid {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The SDK found no region or no credentials where it looks for them.
    #[error("no AWS {0}")]
    Sdk(&'static str),
}

impl ConfigError {
    /// `name` is set to something unusable.
    pub fn invalid(name: &str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Invalid {
            name: name.to_owned(),
            source: source.into(),
        }
    }
}

/// A required environment variable.
pub fn env(name: &str) -> Result<String, ConfigError> {
    optional_env(name)?.ok_or_else(|| ConfigError::Missing {
        name: name.to_owned(),
    })
}

/// An optional environment variable: `None` when unset, an error when set to something that
/// is not text (not silently taken for unset).
pub fn optional_env(name: &str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => Err(ConfigError::NotUnicode {
            name: name.to_owned(),
        }),
    }
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
pub fn event_store(dynamodb: &aws_sdk_dynamodb::Client) -> Result<DynamoRepository, ConfigError> {
    let tables = DynamoTables::with_prefix(&env("EVENT_TABLE_PREFIX")?);
    Ok(dynamo_repository(dynamodb.clone(), &tables))
}

/// The builders' queue URLs: `READ_MODELS_QUEUE_URL`, `EMAILS_QUEUE_URL`, `SEARCH_QUEUE_URL`,
/// `WEB_CACHE_QUEUE_URL`.
pub fn queue_urls() -> Result<HashMap<String, String>, ConfigError> {
    [
        ("read_models", "READ_MODELS_QUEUE_URL"),
        ("emails", "EMAILS_QUEUE_URL"),
        ("search", "SEARCH_QUEUE_URL"),
        ("web_cache", "WEB_CACHE_QUEUE_URL"),
    ]
    .into_iter()
    .map(|(queue, variable)| Ok((queue.to_owned(), env(variable)?)))
    .collect()
}

/// The platform's secret, base64url in `INVITATION_SECRET` (from Secrets Manager).
pub fn invitation_secret() -> Result<Vec<u8>, ConfigError> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(env("INVITATION_SECRET")?.trim())
        .map_err(|e| ConfigError::invalid("INVITATION_SECRET", e))
}

/// The key of invitation tokens from `secret`, the decoded `INVITATION_SECRET`.
pub fn tokens_from(secret: &[u8]) -> Result<InvitationTokens, ConfigError> {
    InvitationTokens::new(secret).map_err(|e: WeakSecret| ConfigError::invalid("INVITATION_SECRET", e))
}

/// The key of invitation tokens, from `INVITATION_SECRET`.
pub fn invitation_tokens() -> Result<InvitationTokens, ConfigError> {
    tokens_from(&invitation_secret()?)
}
