//! The local asynchronous tier: replay speed of a rebuild, and projection lag under a steady
//! command load. Run with: cargo bench -p slsplay-local --bench async_tier [-- replay|lag]
//! (figures go to the README; nothing here asserts a speed).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cqrs_es::EventEnvelope;
use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use slsplay_aggregates::virtual_event::{
    Created, InvitationIssued, VirtualEvent, VirtualEventFact as F, invitation_id,
};
use slsplay_commands::store::{Durability, SqliteEventRepository, SqliteOptions};
use slsplay_local::config::{DataDir, MailConfig};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// 100 facts of one event: created, published, 100 guests invited in two facts, then 96
/// answers (accept, then decline, on successive guests).
fn history(event: &str) -> Vec<F> {
    let at = now();
    let mut facts = vec![
        F::Created(Created {
            event_id: event.into(),
            organizer: "org".into(),
            title: "Replay night".into(),
            description: "A description of moderate length, as organizers write them.".into(),
            starts_at: at + chrono::Duration::days(30),
            time_zone: "Europe/Madrid".into(),
            duration_minutes: 60,
            capacity: None,
            ticket_price: None,
            meeting_url: "https://meet.example.com/replay".into(),
            organizer_contact: None,
            at,
        }),
        F::Published { at },
    ];
    let email = |i: usize| format!("guest{i}@example.com");
    for half in 0..2 {
        let invitations = (half * 50..half * 50 + 50)
            .map(|i| InvitationIssued {
                invitation_id: invitation_id(event, &email(i)),
                email: email(i),
                token_hash: format!("{i:064}"),
            })
            .collect();
        facts.push(F::GuestsInvited { invitations, at });
    }
    for i in 0..96 {
        let invitation_id = invitation_id(event, &email(i / 2));
        facts.push(if i % 2 == 0 {
            F::InvitationAccepted { invitation_id, at }
        } else {
            F::InvitationDeclined { invitation_id, at }
        });
    }
    facts
}

fn serialized(event: &str, facts: Vec<F>) -> Vec<SerializedEvent> {
    let metadata = HashMap::from([("actor".to_owned(), "bench".to_owned())]);
    facts
        .into_iter()
        .enumerate()
        .map(|(i, payload)| {
            let envelope = EventEnvelope::<VirtualEvent> {
                aggregate_id: event.into(),
                sequence: i + 1,
                payload,
                metadata: metadata.clone(),
            };
            SerializedEvent::try_from(&envelope).unwrap()
        })
        .collect()
}

async fn replay(facts_wanted: usize) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir {
        path: dir.path().to_path_buf(),
    };
    let store = SqliteEventRepository::open(
        data_dir.event_store(),
        SqliteOptions {
            durability: Durability::Normal,
            ..Default::default()
        },
    )
    .unwrap();
    let events = facts_wanted / 100;
    let started = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    for chunk in 0..8 {
        let store = store.clone();
        writers.spawn(async move {
            for e in (chunk..events).step_by(8) {
                let id = format!("ev{e}");
                store
                    .persist::<VirtualEvent>(&serialized(&id, history(&id)), None)
                    .await
                    .unwrap();
            }
        });
    }
    while writers.join_next().await.is_some() {}
    println!(
        "wrote {} facts of {events} events in {:.1} s",
        store.head(),
        started.elapsed().as_secs_f64()
    );
    drop(store);

    // The ceiling a rebuild could reach: the store read page by page and each fact decoded, as
    // a rebuild's reading thread does, with nothing applied.
    let store = SqliteEventRepository::open(data_dir.event_store(), SqliteOptions::default()).unwrap();
    let upcasters = slsplay_aggregates::virtual_event::upcasters();
    let started = Instant::now();
    let (mut position, mut decoded) = (0, 0);
    loop {
        let page = store
            .read_from(position, slsplay_local::rebuild::PAGE)
            .await
            .unwrap();
        let Some(last) = page.last().and_then(|f| f.position) else {
            break;
        };
        position = last;
        decoded += slsplay_projections::builder::decode_page(page, &upcasters)
            .unwrap()
            .len();
    }
    let read = started.elapsed();
    drop(store);

    // Both builders a rebuild can replay, one after the other as an operator would run them;
    // the email outbox is never rebuilt (it is the record of what was sent).
    println!("\n| builder | facts | events | rebuild time | facts/s |\n|---|---|---|---|---|");
    println!(
        "| (reading and decoding only) | {decoded} | {events} | {:.1} s | {:.0} |",
        read.as_secs_f64(),
        decoded as f64 / read.as_secs_f64()
    );
    for builder in slsplay_local::rebuild::BUILDERS {
        let started = Instant::now();
        let applied = slsplay_local::rebuild::rebuild(&data_dir, builder, &mut std::io::sink())
            .await
            .unwrap();
        let elapsed = started.elapsed();
        println!(
            "| {builder} | {applied} | {events} | {:.1} s | {:.0} |",
            elapsed.as_secs_f64(),
            applied as f64 / elapsed.as_secs_f64()
        );
    }
}

