//! One contract, two stores: every check below runs on SQLite and on DynamoDB.

use std::collections::HashMap;

use cqrs_es::persist::{PersistedEventRepository, PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::{Value, json};
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::virtual_event::{Lifecycle, VirtualEvent, VirtualEventCommand, VirtualEventFact};
use slsplay_commands::CommandContext;
use slsplay_commands::service::metadata;
use slsplay_tests::fixtures::{self, ORGANIZER, guest, now};
use slsplay_tests::stores::{DynamoStore, SqliteStore, StoreUnderTest, service};

fn fact(aggregate_id: &str, sequence: usize, n: u32) -> SerializedEvent {
    let published = VirtualEventFact::Published {
        at: now() + chrono::Duration::seconds(i64::from(n)),
    };
    SerializedEvent::new(
        aggregate_id.into(),
        sequence,
        VirtualEvent::TYPE.into(),
        published.event_type(),
        published.event_version(),
        serde_json::to_value(&published).unwrap(),
        json!({ "actor": "tester", "n": n.to_string() }),
    )
}

/// (aggregate, sequence, payload) of what a replay stream yields.
async fn replayed<R: PersistedEventRepository>(repo: &R, id: Option<&str>) -> Vec<(String, usize, Value)> {
    let mut stream = match id {
        Some(id) => repo.stream_events::<VirtualEvent>(id).await.unwrap(),
        None => repo.stream_all_events::<VirtualEvent>().await.unwrap(),
    };
    let mut out = Vec::new();
    while let Some(envelope) = stream.next::<VirtualEvent>(&[]).await {
        let e = envelope.unwrap();
        out.push((
            e.aggregate_id,
            e.sequence,
            serde_json::to_value(e.payload).unwrap(),
        ));
    }
    out
}

fn key(f: &SerializedEvent) -> (String, usize, Value) {
    (f.aggregate_id.clone(), f.sequence, f.payload.clone())
}

pub async fn appended_facts_load_back_in_order(store: impl StoreUnderTest) {
    let repo = store.open();
    let facts = vec![fact("ev-a", 1, 1), fact("ev-a", 2, 2), fact("ev-a", 3, 3)];
    repo.persist::<VirtualEvent>(&facts, None).await.unwrap();
    assert_eq!(repo.get_events::<VirtualEvent>("ev-a").await.unwrap(), facts);
    assert_eq!(
        repo.get_last_events::<VirtualEvent>("ev-a", 1).await.unwrap(),
        facts[1..]
    );
    assert!(
        repo.get_events::<VirtualEvent>("ev-unknown")
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn an_aggregate_with_more_than_a_megabyte_of_facts_loads_completely(store: impl StoreUnderTest) {
    // DynamoDB answers a query with at most 1 MB: a load must page through the rest.
    let repo = store.open();
    let pad = "x".repeat(100_000);
    let facts: Vec<_> = (1..=15)
        .map(|n| {
            let mut f = fact("ev-big", n, u32::try_from(n).unwrap());
            f.metadata = json!({ "pad": pad });
            f
        })
        .collect();
    repo.persist::<VirtualEvent>(&facts, None).await.unwrap();
    assert_eq!(repo.get_events::<VirtualEvent>("ev-big").await.unwrap(), facts);
    assert_eq!(
        repo.get_last_events::<VirtualEvent>("ev-big", 2).await.unwrap(),
        facts[2..]
    );
}

pub async fn a_second_writer_at_the_same_sequence_conflicts_and_writes_nothing(store: impl StoreUnderTest) {
    let (first, second) = (store.open(), store.open());
    first
        .persist::<VirtualEvent>(&[fact("ev-b", 1, 1), fact("ev-b", 2, 2)], None)
        .await
        .unwrap();
    let stale = second
        .persist::<VirtualEvent>(&[fact("ev-b", 2, 9), fact("ev-b", 3, 9)], None)
        .await;
    assert!(
        matches!(stale, Err(PersistenceError::OptimisticLockError)),
        "got {stale:?}"
    );
    let stored = first.get_events::<VirtualEvent>("ev-b").await.unwrap();
    assert_eq!(
        stored,
        vec![fact("ev-b", 1, 1), fact("ev-b", 2, 2)],
        "a failed commit must leave nothing behind"
    );
}

pub async fn aggregates_do_not_see_each_others_facts(store: impl StoreUnderTest) {
    let repo = store.open();
    repo.persist::<VirtualEvent>(&[fact("ev-c", 1, 1)], None)
        .await
        .unwrap();
    repo.persist::<VirtualEvent>(&[fact("ev-c:x", 1, 2)], None)
        .await
        .unwrap();
    assert_eq!(
        repo.get_events::<VirtualEvent>("ev-c").await.unwrap(),
        vec![fact("ev-c", 1, 1)]
    );
    assert_eq!(
        repo.get_events::<VirtualEvent>("ev-c:x").await.unwrap(),
        vec![fact("ev-c:x", 1, 2)]
    );
}

pub async fn replay_streams_one_aggregate_or_all_of_them(store: impl StoreUnderTest) {
    let repo = store.open();
    let (d1, d2, e1) = (fact("ev-d", 1, 1), fact("ev-d", 2, 2), fact("ev-e", 1, 3));
    repo.persist::<VirtualEvent>(&[d1.clone(), d2.clone()], None)
        .await
        .unwrap();
    repo.persist::<VirtualEvent>(std::slice::from_ref(&e1), None)
        .await
        .unwrap();
    assert_eq!(replayed(&repo, Some("ev-d")).await, vec![key(&d1), key(&d2)]);
    let mut all = replayed(&repo, None).await;
    // DynamoDB's replay is a Scan, in no particular order across aggregates.
    all.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    assert_eq!(all, vec![key(&d1), key(&d2), key(&e1)]);
}

pub async fn acknowledged_facts_survive_a_new_connection(store: impl StoreUnderTest) {
    {
        let repo = store.open();
        repo.persist::<VirtualEvent>(&[fact("ev-f", 1, 1)], None)
            .await
            .unwrap();
    }
    let reopened = store.open();
    assert_eq!(
        reopened.get_events::<VirtualEvent>("ev-f").await.unwrap(),
        vec![fact("ev-f", 1, 1)]
    );
}

pub async fn commands_record_facts_with_actor_correlation_and_time(store: impl StoreUnderTest) {
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let context = CommandContext::new(ORGANIZER).with_correlation_id("req-1");
    commands
        .execute("ev-g", fixtures::create("ev-g", Some(10)), &context)
        .await
        .unwrap();
    commands
        .execute("ev-g", fixtures::publish(), &context)
        .await
        .unwrap();
    let committed = commands
        .execute("ev-g", fixtures::invite((0..3).map(guest)), &context)
        .await
        .unwrap();
    assert_eq!(committed.version, 3);

    let history = service(store.open(), &clock).history("ev-g").await.unwrap();
    assert_eq!(history.len(), 3);
    let expected = HashMap::from([
        (metadata::ACTOR.to_owned(), ORGANIZER.to_owned()),
        (metadata::CORRELATION_ID.to_owned(), "req-1".to_owned()),
        (metadata::RECORDED_AT.to_owned(), now().to_rfc3339()),
    ]);
    assert!(history.iter().all(|f| f.metadata == expected));
    let (state, version) = commands.load("ev-g").await.unwrap();
    assert_eq!(
        (state.lifecycle, state.invitations.len(), version),
        (Lifecycle::Published, 3, 3)
    );
}

pub async fn a_command_that_changes_nothing_records_nothing(store: impl StoreUnderTest) {
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let context = CommandContext::new(ORGANIZER);
    commands
        .execute("ev-h", fixtures::create("ev-h", None), &context)
        .await
        .unwrap();
    commands
        .execute("ev-h", fixtures::invite([guest(1)]), &context)
        .await
        .unwrap();
    let again = commands
        .execute("ev-h", fixtures::invite([guest(1)]), &context)
        .await
        .unwrap();
    assert!(again.facts.is_empty());
    assert_eq!(again.version, 2);
}

pub async fn an_expected_version_that_moved_on_is_refused(store: impl StoreUnderTest) {
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let context = CommandContext::new(ORGANIZER);
    commands
        .execute("ev-i", fixtures::create("ev-i", None), &context)
        .await
        .unwrap();
    commands
        .execute("ev-i", fixtures::publish(), &context)
        .await
        .unwrap();
    let stale = commands
        .execute_at("ev-i", fixtures::invite([guest(1)]), &context, Some(1))
        .await;
    assert!(
        matches!(
            stale,
            Err(slsplay_commands::CommandError::StaleVersion {
                expected: 1,
                actual: 2
            })
        ),
        "got {stale:?}"
    );
    commands
        .execute_at("ev-i", fixtures::invite([guest(1)]), &context, Some(2))
        .await
        .unwrap();
}

pub async fn old_fact_versions_are_upcast_on_load(store: impl StoreUnderTest) {
    let repo = store.open();
    let v1 = SerializedEvent::new(
        "ev-j".into(),
        1,
        VirtualEvent::TYPE.into(),
        "VirtualEventCreated".into(),
        "1.0".into(),
        json!({ "Created": {
            "event_id": "ev-j", "organizer": ORGANIZER, "title": "Old", "description": "",
            "starts_at": "2031-01-01T18:00:00Z", "time_zone": "Europe/Paris", "duration_minutes": 60,
            "capacity": null, "price_cents": 990, "meeting_url": "https://meet.example.com/old",
            "at": "2029-01-01T00:00:00Z" }}),
        Value::Object(Default::default()),
    );
    repo.persist::<VirtualEvent>(&[v1], None).await.unwrap();
    let (state, _) = service(store.open(), &FixedClock::at(now()))
        .load("ev-j")
        .await
        .unwrap();
    let price = state.details.ticket_price.expect("the v1 price is kept");
    assert_eq!((price.amount_minor, price.currency.as_str()), (990, "USD"));
}

pub async fn a_rejected_command_records_nothing(store: impl StoreUnderTest) {
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let context = CommandContext::new("intruder");
    commands
        .execute(
            "ev-k",
            fixtures::create("ev-k", None),
            &CommandContext::new(ORGANIZER),
        )
        .await
        .unwrap();
    let refused = commands
        .execute(
            "ev-k",
            VirtualEventCommand::Publish {
                organizer: "intruder".into(),
            },
            &context,
        )
        .await;
    assert!(matches!(
        refused,
        Err(slsplay_commands::CommandError::Rejected(_))
    ));
    assert_eq!(commands.history("ev-k").await.unwrap().len(), 1);
}

pub async fn a_cached_aggregate_catches_up_with_commits_from_elsewhere(store: impl StoreUnderTest) {
    let clock = FixedClock::at(now());
    let (here, elsewhere) = (service(store.open(), &clock), service(store.open(), &clock));
    let context = CommandContext::new(ORGANIZER);
    here.execute("ev-l", fixtures::create("ev-l", Some(1)), &context)
        .await
        .unwrap();
    here.execute("ev-l", fixtures::publish(), &context).await.unwrap();
    elsewhere
        .execute("ev-l", fixtures::invite((0..2).map(guest)), &context)
        .await
        .unwrap();
    for i in 0..2 {
        let rsvp = VirtualEventCommand::Rsvp {
            credential: fixtures::token("ev-l", &guest(i)),
            answer: slsplay_aggregates::virtual_event::RsvpAnswer::Accept,
        };
        here.execute("ev-l", rsvp, &context).await.unwrap();
    }
    let (cached, version) = here.load("ev-l").await.unwrap();
    let (other, _) = elsewhere.load("ev-l").await.unwrap();
    let replayed = slsplay_aggregates::history::rebuild::<VirtualEvent>(
        store.open().get_events::<VirtualEvent>("ev-l").await.unwrap(),
        &slsplay_aggregates::virtual_event::upcasters(),
    )
    .unwrap();
    assert_eq!(version, 5);
    assert_eq!((&cached, &other), (&replayed.state, &replayed.state));
    assert_eq!((cached.seats_taken(), cached.waitlist.len()), (1, 1));
}

pub async fn a_command_decided_on_a_stale_copy_is_decided_again_on_the_newest_state(
    store: impl StoreUnderTest,
) {
    // `here` trusts its in-memory copy of the published event; `elsewhere` (a process that
    // should not be there) cancels it. The invitation `here` decides on its copy must not be
    // committed: its commit conflicts, and the retry on the newest state refuses it.
    let clock = FixedClock::at(now());
    let here = service(store.open(), &clock).trust_cached_copies();
    let elsewhere = service(store.open(), &clock);
    let context = CommandContext::new(ORGANIZER);
    here.execute("ev-s", fixtures::create("ev-s", None), &context)
        .await
        .unwrap();
    here.execute("ev-s", fixtures::publish(), &context).await.unwrap();
    let cancel = VirtualEventCommand::Cancel {
        organizer: ORGANIZER.into(),
        message: "Called off".into(),
    };
    elsewhere.execute("ev-s", cancel, &context).await.unwrap();
    let refused = here.execute("ev-s", fixtures::invite([guest(0)]), &context).await;
    assert!(
        matches!(refused, Err(slsplay_commands::CommandError::Rejected(_))),
        "a cancelled event takes no invitations: {refused:?}"
    );
    assert_eq!(here.history("ev-s").await.unwrap().len(), 3);
    assert_eq!(here.load("ev-s").await.unwrap().1, 3);
}

pub async fn a_refusal_decided_on_a_stale_copy_is_decided_again_on_the_newest_state(
    store: impl StoreUnderTest,
) {
    // `here` trusts its copy of the published event; `elsewhere` invites a guest. The guest's
    // answer, refused on the copy (it knows no such invitation), stands only if the store
    // agrees: here it goes through.
    let clock = FixedClock::at(now());
    let here = service(store.open(), &clock).trust_cached_copies();
    let elsewhere = service(store.open(), &clock);
    let context = CommandContext::new(ORGANIZER);
    here.execute("ev-t", fixtures::create("ev-t", None), &context)
        .await
        .unwrap();
    here.execute("ev-t", fixtures::publish(), &context).await.unwrap();
    elsewhere
        .execute("ev-t", fixtures::invite([guest(0)]), &context)
        .await
        .unwrap();
    let rsvp = VirtualEventCommand::Rsvp {
        credential: fixtures::token("ev-t", &guest(0)),
        answer: slsplay_aggregates::virtual_event::RsvpAnswer::Accept,
    };
    let answered = here
        .execute("ev-t", rsvp, &context)
        .await
        .expect("the store knows the invitation");
    assert_eq!((answered.version, answered.facts.len()), (4, 1));
}

pub async fn raising_the_capacity_promotes_thirty_guests_in_one_commit(store: impl StoreUnderTest) {
    // DynamoDB takes at most 25 items per transaction: promotions must not be a fact each.
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let ctx = CommandContext::new(ORGANIZER);
    commands
        .execute("ev-m", fixtures::create("ev-m", Some(1)), &ctx)
        .await
        .unwrap();
    commands.execute("ev-m", fixtures::publish(), &ctx).await.unwrap();
    commands
        .execute("ev-m", fixtures::invite((0..31).map(guest)), &ctx)
        .await
        .unwrap();
    for i in 0..31 {
        let rsvp = VirtualEventCommand::Rsvp {
            credential: fixtures::token("ev-m", &guest(i)),
            answer: slsplay_aggregates::virtual_event::RsvpAnswer::Accept,
        };
        commands.execute("ev-m", rsvp, &ctx).await.unwrap();
    }
    let raise = slsplay_aggregates::virtual_event::UpdateDetails {
        organizer: ORGANIZER.into(),
        capacity: Some(None),
        ..Default::default()
    };
    let committed = commands
        .execute("ev-m", VirtualEventCommand::UpdateDetails(raise), &ctx)
        .await
        .unwrap();
    assert_eq!(committed.facts.len(), 2, "the change and one promotion fact");
    let replayed = slsplay_aggregates::history::rebuild::<VirtualEvent>(
        store.open().get_events::<VirtualEvent>("ev-m").await.unwrap(),
        &slsplay_aggregates::virtual_event::upcasters(),
    )
    .unwrap();
    assert_eq!(
        (replayed.state.seats_taken(), replayed.state.details.capacity),
        (31, None)
    );
    assert_eq!(commands.load("ev-m").await.unwrap().0, replayed.state);
}

macro_rules! contract {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $check() {
                super::$check(super::SqliteStore::new()).await;
            })*
        }
        mod dynamodb {
            $(#[tokio::test]
            async fn $check() {
                super::$check(super::DynamoStore::new().await).await;
            })*
        }
    };
}

contract!(
    appended_facts_load_back_in_order,
    an_aggregate_with_more_than_a_megabyte_of_facts_loads_completely,
    a_second_writer_at_the_same_sequence_conflicts_and_writes_nothing,
    aggregates_do_not_see_each_others_facts,
    replay_streams_one_aggregate_or_all_of_them,
    acknowledged_facts_survive_a_new_connection,
    commands_record_facts_with_actor_correlation_and_time,
    a_command_that_changes_nothing_records_nothing,
    an_expected_version_that_moved_on_is_refused,
    old_fact_versions_are_upcast_on_load,
    a_rejected_command_records_nothing,
    a_cached_aggregate_catches_up_with_commits_from_elsewhere,
    a_command_decided_on_a_stale_copy_is_decided_again_on_the_newest_state,
    a_refusal_decided_on_a_stale_copy_is_decided_again_on_the_newest_state,
    raising_the_capacity_promotes_thirty_guests_in_one_commit,
);
