//! The command benchmark's 10,000 Invite/Rsvp commands over 1,000 events, through cqrs-es's
//! `CqrsFramework` with postgres-es and sqlite-es, as their READMEs set them up (no
//! snapshots: every command replays its aggregate's facts). Prints one table row per store
//! and client count, in the command benchmark's units.
//!
//! Run with `.ci/bench-commands`, which starts PostgreSQL; by hand:
//! `cargo run --release -- postgres://USER@HOST:PORT/DB`.

#[path = "../../benches/shared/workload.rs"]
#[allow(dead_code)] // the workload's helpers for the embedded bench
mod workload;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::{AggregateError, CqrsFramework, EventStore};
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::virtual_event::{
    InvitationTokens, VirtualEvent, VirtualEventCommand, VirtualEventServices,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use workload::{COMMANDS, SECRET, now, p99, per_second};

/// postgres-es's `db/init.sql`, events table only.
const POSTGRES_SCHEMA: &str = "CREATE TABLE events (
    aggregate_type text NOT NULL, aggregate_id text NOT NULL,
    sequence bigint CHECK (sequence >= 0) NOT NULL,
    event_type text NOT NULL, event_version text NOT NULL,
    payload json NOT NULL, metadata json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence))";

/// sqlite-es's migration, events table only.
const SQLITE_SCHEMA: &str = "CREATE TABLE events (
    aggregate_type text NOT NULL, aggregate_id text NOT NULL,
    sequence integer CHECK (sequence >= 0) NOT NULL,
    event_type text NOT NULL, event_version text NOT NULL,
    payload text NOT NULL, metadata text NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)) STRICT";

fn services() -> VirtualEventServices {
    let tokens = InvitationTokens::new(&SECRET).unwrap();
    VirtualEventServices::new(Arc::new(FixedClock::at(now())), tokens)
}

/// Runs one command, retrying on a conflict as our command service does (none are expected:
/// at any moment the clients work on different events).
async fn execute<ES: EventStore<VirtualEvent>>(
    cqrs: &CqrsFramework<VirtualEvent, ES>,
    id: &str,
    command: VirtualEventCommand,
) {
    loop {
        match cqrs.execute(id, command.clone()).await {
            Ok(()) => return,
            Err(AggregateError::AggregateConflict) => continue,
            Err(e) => panic!("command on {id} failed: {e}"),
        }
    }
}

/// The set-up, then the ten rounds with `clients` concurrent clients: commands/s and p99.
async fn run<ES>(cqrs: Arc<CqrsFramework<VirtualEvent, ES>>, clients: usize) -> (f64, Duration)
where
    ES: EventStore<VirtualEvent> + 'static,
    ES::AC: Send,
{
    for (id, command) in workload::set_up() {
        execute(&cqrs, &id, command).await;
    }
    let (mut elapsed, mut latencies) = (Duration::ZERO, Vec::new());
    for round in workload::rounds() {
        let queue = Arc::new(std::sync::Mutex::new(round.into_iter()));
        let started = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let (queue, cqrs) = (queue.clone(), cqrs.clone());
            workers.spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let next = queue.lock().unwrap().next();
                    let Some((id, command)) = next else { break };
                    let sent = Instant::now();
                    execute(&cqrs, &id, command).await;
                    latencies.push(sent.elapsed());
                }
                latencies
            });
        }
        while let Some(done) = workers.join_next().await {
            latencies.extend(done.unwrap());
        }
        elapsed += started.elapsed();
    }
    (per_second(COMMANDS, elapsed), p99(&mut latencies))
}

fn row(store: &str, durability: &str, clients: usize, (rate, p99): (f64, Duration)) {
    println!(
        "| {store} | {durability} | {clients} | {rate:>8.0} | {:.2} ms |",
        p99.as_secs_f64() * 1e3
    );
}

async fn postgres(url: &str, clients: usize) -> (f64, Duration) {
    // A fresh table per run, as the embedded runs each start from an empty file.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect(url)
        .await
        .expect("PostgreSQL is reachable");
    sqlx::query("DROP TABLE IF EXISTS events")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(POSTGRES_SCHEMA).execute(&pool).await.unwrap();
    let cqrs = Arc::new(postgres_es::postgres_cqrs(pool, vec![], services()));
    run(cqrs, clients).await
}

async fn sqlite(synchronous: SqliteSynchronous, clients: usize) -> (f64, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite3");
    // sqlite-es's `default_sqlite_pool`, with the durability asked for.
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .unwrap()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(10)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::query(SQLITE_SCHEMA).execute(&pool).await.unwrap();
    let cqrs = Arc::new(sqlite_es::sqlite_cqrs(pool, vec![], services()));
    run(cqrs, clients).await
}

#[tokio::main]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: slsplay-peers-bench postgres://USER@HOST:PORT/DB");
    println!("| store | durability | clients | commands/s | command p99 |");
    println!("|---|---|---|---|---|");
    for clients in [1, 8] {
        row(
            "postgres-es",
            "fsync, synchronous_commit on",
            clients,
            postgres(&url, clients).await,
        );
        row(
            "sqlite-es",
            "WAL, synchronous FULL",
            clients,
            sqlite(SqliteSynchronous::Full, clients).await,
        );
        row(
            "sqlite-es",
            "WAL, synchronous NORMAL (its default)",
            clients,
            sqlite(SqliteSynchronous::Normal, clients).await,
        );
    }
}
