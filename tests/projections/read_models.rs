//! What each read model shows after a realistic history.

use serde_json::Value;
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::validation::Money;
use slsplay_aggregates::virtual_event::{CreateEvent, RsvpAnswer, UpdateDetails, VirtualEventCommand as C};
use slsplay_commands::CommandContext;
use slsplay_projections::read_models::{
    DailyInvitationStats, EventByStart, EventPage, EventStatus, GuestListEntry, InvitationByEmail,
    MeetingLink, OrganizerEvent,
};
use slsplay_projections::schema::{Key, ReadModel};
use slsplay_projections::store::{ReadStore, ReadTx};
use slsplay_tests::fixtures::{self, ORGANIZER, guest, now, token};
use slsplay_tests::projection::{catch_up, read_model_builder};
use slsplay_tests::stores::{SqliteStore, StoreUnderTest, service};

async fn get<M: ReadModel + Send>(
    builder: &slsplay_tests::projection::ReadModelBuilder,
    key: Key,
) -> Option<M> {
    builder
        .store()
        .begin()
        .await
        .unwrap()
        .get::<M>(&key)
        .await
        .unwrap()
}

async fn list<M: ReadModel + Send>(
    builder: &slsplay_tests::projection::ReadModelBuilder,
    partition: &str,
) -> Vec<M> {
    builder
        .store()
        .begin()
        .await
        .unwrap()
        .list::<M>(&Value::from(partition))
        .await
        .unwrap()
}

fn rsvp(event: &str, i: usize, answer: RsvpAnswer) -> C {
    C::Rsvp {
        credential: token(event, &guest(i)),
        answer,
    }
}

#[tokio::test]
async fn a_free_event_with_a_waitlist_shows_on_every_read_model() {
    let store = SqliteStore::new();
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let ctx = CommandContext::new(ORGANIZER);
    let ev = "ev-free";
    commands
        .execute(ev, fixtures::create(ev, Some(2)), &ctx)
        .await
        .unwrap();
    commands.execute(ev, fixtures::publish(), &ctx).await.unwrap();
    commands
        .execute(ev, fixtures::invite((0..4).map(guest)), &ctx)
        .await
        .unwrap();
    for i in 0..3 {
        commands
            .execute(ev, rsvp(ev, i, RsvpAnswer::Accept), &ctx)
            .await
            .unwrap();
    }
    clock.advance(chrono::Duration::days(1));
    commands
        .execute(ev, rsvp(ev, 3, RsvpAnswer::Decline), &ctx)
        .await
        .unwrap();
    commands
        .execute(ev, rsvp(ev, 0, RsvpAnswer::Decline), &ctx)
        .await
        .unwrap(); // guest 2 is promoted

    let dir = tempfile::tempdir().unwrap();
    let builder = read_model_builder(store.open(), dir.path());
    catch_up(&store.open(), &builder).await;

    let page: EventPage = get(&builder, Key::new(ev)).await.unwrap();
    assert_eq!(page.status, EventStatus::Published);
    assert_eq!(
        (page.invited, page.attending, page.waitlisted, page.declined),
        (4, 2, 0, 2)
    );
    assert_eq!(page.starts_at, "2030-05-15T09:00:00Z");
    assert_eq!(page.version, 9);

    let guests: Vec<GuestListEntry> = list(&builder, ev).await;
    let states: Vec<_> = guests
        .iter()
        .map(|g| (g.email.as_str(), g.rsvp.as_str()))
        .collect();
    let mut expected = vec![
        ("guest0@example.com", "declined"),
        ("guest1@example.com", "attending"),
        ("guest2@example.com", "attending"),
        ("guest3@example.com", "declined"),
    ];
    let mut states_sorted = states.clone();
    states_sorted.sort();
    expected.sort();
    assert_eq!(states_sorted, expected);

    let mine: Vec<InvitationByEmail> = list(&builder, "guest2@example.com").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (
            mine[0].title.as_str(),
            mine[0].rsvp.as_str(),
            mine[0].event_status.as_str()
        ),
        ("Founders' dinner", "attending", "published")
    );

    let organizer: Vec<OrganizerEvent> = list(&builder, ORGANIZER).await;
    assert_eq!(
        (organizer.len(), organizer[0].invited, organizer[0].attending),
        (1, 4, 2)
    );

    let day: Vec<EventByStart> = list(&builder, "2030-05-15").await;
    assert_eq!(day.len(), 1);
    assert_eq!(day[0].start_key, format!("2030-05-15T09:00:00Z#{ev}"));

    let stats: Vec<DailyInvitationStats> = list(&builder, ev).await;
    let per_day: Vec<_> = stats
        .iter()
        .map(|s| {
            (
                s.day.as_str(),
                s.invited,
                s.accepted,
                s.waitlisted,
                s.declined,
                s.promoted,
            )
        })
        .collect();
    assert_eq!(
        per_day,
        [("2030-05-01", 4, 2, 1, 0, 0), ("2030-05-02", 0, 0, 0, 2, 1)]
    );

    let link: MeetingLink = get(&builder, Key::new(ev)).await.unwrap();
    assert_eq!(link.meeting_url, "https://meet.example.com/founders");
}

