//! Command throughput on the embedded store, next to raw SQLite inserts of the same rows in the
//! same run, and the cost of loading an aggregate with 1,000 facts.
//!
//! Run with: cargo bench -p slsplay-commands --bench command_throughput
//! (figures go to the README; nothing here asserts a speed).

use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "shared/workload.rs"]
mod workload;

use rusqlite::{Connection, params};
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::virtual_event::{
    InvitationCredential, InvitationTokens, RsvpAnswer, VirtualEvent, VirtualEventCommand,
    VirtualEventServices, invitation_id, upcasters,
};
use slsplay_commands::store::{Durability, SqliteEventRepository, SqliteOptions};
use slsplay_commands::{CommandContext, CommandService};
use workload::{COMMANDS, EVENTS, SECRET, create, guest, now, p99, per_second, publish};

type Service = CommandService<VirtualEvent, SqliteEventRepository>;

fn service(repo: SqliteEventRepository) -> Service {
    let clock = Arc::new(FixedClock::at(now()));
    let tokens = InvitationTokens::new(&SECRET).unwrap();
    // As `slsplay dev` runs it: the only writer of its store.
    CommandService::new(
        repo,
        upcasters(),
        VirtualEventServices::new(clock.clone(), tokens),
        clock,
    )
    .trust_cached_copies()
}

fn options(durability: Durability) -> SqliteOptions {
    SqliteOptions {
        durability,
        ..SqliteOptions::default()
    }
}

