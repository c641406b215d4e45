//! The HTTP Lambdas' composition: the same API and GraphQL routers as the local platform,
//! over DynamoDB (event store, read models, idempotency keys), S3 and Cognito.
//!
//! Environment of the API Lambda: EVENT_TABLE_PREFIX, READ_MODEL_TABLE_PREFIX,
//! IDEMPOTENCY_TABLE, INVITATION_SECRET, MEDIA_BUCKET, MEDIA_BASE_URL, OIDC_ISSUER (the user
//! pool: https://cognito-idp.REGION.amazonaws.com/POOL_ID), OIDC_AUDIENCE (app client ids,
//! comma separated); optional OIDC_JWKS_URL, S3_ENDPOINT (tests). The GraphQL Lambda needs
//! READ_MODEL_TABLE_PREFIX, MEDIA_BASE_URL, OIDC_ISSUER, OIDC_AUDIENCE and COMMAND_API_URL
//! (the API's base URL, ending in /api).

use std::sync::Arc;

use axum::Router;
use slsplay_aggregates::SystemClock;
use slsplay_aggregates::virtual_event::{VirtualEventServices, upcasters};
use slsplay_commands::CommandService;
use slsplay_commands::store::{DynamoTables, dynamo_repository};
use slsplay_projections::read_models::TABLES;
use slsplay_projections::store::Queries;
use slsplay_projections::store::dynamo::DynamoReadStore;

use super::idempotency::DynamoIdempotency;
use super::lambda::{ConfigError, env, invitation_secret, optional_env, tokens_from};
use super::s3::S3Blobs;
pub use slsplay_api::auth::jwt::Trust;
use slsplay_api::blobs::MediaUrls;
use slsplay_api::rate_limit::{RateLimit, RateLimiter};
use slsplay_api::{ApiLimits, ApiState, ReadProgress};
use slsplay_graphql::commands::CommandApi;
use slsplay_graphql::{GraphqlMode, GraphqlState, Services};

/// API Gateway throttles on AWS; the Lambdas add no limit of their own.
const NO_LIMIT: RateLimit = RateLimit {
    per_second: 0.0,
    burst: 0.0,
};

/// Which OpenID issuer the Lambdas trust (Cognito's user pool on AWS): `OIDC_ISSUER`,
/// `OIDC_AUDIENCE` (comma separated) and optionally `OIDC_JWKS_URL`.
fn trust_from_env() -> Result<Trust, ConfigError> {
    let audiences: Vec<String> = env("OIDC_AUDIENCE")?
        .split(',')
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect();
    if audiences.is_empty() {
        // No audience would refuse every token: a misconfiguration to see at start-up.
        return Err(ConfigError::invalid("OIDC_AUDIENCE", "it names no app client id"));
    }
    Ok(Trust::new(
        &env("OIDC_ISSUER")?,
        audiences,
        optional_env("OIDC_JWKS_URL")?,
    ))
}

/// The API Lambda's configuration.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub event_table_prefix: String,
    pub read_model_table_prefix: String,
    pub idempotency_table: String,
    pub invitation_secret: Vec<u8>,
    pub media_bucket: String,
    pub media_base_url: String,
    pub s3_endpoint: Option<String>,
    pub trust: Trust,
}

impl ApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            event_table_prefix: env("EVENT_TABLE_PREFIX")?,
            read_model_table_prefix: env("READ_MODEL_TABLE_PREFIX")?,
            idempotency_table: env("IDEMPOTENCY_TABLE")?,
            invitation_secret: invitation_secret()?,
            media_bucket: env("MEDIA_BUCKET")?,
            media_base_url: env("MEDIA_BASE_URL")?,
            s3_endpoint: optional_env("S3_ENDPOINT")?,
            trust: trust_from_env()?,
        })
    }
}

/// The GraphQL Lambda's configuration.
#[derive(Debug, Clone)]
pub struct GraphqlConfig {
    pub read_model_table_prefix: String,
    pub media_base_url: String,
    /// The command API's base URL, ending in `/api`.
    pub command_api_url: String,
    pub trust: Trust,
}

impl GraphqlConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            read_model_table_prefix: env("READ_MODEL_TABLE_PREFIX")?,
            media_base_url: env("MEDIA_BASE_URL")?,
            command_api_url: env("COMMAND_API_URL")?,
            trust: trust_from_env()?,
        })
    }
}

fn queries(dynamodb: &aws_sdk_dynamodb::Client, prefix: &str) -> Queries {
    Queries::Dynamo(DynamoReadStore::new(dynamodb.clone(), prefix, TABLES))
}

/// The command API under `/api`, as the API Lambda serves it.
pub fn api_router(sdk: &aws_config::SdkConfig, config: &ApiConfig) -> Result<Router, ConfigError> {
    let clock = Arc::new(SystemClock);
    let tokens = tokens_from(&config.invitation_secret)?;
    let services = VirtualEventServices::new(clock.clone(), tokens);
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let tables = DynamoTables::with_prefix(&config.event_table_prefix);
    let store = dynamo_repository(dynamodb.clone(), &tables);
    let commands = CommandService::new(store, upcasters(), services, clock.clone());
    let blobs = S3Blobs {
        bucket: config.media_bucket.clone(),
        region: sdk.region().ok_or(ConfigError::Sdk("region"))?.to_string(),
        endpoint: config.s3_endpoint.clone(),
        media_base_url: config.media_base_url.clone(),
        credentials: sdk
            .credentials_provider()
            .ok_or(ConfigError::Sdk("credentials"))?,
        http: reqwest::Client::new(),
        clock: clock.clone(),
    };
    let state = ApiState {
        commands: Arc::new(commands),
        queries: queries(&dynamodb, &config.read_model_table_prefix),
        verifier: Arc::new(config.trust.verifier(clock.clone())),
        blobs: Arc::new(blobs),
        clock,
        // The projection Lambda gives no signal here; single-row reads are consistent.
        progress: ReadProgress::Polled(std::time::Duration::from_millis(20)),
        // No payment provider on AWS yet: paid events answer 503 at checkout.
        payments: None,
    };
    let limits = ApiLimits {
        rate: NO_LIMIT,
        ..ApiLimits::default()
    };
    let keys = DynamoIdempotency::new(dynamodb, &config.idempotency_table);
    Ok(Router::new().nest("/api", slsplay_api::router(state, limits, Arc::new(keys))))
}

/// GraphQL under `/graphql`, as its Lambda serves it: no introspection, no GraphiQL.
pub fn graphql_router(sdk: &aws_config::SdkConfig, config: &GraphqlConfig) -> Router {
    let queries = queries(
        &aws_sdk_dynamodb::Client::new(sdk),
        &config.read_model_table_prefix,
    );
    let services = Services {
        queries: queries.clone(),
        blobs: Arc::new(MediaUrls(config.media_base_url.clone())),
        commands: CommandApi::new(&config.command_api_url),
    };
    let mode = GraphqlMode { introspection: false };
    let state = GraphqlState {
        schema: slsplay_graphql::schema(services, mode),
        verifier: Arc::new(config.trust.verifier(Arc::new(SystemClock))),
        queries,
        mode,
    };
    Router::new().nest(
        "/graphql",
        slsplay_graphql::router(state, RateLimiter::new(NO_LIMIT)),
    )
}
