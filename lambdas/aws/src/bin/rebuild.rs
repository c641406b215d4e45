//! Operator command: rebuilds one builder's store on AWS from the whole history, past the
//! stream's 24 hours, into fresh tables (or a fresh OpenSearch index); then point the builder
//! and the APIs at them (READ_MODEL_TABLE_PREFIX, OPENSEARCH_INDEX) and retire the old ones.
//! Runs where AWS credentials are (a shell, CloudShell, a one-off task), not as a Lambda:
//! a full rebuild can outlast Lambda's 15 minutes.
//!
//! ```sh
//! EVENT_TABLE_PREFIX=prod FACT_INDEX_TABLE=prodFactIndex \
//!   cargo run --release -p slsplay-aws --bin rebuild -- read_models --into prod-v2-
//! ```

use std::sync::Arc;

use clap::{Parser, ValueEnum};
use lambda_runtime::Error;
use slsplay_aggregates::virtual_event::upcasters;
use slsplay_aws::fact_index::DynamoFactIndex;
use slsplay_aws::lambda::{ConfigError, env, event_store, init_logging, sdk_config};
use slsplay_aws::opensearch::OpenSearchIndex;
use slsplay_aws::rebuild::rebuild_from_index;
use slsplay_commands::store::DynamoTables;
use slsplay_projections::builder::{Builder, ReadModels};
use slsplay_projections::read_models::TABLES;
use slsplay_projections::search::Search;
use slsplay_projections::store::dynamo::DynamoReadStore;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Rebuilt {
    /// The read model tables.
    ReadModels,
    /// The OpenSearch index (and its builder's checkpoints).
    Search,
}

/// Rebuild a builder's store from the fact index (EVENT_TABLE_PREFIX and FACT_INDEX_TABLE
/// name the event table and the index; the AWS SDK's usual credentials and region).
#[derive(Debug, Parser)]
#[command(name = "rebuild")]
struct Args {
    builder: Rebuilt,
    /// The table prefix of the fresh store: the read model tables, or the search builder's
    /// checkpoints. Tables that do not exist are created; they should be empty.
    #[arg(long)]
    into: String,
    /// For `search`: the fresh OpenSearch index (OPENSEARCH_ENDPOINT and OPENSEARCH_SERVICE
    /// name the domain, as for the search Lambda).
    #[arg(long)]
    index: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let args = Args::parse();
    let config = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let events_table = DynamoTables::with_prefix(&env("EVENT_TABLE_PREFIX")?).events;
    let index = DynamoFactIndex::new(dynamodb.clone(), env("FACT_INDEX_TABLE")?);
    let applied = match args.builder {
        Rebuilt::ReadModels => {
            let fresh = DynamoReadStore::new(dynamodb.clone(), args.into.as_str(), TABLES);
            fresh.create_tables().await?;
            let builder = Builder::new(ReadModels, fresh, event_store(&dynamodb)?, upcasters());
            rebuild_from_index(&index, &dynamodb, &events_table, &builder).await?
        }
        Rebuilt::Search => {
            let name = args.index.ok_or("search needs --index, the fresh index")?;
            let credentials = config
                .credentials_provider()
                .ok_or(ConfigError::Sdk("credentials"))?;
            let region = config.region().cloned().ok_or(ConfigError::Sdk("region"))?;
            let search_index = OpenSearchIndex::new(
                &env("OPENSEARCH_ENDPOINT")?,
                name,
                credentials,
                region,
                &env("OPENSEARCH_SERVICE")?,
            )?;
            search_index.ensure_index().await?;
            let checkpoints = DynamoReadStore::new(dynamodb.clone(), args.into.as_str(), &[]);
            checkpoints.create_tables().await?;
            let search = Search::new(event_store(&dynamodb)?, upcasters(), Arc::new(search_index));
            let builder = Builder::new(search, checkpoints, event_store(&dynamodb)?, upcasters());
            rebuild_from_index(&index, &dynamodb, &events_table, &builder).await?
        }
    };
    println!("rebuilt {:?} from {applied} facts", args.builder);
    Ok(())
}