/// Runs `work` with `concurrency` clients; returns the wall time and each command's latency.
async fn run_commands(
    commands: Arc<Service>,
    work: Vec<(String, VirtualEventCommand)>,
    concurrency: usize,
) -> (Duration, Vec<Duration>) {
    let queue = Arc::new(std::sync::Mutex::new(work.into_iter()));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (queue, commands) = (queue.clone(), commands.clone());
        workers.spawn(async move {
            let context = CommandContext::new("bench");
            let mut latencies = Vec::new();
            loop {
                let next = queue.lock().unwrap().next();
                let Some((id, command)) = next else { break };
                let sent = Instant::now();
                let committed = commands
                    .execute(&id, command, &context)
                    .await
                    .expect("command succeeds");
                latencies.push(sent.elapsed());
                assert_eq!(committed.facts.len(), 1);
            }
            latencies
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = workers.join_next().await {
        latencies.extend(done.unwrap());
    }
    (started.elapsed(), latencies)
}

/// A fresh events table with the store's schema and durability, for raw inserts.
fn raw_table(dir: &std::path::Path, name: &str, durability: Durability) -> Connection {
    let path = dir.join(name);
    drop(SqliteEventRepository::open(&path, options(durability)).unwrap()); // same schema
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    let sync = if durability == Durability::Full {
        "FULL"
    } else {
        "NORMAL"
    };
    conn.pragma_update(None, "synchronous", sync).unwrap();
    conn
}

/// Inserts the rows one transaction per row, as each command commits, or all in one
/// transaction: the floor and the ceiling of what SQLite itself does.
fn raw_inserts(conn: &mut Connection, rows: &[[String; 7]], per_row: bool) -> Duration {
    let sql = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    let started = Instant::now();
    if per_row {
        for r in rows {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .unwrap();
            tx.prepare_cached(sql)
                .unwrap()
                .execute(params![r[0], r[1], r[2], r[3], r[4], r[5], r[6]])
                .unwrap();
            tx.commit().unwrap();
        }
    } else {
        let tx = conn.transaction().unwrap();
        for r in rows {
            tx.prepare_cached(sql)
                .unwrap()
                .execute(params![r[0], r[1], r[2], r[3], r[4], r[5], r[6]])
                .unwrap();
        }
        tx.commit().unwrap();
    }
    started.elapsed()
}

fn rows_after(path: &std::path::Path, position: u64) -> Vec<[String; 7]> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
             FROM events WHERE position > ?1 ORDER BY position",
        )
        .unwrap();
    stmt.query_map([position], |r| {
        Ok([
            r.get(0)?,
            r.get(1)?,
            r.get::<_, i64>(2)?.to_string(),
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ])
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

async fn throughput(durability: Durability, concurrency: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite3");
    let repo = SqliteEventRepository::open(&path, options(durability)).unwrap();
    let commands = Arc::new(service(repo.clone()));
    let context = CommandContext::new("bench");
    for (id, command) in workload::set_up() {
        commands.execute(&id, command, &context).await.unwrap();
    }
    // The disk's speed drifts on a shared machine: each round of commands is followed by the
    // raw inserts of the rows it wrote, so both are timed under the same conditions.
    let mut raw = raw_table(dir.path(), "raw.sqlite3", durability);
    let (mut ours, mut raw_per_row, mut latencies) = (Duration::ZERO, Duration::ZERO, Vec::new());
    let mut all_rows = Vec::new();
    for round in workload::rounds() {
        let before = repo.head();
        let (elapsed, round_latencies) = run_commands(commands.clone(), round, concurrency).await;
        ours += elapsed;
        latencies.extend(round_latencies);
        let rows = rows_after(&path, before);
        assert_eq!(rows.len(), EVENTS);
        raw_per_row += raw_inserts(&mut raw, &rows, true);
        all_rows.extend(rows);
    }
    let mut batched = raw_table(dir.path(), "raw-batched.sqlite3", durability);
    let raw_batched = raw_inserts(&mut batched, &all_rows, false);
    let p99 = p99(&mut latencies);
    let (ours, raw) = (
        per_second(COMMANDS, ours),
        per_second(all_rows.len(), raw_per_row),
    );
    println!(
        "| {durability:?} | {concurrency} | {ours:>8.0} | {:.2} ms | {raw:>8.0} | {:>9.0} | {:.2}x |",
        p99.as_secs_f64() * 1e3,
        per_second(all_rows.len(), raw_batched),
        ours / raw
    );
}

async fn load_1k_facts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite3");
    let commands = service(SqliteEventRepository::open(&path, options(Durability::Normal)).unwrap());
    let context = CommandContext::new("bench");
    let id = "big";
    commands.execute(id, create(id, None), &context).await.unwrap();
    commands.execute(id, publish(), &context).await.unwrap();
    let tokens = InvitationTokens::new(&SECRET).unwrap();
    for batch in 0..10 {
        let emails = (0..100).map(|i| guest(0, batch * 100 + i)).collect();
        commands
            .execute(
                id,
                VirtualEventCommand::Invite {
                    organizer: "org".into(),
                    emails,
                },
                &context,
            )
            .await
            .unwrap();
    }
    // Accept and decline in turn until the event has 1,000 facts.
    let mut version = 12;
    let mut i = 0;
    while version < 1_000 {
        let email = guest(0, i % 1_000);
        let token = tokens.token_for(id, &invitation_id(id, &email));
        let answer = if (i / 1_000) % 2 == 0 {
            RsvpAnswer::Accept
        } else {
            RsvpAnswer::Decline
        };
        let rsvp = VirtualEventCommand::Rsvp {
            credential: InvitationCredential::Token(token),
            answer,
        };
        version = commands.execute(id, rsvp, &context).await.unwrap().version;
        i += 1;
    }
    let second_handle = SqliteEventRepository::open(&path, options(Durability::Normal)).unwrap();
    let replaying = service(second_handle).with_cached_aggregates(0);
    let replay = time_loads(&replaying, id).await;
    let cached = time_loads(&commands, id).await;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("\nLoad of one aggregate with 1,000 facts, 200 loads each:\n");
    println!("| load | p50 | p99 |");
    println!("|---|---|---|");
    println!(
        "| replay of all 1,000 facts (first use in a process) | {:.2} ms | {:.2} ms |",
        ms(replay.0),
        ms(replay.1)
    );
    println!(
        "| in-memory copy + check for newer facts | {:.3} ms | {:.3} ms |",
        ms(cached.0),
        ms(cached.1)
    );
}

/// (p50, p99) of 200 loads.
async fn time_loads(commands: &Service, id: &str) -> (Duration, Duration) {
    let mut times = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let (_, v) = commands.load(id).await.unwrap();
        times.push(started.elapsed());
        assert_eq!(v, 1_000);
    }
    times.sort();
    (times[100], times[198])
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!("{COMMANDS} Invite/Rsvp commands over {EVENTS} events (one fact each), per second:\n");
        println!("| durability | clients | commands/s | command p99 | raw inserts/s (1 tx per row) | raw inserts/s (1 tx) | commands / raw per-row |");
        println!("|---|---|---|---|---|---|---|");
        // Optional filters, e.g. `-- full 1`: a durability, a client count, or both.
        let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
        let durabilities: Vec<Durability> = args.iter().filter_map(|a| a.parse().ok()).collect();
        let clients: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
        for durability in [Durability::Full, Durability::Normal] {
            for concurrency in [1, 8] {
                if (durabilities.is_empty() || durabilities.contains(&durability))
                    && (clients.is_empty() || clients.contains(&concurrency))
                {
                    throughput(durability, concurrency).await;
                }
            }
        }
        if args.is_empty() {
            load_1k_facts().await;
        }
    });
}
