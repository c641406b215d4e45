//! The `slsplay` command line.

use std::sync::Arc;

use clap::{Parser, Subcommand};
use slsplay_aggregates::SystemClock;
use slsplay_projections::queue::{EmbeddedQueues, QueuePolicy};

use crate::config::{DataDir, DevConfig};
use crate::dev_oidc::{DevOidc, TestIdentity};

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
    /// Manage the projection builders.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Inspect and redrive messages that failed too often (dead-letter queues).
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Print a sign-in token (a JWT) of the development provider for a test identity, for
    /// scripts and tests: `curl -H "Authorization: Bearer $(slsplay dev-token --email a@b.c)"`.
    DevToken {
        #[arg(long)]
        email: String,
        /// The social provider the identity comes from.
        #[arg(long, default_value = "Google", value_parser = ["Google", "Facebook", "Apple"])]
        provider: String,
        #[arg(long)]
        name: Option<String>,
        /// How long the token is valid.
        #[arg(long = "ttl-seconds", default_value_t = crate::dev_oidc::TOKEN_LIFETIME_SECONDS)]
        ttl_seconds: i64,
        #[command(flatten)]
        data_dir: DataDir,
        /// The platform's public address, as `slsplay dev` was given it (the token's issuer).
        #[arg(
            long = "public-url",
            env = "SLSPLAY_PUBLIC_URL",
            default_value = "http://127.0.0.1:3000"
        )]
        public_url: String,
    },
    /// Search events as a given user would (JSON lines: id, title, start, status).
    Search {
        /// Words to look for in titles and descriptions; empty lists everything visible.
        #[arg(default_value = "")]
        text: String,
        /// The user searching (their own events are visible).
        #[arg(long = "as")]
        user: String,
        /// Their verified email (the events they are invited to are visible).
        #[arg(long)]
        email: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        data_dir: DataDir,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Replay the whole history into fresh read models, then switch to them (platform stopped).
    Rebuild {
        /// The builder to rebuild (the email outbox is history and is never rebuilt).
        #[arg(default_value = "read_models", value_parser = crate::rebuild::BUILDERS)]
        name: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Print the dead messages as JSON lines (id, queue, group, error, body).
    List {
        /// Only this queue.
        #[arg(long)]
        queue: Option<String>,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Put the dead messages back in their queues, with fresh retries.
    Redrive {
        #[arg(long)]
        queue: Option<String>,
        #[command(flatten)]
        data_dir: DataDir,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev(config) => crate::platform::run(config).await,
        Command::History {
            event_id,
            data_dir,
            jsonl,
        } => crate::history::print(&data_dir, &event_id, jsonl, &mut std::io::stdout().lock()).await,
        Command::Projections(ProjectionsCommand::Rebuild { name, data_dir }) => {
            let applied = crate::rebuild::rebuild(&data_dir, &name, &mut std::io::stderr()).await?;
            println!("rebuilt {name} from {applied} facts");
            Ok(())
        }
        Command::Dlq(command) => dlq(command).await,
        Command::DevToken {
            email,
            provider,
            name,
            ttl_seconds,
            data_dir,
            public_url,
        } => {
            let email =
                slsplay_aggregates::validation::email(&email).map_err(|e| anyhow::anyhow!("--email {e}"))?;
            std::fs::create_dir_all(&data_dir.path)?;
            let provider_key = DevOidc::open(&data_dir.dev_oidc_key(), &public_url, Arc::new(SystemClock))?;
            let who = TestIdentity {
                email,
                name,
                provider,
            };
            println!("{}", provider_key.token_for(&who, ttl_seconds)?);
            Ok(())
        }
        Command::Search {
            text,
            user,
            email,
            limit,
            data_dir,
        } => search(&text, user, email, limit, &data_dir),
    }
}

fn search(
    text: &str,
    user_id: String,
    email: Option<String>,
    limit: usize,
    data_dir: &DataDir,
) -> anyhow::Result<()> {
    let path = data_dir.search_index();
    anyhow::ensure!(
        path.exists(),
        "no search index at {} (is --data-dir right?)",
        path.display()
    );
    let index = slsplay_projections::search::SearchIndex::open(&path, false)?;
    let viewer = slsplay_projections::search::Viewer { user_id, email };
    for hit in index.search_now(text, &viewer, limit)? {
        println!("{}", serde_json::to_string(&hit)?);
    }
    Ok(())
}

async fn dlq(command: DlqCommand) -> anyhow::Result<()> {
    let (queue, data_dir) = match &command {
        DlqCommand::List { queue, data_dir } | DlqCommand::Redrive { queue, data_dir } => {
            (queue.as_deref(), data_dir)
        }
    };
    let path = data_dir.queues();
    anyhow::ensure!(
        path.exists(),
        "no queues at {} (is --data-dir right?)",
        path.display()
    );
    let queues = EmbeddedQueues::open(path, QueuePolicy::default(), Arc::new(SystemClock))?;
    match command {
        DlqCommand::List { .. } => {
            for dead in queues.dead_letters(queue).await? {
                println!("{}", serde_json::to_string(&dead)?);
            }
        }
        DlqCommand::Redrive { .. } => {
            let n = queues.redrive(queue).await?;
            println!("redrove {n} messages");
        }
    }
    Ok(())
}
