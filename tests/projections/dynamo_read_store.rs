//! The read models on DynamoDB (moto): the same rows as on SQLite, and a commit cut short
//! between its rows and its checkpoint is repaired by the next attempt.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::virtual_event::{RsvpAnswer, UpdateDetails, VirtualEventCommand as C, upcasters};
use slsplay_commands::CommandContext;
use slsplay_projections::builder::{Builder, Outcome, ReadModels};
use slsplay_projections::read_models::{
    EventByStart, EventPage, EventStatus, GuestListEntry, InvitationByEmail, OrganizerEvent, PaymentStatus,
    RsvpStatus, TABLES,
};
use slsplay_projections::schema::{Key, ReadModel};
use slsplay_projections::store::dynamo::DynamoReadStore;
use slsplay_projections::store::sqlite::SqliteReadStore;
use slsplay_projections::store::{ReadQueries, ReadStore, ReadStoreError, ReadTx};
use slsplay_tests::fixtures::{self, ORGANIZER, guest, now, token};
use slsplay_tests::moto::moto;
use slsplay_tests::projection::read_model_builder;
use slsplay_tests::stores::{SqliteStore, StoreUnderTest, service};

async fn dynamo_store() -> DynamoReadStore {
    dynamo_store_with_prefix().await.0
}

async fn dynamo_store_with_prefix() -> (DynamoReadStore, String) {
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let store = DynamoReadStore::new(moto().dynamodb(), prefix.clone(), TABLES);
    store.create_tables().await.unwrap();
    (store, prefix)
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
        tx.put(row).await.unwrap();
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

fn item_key(pairs: &[(&str, &str)]) -> HashMap<String, AttributeValue> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), AttributeValue::S((*value).to_owned())))
        .collect()
}

/// An item as DynamoDB holds it, read past the store.
async fn raw_item(table: &str, key: &[(&str, &str)]) -> HashMap<String, AttributeValue> {
    moto()
        .dynamodb()
        .get_item()
        .table_name(table)
        .set_key(Some(item_key(key)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap()
}

/// The statuses are string attributes holding their text, as the README's PartiQL queries ask
/// for them; an item whose status is none of the values is a decode error, not another value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_are_stored_as_their_text_and_an_unknown_one_does_not_decode() {
    let (store, prefix) = dynamo_store_with_prefix().await;
    let page = EventPage {
        event_id: "ev".into(),
        status: EventStatus::Cancelled,
        ..EventPage::default()
    };
    let guest = GuestListEntry {
        event_id: "ev".into(),
        invitation_id: "inv".into(),
        email: "a@b.c".into(),
        rsvp: RsvpStatus::SeatHeld,
        payment: PaymentStatus::Due,
        ..GuestListEntry::default()
    };
    let mut tx = store.begin().await.unwrap();
    tx.put(page.clone()).await.unwrap();
    tx.put(guest.clone()).await.unwrap();
    tx.put(InvitationByEmail {
        email: "a@b.c".into(),
        event_id: "ev".into(),
        event_status: EventStatus::Published,
        rsvp: RsvpStatus::Waitlisted,
        ..InvitationByEmail::default()
    })
    .await
    .unwrap();
    tx.put(OrganizerEvent {
        organizer: "o".into(),
        event_id: "ev".into(),
        status: EventStatus::Draft,
        ..OrganizerEvent::default()
    })
    .await
    .unwrap();
    tx.put(EventByStart {
        start_day: "d".into(),
        start_key: "k".into(),
        status: EventStatus::Deleted,
        ..EventByStart::default()
    })
    .await
    .unwrap();
    // The store commits rows with the checkpoint they move (as a builder does).
    tx.set_checkpoint("statuses", "ev", 1).await.unwrap();
    tx.commit().await.unwrap();

    let s = |text: &str| Some(AttributeValue::S(text.to_owned()));
    let table = |name: &str| format!("{prefix}{name}");
    let item = raw_item(&table("event_pages"), &[("event_id", "ev")]).await;
    assert_eq!(item.get("status").cloned(), s("cancelled"));
    let item = raw_item(
        &table("guest_list"),
        &[("event_id", "ev"), ("invitation_id", "inv")],
    )
    .await;
    assert_eq!(
        (item.get("rsvp").cloned(), item.get("payment").cloned()),
        (s("seat_held"), s("due"))
    );
    let item = raw_item(
        &table("invitations_by_email"),
        &[("email", "a@b.c"), ("event_id", "ev")],
    )
    .await;
    assert_eq!(
        (item.get("event_status").cloned(), item.get("rsvp").cloned()),
        (s("published"), s("waitlisted"))
    );
    // The README's query for the guests who still have to pay.
    let due = moto()
        .dynamodb()
        .execute_statement()
        .statement(format!(
            "SELECT email FROM \"{}\" WHERE event_id = 'ev' AND payment = 'due'",
            table("guest_list")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        due.items(),
        [HashMap::from([(
            "email".to_owned(),
            AttributeValue::S("a@b.c".into())
        )])]
    );
    let item = raw_item(
        &table("organizer_events"),
        &[("organizer", "o"), ("event_id", "ev")],
    )
    .await;
    assert_eq!(item.get("status").cloned(), s("draft"));
    let item = raw_item(
        &table("events_by_start"),
        &[("start_day", "d"), ("start_key", "k")],
    )
    .await;
    assert_eq!(item.get("status").cloned(), s("deleted"));

    let key = Key::with_sort("ev", "inv");
    assert_eq!(store.get::<GuestListEntry>(&key).await.unwrap(), Some(guest));
    assert_eq!(store.get::<EventPage>(&Key::new("ev")).await.unwrap(), Some(page));

    let set = |table: String, key: &[(&str, &str)], name: &str, text: &str| {
        moto()
            .dynamodb()
            .update_item()
            .table_name(table)
            .set_key(Some(item_key(key)))
            .update_expression("SET #a = :v")
            .expression_attribute_names("#a", name)
            .expression_attribute_values(":v", AttributeValue::S(text.to_owned()))
            .send()
    };
    set(
        table("guest_list"),
        &[("event_id", "ev"), ("invitation_id", "inv")],
        "payment",
        "refunded",
    )
    .await
    .unwrap();
    let read = store.get::<GuestListEntry>(&key).await;
    assert!(
        matches!(
            read,
            Err(ReadStoreError::Decode {
                table: "guest_list",
                ..
            })
        ),
        "{read:?}"
    );
    set(table("event_pages"), &[("event_id", "ev")], "status", "Published")
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    let read = tx.get::<EventPage>(&Key::new("ev")).await;
    assert!(
        matches!(
            read,
            Err(ReadStoreError::Decode {
                table: "event_pages",
                ..
            })
        ),
        "{read:?}"
    );
}
