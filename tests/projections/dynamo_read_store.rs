//! The read models on DynamoDB (moto): the same rows as on SQLite, and a commit cut short
//! between its rows and its checkpoint is repaired by the next attempt.

use serde_json::Value;
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::virtual_event::{RsvpAnswer, UpdateDetails, VirtualEventCommand as C, upcasters};
use slsplay_commands::CommandContext;
use slsplay_projections::builder::{Builder, Outcome, ReadModels};
use slsplay_projections::read_models::{
    EventByStart, EventPage, GuestListEntry, InvitationByEmail, OrganizerEvent, TABLES,
};
use slsplay_projections::schema::{Key, ReadModel};
use slsplay_projections::store::dynamo::DynamoReadStore;
use slsplay_projections::store::sqlite::SqliteReadStore;
use slsplay_projections::store::{ReadStore, ReadTx};
use slsplay_tests::fixtures::{self, ORGANIZER, guest, now, token};
use slsplay_tests::moto::moto;
use slsplay_tests::projection::read_model_builder;
use slsplay_tests::stores::{SqliteStore, StoreUnderTest, service};

async fn dynamo_store() -> DynamoReadStore {
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let store = DynamoReadStore::new(moto().dynamodb(), prefix, TABLES);
    store.create_tables().await.unwrap();
    store
}

