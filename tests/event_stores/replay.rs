//! Replaying recorded histories, as developers do when a bug report comes with one.

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::PathBuf;

use cqrs_es::persist::SerializedEvent;
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::history::{HistoryError, RecordedFact, read_json_lines, rebuild};
use slsplay_aggregates::virtual_event::{
    GuestState, Lifecycle, RsvpAnswer, VirtualEvent, VirtualEventCommand, upcasters,
};
use slsplay_commands::CommandContext;
use slsplay_tests::fixtures::{self, ORGANIZER, guest, now, token};
use slsplay_tests::stores::{SqliteStore, StoreUnderTest, service};

fn recorded(name: &str) -> Vec<RecordedFact> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    read_json_lines(BufReader::new(File::open(path).unwrap())).unwrap()
}

fn facts(recorded: Vec<RecordedFact>) -> Vec<SerializedEvent> {
    recorded.into_iter().map(SerializedEvent::from).collect()
}

#[test]
fn a_recorded_history_rebuilds_the_event_with_old_versions_upcast() {
    let replayed = rebuild::<VirtualEvent>(facts(recorded("paid_masterclass.jsonl")), &upcasters()).unwrap();
    let event = replayed.state;
    assert_eq!(replayed.version, 7);
    assert_eq!(event.lifecycle, Lifecycle::Published);
    let price = event.details.ticket_price.as_ref().unwrap();
    assert_eq!((price.amount_minor, price.currency.as_str()), (2500, "USD"));
    assert_eq!(event.invitations["inv_a"].state, GuestState::Attending);
    assert_eq!(event.invitations["inv_a"].paid.as_deref(), Some("pi_42"));
    assert_eq!(event.invitations["inv_b"].state, GuestState::Declined);
    assert!(matches!(
        event.invitations["inv_c"].state,
        GuestState::SeatHeld { .. }
    ));
    assert_eq!(event.seats_taken(), 2);
}

#[test]
fn a_history_with_a_gap_is_refused() {
    let mut history = facts(recorded("paid_masterclass.jsonl"));
    history.remove(3);
    let err = rebuild::<VirtualEvent>(history, &upcasters()).unwrap_err();
    assert!(
        matches!(
            err,
            HistoryError::OutOfOrder {
                expected: 4,
                found: 5,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_history_mixing_two_events_is_refused() {
    let mut history = facts(recorded("paid_masterclass.jsonl"));
    history[1].aggregate_id = "other".into();
    let err = rebuild::<VirtualEvent>(history, &upcasters()).unwrap_err();
    assert!(matches!(err, HistoryError::MixedAggregates { .. }), "{err}");
}

#[test]
fn a_malformed_line_is_reported_with_its_number() {
    let err = read_json_lines(Cursor::new("\n{\"not\": \"a fact\"}\n")).unwrap_err();
    assert!(matches!(err, HistoryError::Parse { line: 2, .. }), "{err}");
}

#[tokio::test]
async fn a_history_exported_from_the_store_replays_to_the_same_state() {
    let store = SqliteStore::new();
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let context = CommandContext::new(ORGANIZER);
    commands
        .execute("ev-x", fixtures::create("ev-x", Some(1)), &context)
        .await
        .unwrap();
    commands
        .execute("ev-x", fixtures::publish(), &context)
        .await
        .unwrap();
    commands
        .execute("ev-x", fixtures::invite((0..3).map(guest)), &context)
        .await
        .unwrap();
    for i in 0..3 {
        let rsvp = VirtualEventCommand::Rsvp {
            credential: token("ev-x", &guest(i)),
            answer: RsvpAnswer::Accept,
        };
        commands.execute("ev-x", rsvp, &context).await.unwrap();
    }
    let decline = VirtualEventCommand::Rsvp {
        credential: token("ev-x", &guest(0)),
        answer: RsvpAnswer::Decline,
    };
    commands.execute("ev-x", decline, &context).await.unwrap();

    let exported: String = store
        .open()
        .read_from(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|f| serde_json::to_string(&f).unwrap() + "\n")
        .collect();
    let replayed = rebuild::<VirtualEvent>(
        facts(read_json_lines(Cursor::new(exported)).unwrap()),
        &upcasters(),
    )
    .unwrap();
    let (live, version) = commands.load("ev-x").await.unwrap();
    assert_eq!(replayed.state, live);
    assert_eq!(replayed.version, version);
    assert_eq!(live.seats_taken(), 1, "the declined seat went to the waitlist");
}
