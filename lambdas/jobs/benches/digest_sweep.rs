//! What one digest run costs with few and with many events in the read models, 10 due in
//! both: it should grow with the work due, not with the tables. Run with
//! `cargo bench -p slsplay-jobs --bench digest_sweep` (figures go to the README; nothing here
//! asserts a speed).
//!
//! The filler events share the due events' day (the worst case for the by-start index: one
//! partition holds them all), half of them starting before the window and half after it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::virtual_event::{CreateEvent, VirtualEventCommand as C};
use slsplay_commands::CommandContext;
use slsplay_jobs::{JobName, Jobs};
use slsplay_projections::read_models::projector::timestamp;
use slsplay_projections::read_models::{EventByStart, EventStatus};
use slsplay_projections::store::sqlite::SqliteQueries;
use slsplay_projections::store::{Queries, ReadStore, ReadTx};
use slsplay_tests::fixtures::{self, ORGANIZER, guest};
use slsplay_tests::projection::{catch_up, read_model_builder};
use slsplay_tests::stores::{SqliteStore, StoreUnderTest, service};

const DUE: usize = 10;
const RUNS: usize = 5;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-05-01T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A fresh platform with `events` rows in `events_by_start`, `DUE` of them real events
/// starting within the hour; the time of one digest run over it.
async fn one_run(events: usize) -> Duration {
    let store = SqliteStore::new();
    let dir = tempfile::tempdir().unwrap();
    let clock = FixedClock::at(now() - chrono::Duration::days(1));
    let commands = Arc::new(service(store.open(), &clock));
    let ctx = CommandContext::new(ORGANIZER);
    for i in 0..DUE {
        let id = format!("ev-due-{i}");
        let C::CreateEvent(create) = fixtures::create(&id, None) else {
            unreachable!()
        };
        let create = CreateEvent {
            starts_at: now() + chrono::Duration::minutes(20 + i as i64),
            ..create
        };
        commands.execute(&id, C::CreateEvent(create), &ctx).await.unwrap();
        commands.execute(&id, fixtures::publish(), &ctx).await.unwrap();
        commands
            .execute(&id, fixtures::invite([guest(i)]), &ctx)
            .await
            .unwrap();
    }
    let builder = read_model_builder(store.open(), dir.path());
    catch_up(&store.open(), &builder).await;
    let mut tx = builder.store().begin().await.unwrap();
    let others = events - DUE;
    for i in 0..others {
        // Before the window: 00:00..08:59; after it: 10:01..23:59.
        let minute = if i < others / 2 {
            (i * 539 / (others / 2).max(1)) as i64
        } else {
            601 + ((i - others / 2) * 838 / (others - others / 2).max(1)) as i64
        };
        let starts_at = timestamp(now() - chrono::Duration::hours(9) + chrono::Duration::minutes(minute));
        let event_id = format!("ev-filler-{i:06}");
        tx.put(EventByStart {
            start_day: starts_at[..10].to_owned(),
            start_key: format!("{starts_at}#{event_id}"),
            event_id,
            starts_at,
            organizer: ORGANIZER.into(),
            status: EventStatus::Published,
            invited: 3,
            ..EventByStart::default()
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    // As a platform's file is between bursts: its write-ahead log folded in.
    rusqlite::Connection::open(dir.path().join("read_models.sqlite3"))
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let queries = SqliteQueries::open(dir.path().join("read_models.sqlite3")).unwrap();
    clock.set(now());
    let jobs = Jobs::new(commands, Queries::Sqlite(queries), Arc::new(clock));
    let started = Instant::now();
    let report = jobs.run(JobName::Digest).await.unwrap();
    let took = started.elapsed();
    assert_eq!((report.due, report.done), (DUE, DUE), "{report:?}");
    took
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut medians = Vec::new();
        for events in [1_000, 100_000] {
            let mut runs = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                runs.push(one_run(events).await);
            }
            let shown: Vec<String> = runs
                .iter()
                .map(|d| format!("{:.2}", d.as_secs_f64() * 1e3))
                .collect();
            let m = median(runs);
            println!(
                "digest sweep, {events} events ({DUE} due): median {:.2} ms of {RUNS} runs ({} ms)",
                m.as_secs_f64() * 1e3,
                shown.join(", ")
            );
            medians.push(m);
        }
        println!(
            "100,000 vs 1,000 events: {:.2}x",
            medians[1].as_secs_f64() / medians[0].as_secs_f64()
        );
    });
}