/// Every row of the event's page, guest list, the guests' own lists and the organizer's list.
async fn snapshot<S: ReadStore>(store: &S, event: &str, guests: usize) -> Vec<String> {
    let mut tx = store.begin().await.unwrap();
    let mut out = Vec::new();
    let page: Option<EventPage> = tx.get(&Key::new(event)).await.unwrap();
    out.push(format!("{:?}", page.map(|p| p.to_row())));
    for g in tx.list::<GuestListEntry>(&Value::from(event)).await.unwrap() {
        out.push(format!("{:?}", g.to_row()));
    }
    for i in 0..guests {
        for row in tx
            .list::<InvitationByEmail>(&Value::from(guest(i)))
            .await
            .unwrap()
        {
            out.push(format!("{:?}", row.to_row()));
        }
    }
    for row in tx.list::<OrganizerEvent>(&Value::from(ORGANIZER)).await.unwrap() {
        out.push(format!("{:?}", row.to_row()));
    }
    for day in ["2030-05-15", "2030-05-16"] {
        for row in tx.list::<EventByStart>(&Value::from(day)).await.unwrap() {
            out.push(format!("{:?}", row.to_row()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_cut_short_is_repaired_by_the_next_attempt_even_for_an_earlier_fact() {
    let events = SqliteStore::new();
    let commands = service(events.open(), &FixedClock::at(now()));
    let ctx = CommandContext::new(ORGANIZER);
    let ev = "ev-dyn";
    commands
        .execute(ev, fixtures::create(ev, Some(2)), &ctx)
        .await
        .unwrap();
    commands.execute(ev, fixtures::publish(), &ctx).await.unwrap();
    commands
        .execute(ev, fixtures::invite((0..3).map(guest)), &ctx)
        .await
        .unwrap();
    let accept = |i: usize| C::Rsvp {
        credential: token(ev, &guest(i)),
        answer: RsvpAnswer::Accept,
    };
    commands.execute(ev, accept(0), &ctx).await.unwrap();
    let next_day = UpdateDetails {
        organizer: ORGANIZER.into(),
        starts_at: Some(now() + chrono::Duration::days(15)),
        ..Default::default()
    };
    commands
        .execute(ev, C::UpdateDetails(next_day), &ctx)
        .await
        .unwrap();
    for i in 1..3 {
        commands.execute(ev, accept(i), &ctx).await.unwrap();
    }
    let rename = UpdateDetails {
        organizer: ORGANIZER.into(),
        title: Some("Founders' brunch".into()),
        ..Default::default()
    };
    commands
        .execute(ev, C::UpdateDetails(rename), &ctx)
        .await
        .unwrap();
    let facts = events.open().read_from(0, 100).await.unwrap();
    assert_eq!(facts.len(), 8);

    let dynamo = dynamo_store().await;
    let builder = Builder::new(ReadModels, dynamo.clone(), events.open(), upcasters());
    let dir = tempfile::tempdir().unwrap();
    let sqlite = read_model_builder(events.open(), dir.path());
    builder.handle(facts[2].clone()).await.unwrap(); // facts 1 to 3
    // Fact 5, the move to the next day (after filling fact 4), dies between its rows and its
    // checkpoint: the next day's start index row is written, the old one deleted...
    dynamo.crash_next_commit_after_rows();
    assert!(builder.handle(facts[4].clone()).await.is_err());
    // ...then fact 4 arrives alone. It must see and leave the rows as of fact 3 plus itself.
    assert_eq!(
        builder.handle(facts[3].clone()).await.unwrap(),
        Outcome::Applied { filled: 0 }
    );
    for fact in &facts[..4] {
        sqlite.handle(fact.clone()).await.unwrap();
    }
    assert_eq!(
        snapshot(builder.store(), ev, 3).await,
        snapshot(sqlite.store(), ev, 3).await
    );

    for fact in &facts {
        builder.handle(fact.clone()).await.unwrap();
        sqlite.handle(fact.clone()).await.unwrap();
    }
    assert_eq!(
        snapshot(builder.store(), ev, 3).await,
        snapshot(sqlite.store(), ev, 3).await
    );
    let page: EventPage = builder
        .store()
        .begin()
        .await
        .unwrap()
        .get(&Key::new(ev))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            page.title.as_str(),
            page.invited,
            page.attending,
            page.waitlisted,
            page.version
        ),
        ("Founders' brunch", 3, 2, 1, 8)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inviting_a_hundred_guests_at_once_fits_although_it_changes_two_hundred_rows() {
    let events = SqliteStore::new();
    let commands = service(events.open(), &FixedClock::at(now()));
    let ctx = CommandContext::new(ORGANIZER);
    commands
        .execute("ev-100", fixtures::create("ev-100", None), &ctx)
        .await
        .unwrap();
    commands
        .execute("ev-100", fixtures::invite((0..100).map(guest)), &ctx)
        .await
        .unwrap();
    let dynamo = dynamo_store().await;
    let builder = Builder::new(ReadModels, dynamo, events.open(), upcasters());
    for fact in events.open().read_from(0, 100).await.unwrap() {
        builder.handle(fact).await.unwrap();
    }
    let mut tx = builder.store().begin().await.unwrap();
    assert_eq!(
        tx.list::<GuestListEntry>(&Value::from("ev-100"))
            .await
            .unwrap()
            .len(),
        100
    );
    assert_eq!(
        tx.get::<EventPage>(&Key::new("ev-100"))
            .await
            .unwrap()
            .unwrap()
            .invited,
        100
    );
}

/// The ids a transaction lists after writing rows whose sort keys prefix one another.
async fn listed_in_one_transaction<S: ReadStore>(store: &S) -> Vec<String> {
    let mut tx = store.begin().await.unwrap();
    for id in ["ab!", "ab", "b", "a"] {
        let row = GuestListEntry {
            event_id: "ev-order".into(),
            invitation_id: id.into(),
            ..GuestListEntry::default()
        };
        tx.put(&row).await.unwrap();
    }
    tx.list::<GuestListEntry>(&Value::from("ev-order"))
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.invitation_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_stores_list_a_transactions_rows_in_sort_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteReadStore::open_with(dir.path().join("read_models.sqlite3"), TABLES).unwrap();
    let in_order = ["a", "ab", "ab!", "b"];
    assert_eq!(listed_in_one_transaction(&sqlite).await, in_order);
    assert_eq!(listed_in_one_transaction(&dynamo_store().await).await, in_order);
}
