//! The `slsplay` command line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{DataDir, DevConfig};
use crate::platform::Platform;
use crate::server::{self, AppState};

#[derive(Debug, Parser)]
#[command(
    name = "slsplay",
    version,
    about = "Virtual VIP events: the whole platform on one machine"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the platform locally on embedded defaults (no Docker, no AWS account).
    Dev(DevConfig),
    /// Print what happened to one event, fact by fact, and the state it adds up to.
    History {
        /// The event's id.
        event_id: String,
        #[command(flatten)]
        data_dir: DataDir,
        /// Print only the stored facts as JSON lines, for replay in tests.
        #[arg(long)]
        jsonl: bool,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev(config) => dev(config).await,
        Command::History {
            event_id,
            data_dir,
            jsonl,
        } => crate::history::print(&data_dir, &event_id, jsonl, &mut std::io::stdout().lock()).await,
    }
}

async fn dev(config: DevConfig) -> anyhow::Result<()> {
    let platform = Arc::new(Platform::open(&config.data_dir, config.durability)?);
    tracing::info!(
        data_dir = %config.data_dir.path.display(),
        durability = ?config.durability,
        head_position = platform.store.head(),
        "event store open"
    );
    let address = SocketAddr::new(config.bind, config.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("listening on {address}"))?;
    server::serve(
        listener,
        AppState {
            platform: platform.clone(),
            started: Instant::now(),
        },
    )
    .await?;
    // Every request has finished; dropping the last handle closes SQLite, which checkpoints
    // the write-ahead log into the database file.
    drop(platform);
    tracing::info!("stopped");
    Ok(())
}
