//! Property: whatever the history and however the facts are delivered (twice, ahead of their
//! turn), the read models kept live, one fact per transaction, equal the ones rebuilt from the
//! history in one pass, many facts per transaction.

use std::path::Path;

use chrono::Duration;
use proptest::prelude::*;
use rusqlite::Connection;
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::validation::Money;
use slsplay_aggregates::virtual_event::{
    CreateEvent, RsvpAnswer, UpdateDetails, VirtualEventCommand as C, invitation_id,
};
use slsplay_commands::CommandContext;
use slsplay_projections::read_models::TABLES;
use slsplay_tests::fixtures::{self, ORGANIZER, guest, now, token};
use slsplay_tests::projection::read_model_builder;
use slsplay_tests::stores::{SqliteStore, StoreUnderTest, service};

const EVENTS: [&str; 2] = ["free", "paid"];
const GUESTS: usize = 6;

#[derive(Debug, Clone)]
enum Op {
    Invite(usize, Vec<usize>),
    Answer(usize, usize, bool),
    Pay(usize, usize),
    Capacity(usize, Option<u32>),
    Reschedule(usize, i64),
    Rename(usize, u8),
    Revoke(usize, usize),
    Cancel(usize),
    Wait(i64),
    ExpireHold(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let e = 0..EVENTS.len();
    let g = 0..GUESTS;
    prop_oneof![
        3 => (e.clone(), proptest::collection::vec(g.clone(), 1..4)).prop_map(|(e, gs)| Op::Invite(e, gs)),
        6 => (e.clone(), g.clone(), any::<bool>()).prop_map(|(e, g, yes)| Op::Answer(e, g, yes)),
        2 => (e.clone(), g.clone()).prop_map(|(e, g)| Op::Pay(e, g)),
        1 => (e.clone(), proptest::option::of(1u32..4)).prop_map(|(e, c)| Op::Capacity(e, c)),
        1 => (e.clone(), 1i64..5).prop_map(|(e, d)| Op::Reschedule(e, d)),
        1 => (e.clone(), any::<u8>()).prop_map(|(e, n)| Op::Rename(e, n)),
        1 => (e.clone(), g.clone()).prop_map(|(e, g)| Op::Revoke(e, g)),
        1 => e.clone().prop_map(Op::Cancel),
        1 => (1i64..30).prop_map(Op::Wait),
        1 => (e, g).prop_map(|(e, g)| Op::ExpireHold(e, g)),
    ]
}

/// How each new fact reaches the live builder.
#[derive(Debug, Clone, Copy)]
enum Delivery {
    Once,
    Twice,
    /// Held back and delivered after the next fact.
    Late,
}

fn delivery() -> impl Strategy<Value = Delivery> {
    prop_oneof![6 => Just(Delivery::Once), 2 => Just(Delivery::Twice), 2 => Just(Delivery::Late)]
}

fn command(op: &Op) -> Option<(&'static str, C)> {
    let price = Money {
        amount_minor: 1000,
        currency: "EUR".into(),
    };
    Some(match op.clone() {
        Op::Invite(e, gs) => (EVENTS[e], fixtures::invite(gs.into_iter().map(guest))),
        Op::Answer(e, g, yes) => {
            let answer = if yes {
                RsvpAnswer::Accept
            } else {
                RsvpAnswer::Decline
            };
            (
                EVENTS[e],
                C::Rsvp {
                    credential: token(EVENTS[e], &guest(g)),
                    answer,
                },
            )
        }
        Op::Pay(e, g) => {
            let reference = format!("pi_{e}_{g}");
            (
                EVENTS[e],
                C::Pay {
                    credential: token(EVENTS[e], &guest(g)),
                    payment_reference: reference,
                    amount: price,
                },
            )
        }
        Op::Capacity(e, c) => (
            EVENTS[e],
            C::UpdateDetails(UpdateDetails {
                organizer: ORGANIZER.into(),
                capacity: Some(c),
                ..Default::default()
            }),
        ),
        Op::Reschedule(e, days) => {
            let starts_at = Some(now() + Duration::days(14 + days));
            (
                EVENTS[e],
                C::UpdateDetails(UpdateDetails {
                    organizer: ORGANIZER.into(),
                    starts_at,
                    ..Default::default()
                }),
            )
        }
        Op::Rename(e, n) => {
            let title = Some(format!("Dinner {n}"));
            (
                EVENTS[e],
                C::UpdateDetails(UpdateDetails {
                    organizer: ORGANIZER.into(),
                    title,
                    ..Default::default()
                }),
            )
        }
        Op::Revoke(e, g) => {
            let invitation_id = invitation_id(EVENTS[e], &guest(g));
            (
                EVENTS[e],
                C::RevokeInvitation {
                    organizer: ORGANIZER.into(),
                    invitation_id,
                },
            )
        }
        Op::Cancel(e) => (
            EVENTS[e],
            C::Cancel {
                organizer: ORGANIZER.into(),
                message: "sorry".into(),
            },
        ),
        Op::ExpireHold(e, g) => (
            EVENTS[e],
            C::ExpireSeatHold {
                invitation_id: invitation_id(EVENTS[e], &guest(g)),
            },
        ),
        Op::Wait(_) => return None,
    })
}

/// Every read model table, row by row, in key order, as JSON text.
fn dump(path: &Path) -> Vec<(String, Vec<String>)> {
    let conn = Connection::open(path).unwrap();
    let mut tables: Vec<String> = TABLES.iter().map(|t| t.name.to_owned()).collect();
    tables.push("projection_checkpoints".into());
    tables
        .into_iter()
        .map(|table| {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
                .unwrap();
            let columns = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    let values: Vec<String> = (0..columns)
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect();
                    Ok(values.join(" | "))
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            (table, rows)
        })
        .collect()
}

async fn run(ops: Vec<(Op, Delivery)>) {
    let store = SqliteStore::new();
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let ctx = CommandContext::new(ORGANIZER);
    let price = Money {
        amount_minor: 1000,
        currency: "EUR".into(),
    };
    for (event, paid) in [(EVENTS[0], false), (EVENTS[1], true)] {
        let C::CreateEvent(create) = fixtures::create(event, Some(2)) else {
            unreachable!()
        };
        let create = CreateEvent {
            ticket_price: paid.then(|| price.clone()),
            ..create
        };
        commands
            .execute(event, C::CreateEvent(create), &ctx)
            .await
            .unwrap();
        commands.execute(event, fixtures::publish(), &ctx).await.unwrap();
    }
    let (live_dir, rebuilt_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let live = read_model_builder(store.open(), live_dir.path());
    let events = store.open();
    let mut delivered = 0;
    let mut held_back = Vec::new();
    for (op, how) in ops {
        if let Op::Wait(minutes) = op {
            clock.advance(Duration::minutes(minutes));
        } else if let Some((event, cmd)) = command(&op) {
            let _ = commands.execute(event, cmd, &ctx).await; // refusals are part of the game
        }
        let new = events.read_from(delivered, 1_000).await.unwrap();
        for fact in new {
            delivered = fact.position.unwrap();
            match how {
                Delivery::Once => live.handle(fact).await.unwrap(),
                Delivery::Twice => {
                    live.handle(fact.clone()).await.unwrap();
                    live.handle(fact).await.unwrap()
                }
                Delivery::Late => {
                    held_back.push(fact);
                    continue;
                }
            };
            for late in held_back.drain(..) {
                live.handle(late).await.unwrap();
            }
        }
    }
    for late in held_back.drain(..) {
        live.handle(late).await.unwrap();
    }
    let rebuilt = read_model_builder(store.open(), rebuilt_dir.path());
    // In pages of 7 facts, one transaction each: how `slsplay projections rebuild` works.
    let all = events.read_from(0, usize::MAX).await.unwrap();
    for page in all.chunks(7) {
        rebuilt.replay(page.to_vec()).await.unwrap();
    }
    drop((live, rebuilt));
    let (a, b) = (
        dump(&live_dir.path().join("read_models.sqlite3")),
        dump(&rebuilt_dir.path().join("read_models.sqlite3")),
    );
    for ((table, live_rows), (_, rebuilt_rows)) in a.iter().zip(&b) {
        assert_eq!(live_rows, rebuilt_rows, "table {table} differs");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn live_read_models_equal_rebuilt_ones(ops in proptest::collection::vec((op(), delivery()), 1..40)) {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run(ops));
    }
}