/// Commands at a steady rate through the local platform; for each, the time from its
/// acknowledgement until the event's page in the read model shows its version.
async fn lag(rate: u32, seconds: u32) {
    use slsplay_aggregates::virtual_event::{CreateEvent, VirtualEventCommand};
    use slsplay_commands::CommandContext;
    use slsplay_local::pipeline::Pipeline;
    use slsplay_local::platform::Platform;

    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir {
        path: dir.path().to_path_buf(),
    };
    let platform = Platform::open(&data_dir, Durability::Full, MailConfig::default().settings()).unwrap();
    let pipeline = Pipeline::start(&platform, None);
    let commands = platform.commands.clone();
    let ctx = CommandContext::new("org");
    const EVENTS: usize = 200;
    for e in 0..EVENTS {
        let id = format!("ev{e}");
        let create = CreateEvent {
            event_id: id.clone(),
            organizer: "org".into(),
            title: "Lag night".into(),
            description: String::new(),
            starts_at: Utc::now() + chrono::Duration::days(30),
            time_zone: "Europe/Madrid".into(),
            duration_minutes: 60,
            capacity: None,
            ticket_price: None,
            meeting_url: "https://meet.example.com/lag".into(),
            organizer_contact: None,
        };
        commands
            .execute(&id, VirtualEventCommand::CreateEvent(create), &ctx)
            .await
            .unwrap();
    }

    let (acks, mut acked) = tokio::sync::mpsc::unbounded_channel::<(usize, usize, Instant)>();
    let total = (rate * seconds) as usize;
    let driver = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut sent = tokio::task::JoinSet::new();
        for n in 0..total {
            tick.tick().await;
            let (commands, acks) = (commands.clone(), acks.clone());
            sent.spawn(async move {
                let e = n % EVENTS;
                let invite = VirtualEventCommand::Invite {
                    organizer: "org".into(),
                    emails: vec![format!("g{n}@example.com")],
                };
                let done = commands
                    .execute(&format!("ev{e}"), invite, &CommandContext::new("org"))
                    .await
                    .unwrap();
                let _ = acks.send((e, done.version, Instant::now()));
            });
        }
        while sent.join_next().await.is_some() {}
    });

    let conn = rusqlite::Connection::open_with_flags(
        data_dir.read_models(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut pending: Vec<(usize, usize, Instant)> = Vec::new();
    let mut lags: Vec<Duration> = Vec::with_capacity(total);
    let started = Instant::now();
    while lags.len() < total {
        while let Ok(ack) = acked.try_recv() {
            pending.push(ack);
        }
        let mut versions = vec![0usize; EVENTS];
        let mut stmt = conn
            .prepare_cached("SELECT event_id, version FROM event_pages")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .unwrap();
        for row in rows.flatten() {
            if let Ok(e) = row.0.trim_start_matches("ev").parse::<usize>() {
                versions[e] = usize::try_from(row.1).unwrap_or(0);
            }
        }
        let now = Instant::now();
        pending.retain(|(e, version, at)| {
            if versions[*e] >= *version {
                lags.push(now.saturating_duration_since(*at));
                false
            } else {
                true
            }
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    driver.await.unwrap();
    let elapsed = started.elapsed();
    pipeline.stop().await;
    lags.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pct = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)];
    println!(
        "\n| commands | rate | p50 lag | p99 lag | max lag |\n|---|---|---|---|---|\n| {total} | {:.0}/s | {:.1} ms | {:.1} ms | {:.1} ms |",
        total as f64 / elapsed.as_secs_f64(),
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(*lags.last().unwrap()),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .cloned()
        .unwrap_or_default();
    let facts: usize = std::env::var("REPLAY_FACTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if which.is_empty() || which == "replay" {
            replay(facts).await;
        }
        if which.is_empty() || which == "lag" {
            lag(500, 20).await;
        }
    });
}
