//! The `slsplay` command line.

use std::sync::Arc;

use clap::{Parser, Subcommand};
use slsplay_aggregates::{Clock, SystemClock};
use slsplay_projections::queue::{EmbeddedQueues, QueuePolicy};

use crate::config::{DataDir, DevConfig, PublicUrl};
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
    /// How far behind each builder is, its queue and dead letters, and the event store's head
    /// (JSON): from the running platform's /health, else read from the data folder.
    Status {
        #[command(flatten)]
        data_dir: DataDir,
        #[command(flatten)]
        platform: PublicUrl,
    },
    /// The scheduled jobs, which `slsplay dev` runs every minute.
    #[command(subcommand)]
    Jobs(JobsCommand),
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
        /// (the token's issuer)
        #[command(flatten)]
        platform: PublicUrl,
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
pub enum JobsCommand {
    /// Run one job once now and print what it did (JSON). While `slsplay dev` runs on the
    /// data folder, the running platform runs it (at --public-url); otherwise this process
    /// does, and the running platform's builders send its emails when it next starts.
    Run {
        #[arg(value_parser = ["digest", "reminders", "seat-holds", "close-invitations", "retention"])]
        name: String,
        /// As `dev --retention-days` (when this process runs the job).
        #[arg(long = "retention-days", env = "SLSPLAY_RETENTION_DAYS", default_value_t = 30)]
        retention_days: u32,
        #[command(flatten)]
        data_dir: DataDir,
        #[command(flatten)]
        platform: PublicUrl,
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
        Command::Status { data_dir, platform } => status(&data_dir, &platform).await,
        Command::Jobs(JobsCommand::Run {
            name,
            retention_days,
            data_dir,
            platform,
        }) => run_job(&name, retention_days, &data_dir, &platform).await,
        Command::DevToken {
            email,
            provider,
            name,
            ttl_seconds,
            data_dir,
            platform,
        } => {
            let email =
                slsplay_aggregates::validation::email(&email).map_err(|e| anyhow::anyhow!("--email {e}"))?;
            std::fs::create_dir_all(&data_dir.path)?;
            let provider_key = DevOidc::open(
                &data_dir.dev_oidc_key(),
                &platform.public_url,
                Arc::new(SystemClock),
            )?;
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

/// When `slsplay dev` holds the data folder: its answer to `method path` (JSON). None when no
/// process holds it, so the caller may open the folder itself.
async fn ask_running(
    data_dir: &DataDir,
    platform: &PublicUrl,
    method: reqwest::Method,
    path: &str,
) -> anyhow::Result<Option<serde_json::Value>> {
    if data_dir.lock().is_ok() {
        return Ok(None);
    }
    let url = format!("{}{path}", platform.public_url.trim_end_matches('/'));
    let answer = reqwest::Client::new()
        .request(method, &url)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "{} is in use, but no platform answers at {url}: {e}",
                data_dir.path.display()
            )
        })?;
    anyhow::ensure!(answer.status().is_success(), "{url} answered {}", answer.status());
    Ok(Some(answer.json().await?))
}

async fn status(data_dir: &DataDir, platform: &PublicUrl) -> anyhow::Result<()> {
    let report = if let Some(health) =
        ask_running(data_dir, platform, reqwest::Method::GET, "/health").await?
    {
        health
    } else {
        anyhow::ensure!(
            data_dir.event_store().exists(),
            "no event store at {} (is --data-dir right?)",
            data_dir.event_store().display()
        );
        let store =
            slsplay_commands::store::SqliteEventRepository::open(data_dir.event_store(), Default::default())?;
        let queues = EmbeddedQueues::open(data_dir.queues(), QueuePolicy::default(), Arc::new(SystemClock))?;
        let diagnostics = crate::diagnostics::diagnose(&store, &queues, SystemClock.now()).await?;
        serde_json::json!({ "status": "stopped", "event_store": diagnostics.event_store,
            "fan_out": diagnostics.fan_out, "builders": diagnostics.builders })
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn run_job(
    name: &str,
    retention_days: u32,
    data_dir: &DataDir,
    platform: &PublicUrl,
) -> anyhow::Result<()> {
    let job: slsplay_jobs::JobName = name.parse()?;
    let path = format!("/dev/jobs/{job}");
    let report = if let Some(report) = ask_running(data_dir, platform, reqwest::Method::POST, &path).await? {
        report
    } else {
        crate::platform::rebuild_outdated_read_models(data_dir).await?;
        let mail = crate::config::MailConfig::default().settings();
        let local = crate::platform::Platform::open(data_dir, Default::default(), mail)?
            .with_retention_days(retention_days);
        serde_json::to_value(local.jobs.run(job).await?)?
    };
    println!("{report}");
    let failed = report["failed"].as_array().is_some_and(|f| !f.is_empty());
    anyhow::ensure!(
        !failed,
        "the job ran with failures (above); running it again retries them"
    );
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