#[tokio::test]
async fn a_paid_event_tracks_holds_and_payments() {
    let store = SqliteStore::new();
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let ctx = CommandContext::new(ORGANIZER);
    let ev = "ev-paid";
    let price = Money {
        amount_minor: 4900,
        currency: "EUR".into(),
    };
    let C::CreateEvent(create) = fixtures::create(ev, Some(1)) else {
        unreachable!()
    };
    commands
        .execute(
            ev,
            C::CreateEvent(CreateEvent {
                ticket_price: Some(price.clone()),
                ..create
            }),
            &ctx,
        )
        .await
        .unwrap();
    commands.execute(ev, fixtures::publish(), &ctx).await.unwrap();
    commands
        .execute(ev, fixtures::invite((0..2).map(guest)), &ctx)
        .await
        .unwrap();
    commands
        .execute(ev, rsvp(ev, 0, RsvpAnswer::Accept), &ctx)
        .await
        .unwrap();
    commands
        .execute(ev, rsvp(ev, 1, RsvpAnswer::Accept), &ctx)
        .await
        .unwrap();
    let pay = C::Pay {
        credential: token(ev, &guest(0)),
        payment_reference: "pi_1".into(),
        amount: price,
    };
    commands.execute(ev, pay, &ctx).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let builder = read_model_builder(store.open(), dir.path());
    catch_up(&store.open(), &builder).await;

    let page: EventPage = get(&builder, Key::new(ev)).await.unwrap();
    assert_eq!((page.attending, page.seats_held, page.waitlisted), (1, 0, 1));
    assert_eq!(
        (page.ticket_price_minor, page.ticket_currency.as_deref()),
        (Some(4900), Some("EUR"))
    );
    let guests: Vec<GuestListEntry> = list(&builder, ev).await;
    let paid = guests.iter().find(|g| g.email == guest(0)).unwrap();
    assert_eq!(
        (
            paid.rsvp.as_str(),
            paid.payment.as_str(),
            paid.payment_reference.as_deref()
        ),
        ("attending", "paid", Some("pi_1"))
    );
    assert!(paid.hold_until.is_none());
}

#[tokio::test]
async fn renaming_and_rescheduling_reach_every_invitee_row_and_the_start_index() {
    let store = SqliteStore::new();
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let ctx = CommandContext::new(ORGANIZER);
    let ev = "ev-move";
    commands
        .execute(ev, fixtures::create(ev, None), &ctx)
        .await
        .unwrap();
    commands
        .execute(ev, fixtures::invite((0..2).map(guest)), &ctx)
        .await
        .unwrap();
    let new_start = now() + chrono::Duration::days(20);
    let update = UpdateDetails {
        organizer: ORGANIZER.into(),
        title: Some("Founders' lunch".into()),
        starts_at: Some(new_start),
        ..Default::default()
    };
    commands
        .execute(ev, C::UpdateDetails(update), &ctx)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let builder = read_model_builder(store.open(), dir.path());
    catch_up(&store.open(), &builder).await;

    for i in 0..2 {
        let row: InvitationByEmail = get(&builder, Key::with_sort(guest(i), ev)).await.unwrap();
        assert_eq!(
            (row.title.as_str(), row.starts_at.as_str()),
            ("Founders' lunch", "2030-05-21T09:00:00Z")
        );
    }
    assert!(
        list::<EventByStart>(&builder, "2030-05-15").await.is_empty(),
        "the old start is gone"
    );
    assert_eq!(list::<EventByStart>(&builder, "2030-05-21").await.len(), 1);
}

#[tokio::test]
async fn a_deleted_draft_leaves_no_lists_behind() {
    let store = SqliteStore::new();
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let ctx = CommandContext::new(ORGANIZER);
    let ev = "ev-gone";
    commands
        .execute(ev, fixtures::create(ev, None), &ctx)
        .await
        .unwrap();
    commands
        .execute(ev, fixtures::invite([guest(0)]), &ctx)
        .await
        .unwrap();
    commands
        .execute(
            ev,
            C::DeleteDraft {
                organizer: ORGANIZER.into(),
            },
            &ctx,
        )
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let builder = read_model_builder(store.open(), dir.path());
    catch_up(&store.open(), &builder).await;
    assert_eq!(
        get::<EventPage>(&builder, Key::new(ev)).await.unwrap().status,
        EventStatus::Deleted
    );
    assert!(list::<OrganizerEvent>(&builder, ORGANIZER).await.is_empty());
    assert!(list::<InvitationByEmail>(&builder, &guest(0)).await.is_empty());
    assert!(list::<EventByStart>(&builder, "2030-05-15").await.is_empty());
}
