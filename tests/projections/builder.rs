//! Exactly once and in order per event, whatever the delivery does.

use serde_json::json;
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::history::RecordedFact;
use slsplay_commands::CommandContext;
use slsplay_projections::builder::{BuildError, Outcome};
use slsplay_projections::read_models::EventPage;
use slsplay_projections::schema::Key;
use slsplay_projections::store::{ReadStore, ReadTx};
use slsplay_tests::fixtures::{self, ORGANIZER, guest, now};
use slsplay_tests::projection::read_model_builder;
use slsplay_tests::stores::{SqliteStore, StoreUnderTest, service};

async fn five_facts(store: &SqliteStore) -> Vec<RecordedFact> {
    let commands = service(store.open(), &FixedClock::at(now()));
    let ctx = CommandContext::new(ORGANIZER);
    commands
        .execute("ev", fixtures::create("ev", None), &ctx)
        .await
        .unwrap();
    commands.execute("ev", fixtures::publish(), &ctx).await.unwrap();
    for i in 0..3 {
        commands
            .execute("ev", fixtures::invite([guest(i)]), &ctx)
            .await
            .unwrap();
    }
    store.open().read_from(0, 100).await.unwrap()
}

async fn invited(builder: &slsplay_tests::projection::ReadModelBuilder) -> i64 {
    let page: EventPage = builder
        .store()
        .begin()
        .await
        .unwrap()
        .get(&Key::new("ev"))
        .await
        .unwrap()
        .unwrap();
    page.invited
}

#[tokio::test]
async fn a_fact_delivered_twice_is_applied_once() {
    let store = SqliteStore::new();
    let facts = five_facts(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let builder = read_model_builder(store.open(), dir.path());
    for fact in &facts {
        assert!(matches!(
            builder.handle(fact.clone()).await.unwrap(),
            Outcome::Applied { filled: 0 }
        ));
    }
    for fact in &facts {
        assert_eq!(builder.handle(fact.clone()).await.unwrap(), Outcome::Duplicate);
    }
    assert_eq!(invited(&builder).await, 3);
}

#[tokio::test]
async fn a_fact_ahead_of_the_checkpoint_fills_the_gap_from_the_store() {
    let store = SqliteStore::new();
    let facts = five_facts(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let builder = read_model_builder(store.open(), dir.path());
    assert_eq!(
        builder.handle(facts[4].clone()).await.unwrap(),
        Outcome::Applied { filled: 4 }
    );
    assert_eq!(
        builder.handle(facts[2].clone()).await.unwrap(),
        Outcome::Duplicate
    );
    assert_eq!(invited(&builder).await, 3);
}

#[tokio::test]
async fn a_gap_the_store_cannot_fill_is_an_error_to_retry_and_changes_nothing() {
    let store = SqliteStore::new();
    let mut facts = five_facts(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let builder = read_model_builder(store.open(), dir.path());
    let mut from_the_future = facts.pop().unwrap();
    from_the_future.sequence = 9;
    let err = builder.handle(from_the_future).await.unwrap_err();
    assert!(matches!(err, BuildError::Gap { from: 1, to: 8, .. }), "{err}");
    assert!(
        builder
            .store()
            .begin()
            .await
            .unwrap()
            .get::<EventPage>(&Key::new("ev"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_undecodable_fact_is_poison_and_changes_nothing() {
    let store = SqliteStore::new();
    let facts = five_facts(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let builder = read_model_builder(store.open(), dir.path());
    builder.handle(facts[0].clone()).await.unwrap();
    let mut poison = facts[1].clone();
    poison.payload = json!({ "NoSuchFact": {} });
    let err = builder.handle(poison).await.unwrap_err();
    assert!(matches!(err, BuildError::Poison { sequence: 2, .. }), "{err}");
    let page: EventPage = builder
        .store()
        .begin()
        .await
        .unwrap()
        .get(&Key::new("ev"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((page.status.as_str(), page.version), ("draft", 1));
}
