//! The embedded store's global order: the local stand-in for DynamoDB Streams.

use std::time::Duration;

use cqrs_es::persist::{PersistedEventRepository, PersistenceError};
use serde_json::json;
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::virtual_event::VirtualEvent;
use slsplay_commands::CommandContext;
use slsplay_tests::fixtures::{self, ORGANIZER, guest, now};
use slsplay_tests::stores::{SqliteStore, StoreUnderTest, service};

#[tokio::test]
async fn every_fact_gets_the_next_global_position_across_aggregates() {
    let store = SqliteStore::new();
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let context = CommandContext::new(ORGANIZER);
    for id in ["ev-1", "ev-2"] {
        commands
            .execute(id, fixtures::create(id, None), &context)
            .await
            .unwrap();
    }
    commands
        .execute("ev-1", fixtures::invite([guest(1)]), &context)
        .await
        .unwrap();

    let facts = store.open().read_from(0, 100).await.unwrap();
    let order: Vec<_> = facts
        .iter()
        .map(|f| (f.position.unwrap(), f.aggregate_id.as_str(), f.sequence))
        .collect();
    assert_eq!(order, [(1, "ev-1", 1), (2, "ev-2", 1), (3, "ev-1", 2)]);
    assert_eq!(store.open().head(), 3);
}

#[tokio::test]
async fn a_follower_pages_from_its_last_position() {
    let store = SqliteStore::new();
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    for i in 0..5 {
        let id = format!("ev-{i}");
        commands
            .execute(&id, fixtures::create(&id, None), &CommandContext::new(ORGANIZER))
            .await
            .unwrap();
    }
    let reader = store.open();
    let first = reader.read_from(0, 2).await.unwrap();
    let rest = reader
        .read_from(first.last().unwrap().position.unwrap(), 10)
        .await
        .unwrap();
    let positions: Vec<_> = first.iter().chain(&rest).map(|f| f.position.unwrap()).collect();
    assert_eq!(positions, [1, 2, 3, 4, 5]);
    assert!(reader.read_from(5, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn subscribers_wake_up_on_each_commit() {
    let store = SqliteStore::new();
    let repo = store.open();
    let mut head = repo.subscribe();
    let clock = FixedClock::at(now());
    let commands = service(repo.clone(), &clock);
    let waiter = tokio::spawn(async move { head.wait_for(|position| *position >= 1).await.map(|p| *p) });
    commands
        .execute(
            "ev-1",
            fixtures::create("ev-1", None),
            &CommandContext::new(ORGANIZER),
        )
        .await
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("woken")
        .unwrap()
        .unwrap();
    assert_eq!(seen, 1);
}

#[tokio::test]
async fn a_failed_commit_leaves_no_position_behind_for_followers() {
    let store = SqliteStore::new();
    let clock = FixedClock::at(now());
    let (a, b) = (service(store.open(), &clock), store.open());
    a.execute(
        "ev-1",
        fixtures::create("ev-1", None),
        &CommandContext::new(ORGANIZER),
    )
    .await
    .unwrap();
    let clash = b
        .persist::<VirtualEvent>(&b.get_events::<VirtualEvent>("ev-1").await.unwrap(), None)
        .await;
    assert!(matches!(clash, Err(PersistenceError::OptimisticLockError)));
    a.execute("ev-1", fixtures::publish(), &CommandContext::new(ORGANIZER))
        .await
        .unwrap();
    let seen: Vec<_> = b
        .read_from(0, 10)
        .await
        .unwrap()
        .iter()
        .map(|f| (f.position.unwrap(), f.sequence))
        .collect();
    assert_eq!(
        seen,
        [(1, 1), (2, 2)],
        "followers see each committed fact once, in order, with no gap"
    );
}

#[tokio::test]
async fn snapshots_only_replace_the_version_before_them() {
    let store = SqliteStore::new();
    let repo = store.open();
    let facts = repo.get_events::<VirtualEvent>("none").await.unwrap();
    assert!(facts.is_empty());
    repo.persist::<VirtualEvent>(&[], Some(("ev-s".into(), json!({"v": 1}), 1)))
        .await
        .unwrap();
    repo.persist::<VirtualEvent>(&[], Some(("ev-s".into(), json!({"v": 2}), 2)))
        .await
        .unwrap();
    let stale = repo
        .persist::<VirtualEvent>(&[], Some(("ev-s".into(), json!({"v": 9}), 2)))
        .await;
    assert!(matches!(stale, Err(PersistenceError::OptimisticLockError)));
    let snapshot = repo.get_snapshot::<VirtualEvent>("ev-s").await.unwrap().unwrap();
    assert_eq!(
        (snapshot.aggregate, snapshot.current_snapshot),
        (json!({"v": 2}), 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_share_transactions_and_a_conflict_fails_only_itself() {
    use cqrs_es::DomainEvent;
    use cqrs_es::persist::SerializedEvent;
    let store = SqliteStore::new();
    let repo = store.open();
    let fact = |id: &str, sequence: usize| {
        let published = slsplay_aggregates::virtual_event::VirtualEventFact::Published { at: now() };
        SerializedEvent::new(
            id.into(),
            sequence,
            "virtual_event".into(),
            published.event_type(),
            published.event_version(),
            serde_json::to_value(&published).unwrap(),
            json!({}),
        )
    };
    repo.persist::<VirtualEvent>(&[fact("taken", 1)], None)
        .await
        .unwrap();
    let mut commits = tokio::task::JoinSet::new();
    for i in 0..200 {
        let repo = repo.clone();
        commits.spawn(async move {
            (
                i,
                repo.persist::<VirtualEvent>(&[fact(&format!("ev-{i}"), 1)], None)
                    .await,
            )
        });
    }
    let clash = repo.clone();
    commits.spawn(async move {
        (
            usize::MAX,
            clash.persist::<VirtualEvent>(&[fact("taken", 1)], None).await,
        )
    });
    while let Some(done) = commits.join_next().await {
        match done.unwrap() {
            (usize::MAX, result) => assert!(matches!(result, Err(PersistenceError::OptimisticLockError))),
            (i, result) => assert!(result.is_ok(), "commit {i}: {result:?}"),
        }
    }
    let positions: Vec<u64> = repo
        .read_from(0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|f| f.position.unwrap())
        .collect();
    assert_eq!(
        positions,
        (1..=201).collect::<Vec<u64>>(),
        "201 facts, contiguous positions"
    );
}
