//! The local asynchronous tier: replay speed of a rebuild, and projection lag under a steady
//! command load. Run with: cargo bench -p slsplay-lambdas --bench async_tier [-- replay|lag]
//! (figures go to the README; nothing here asserts a speed).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use cqrs_es::EventEnvelope;
use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use slsplay_aggregates::virtual_event::{
    Created, InvitationIssued, VirtualEvent, VirtualEventFact as F, invitation_id,
};
use slsplay_commands::store::{Durability, SqliteEventRepository, SqliteOptions};
use slsplay_lambdas::config::DataDir;

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

    let started = Instant::now();
    let applied = slsplay_lambdas::local::rebuild::rebuild(&data_dir, &mut std::io::sink())
        .await
        .unwrap();
    let elapsed = started.elapsed();
    println!(
        "\n| facts | events | rebuild time | facts/s |\n|---|---|---|---|\n| {applied} | {events} | {:.1} s | {:.0} |",
        elapsed.as_secs_f64(),
        applied as f64 / elapsed.as_secs_f64()
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
        let _ = Arc::new(());
    });
}
