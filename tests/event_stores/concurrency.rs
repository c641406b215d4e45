//! 200 guests answer at once for 50 seats, through four command services sharing one store
//! (four processes, or four Lambda instances): the conflict retries must settle every
//! command, seat exactly 50, waitlist the rest and record each answer exactly once.

use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::history::rebuild;
use slsplay_aggregates::virtual_event::{
    GuestState, RsvpAnswer, VirtualEvent, VirtualEventCommand, VirtualEventFact, upcasters,
};
use slsplay_commands::CommandContext;
use slsplay_tests::fixtures::{self, ORGANIZER, guest, now, token};
use slsplay_tests::stores::{DynamoStore, SqliteStore, StoreUnderTest, service};

const GUESTS: usize = 200;
const SEATS: u32 = 50;
const INSTANCES: usize = 4;

async fn two_hundred_answers_for_fifty_seats(store: impl StoreUnderTest + 'static) {
    let clock = FixedClock::at(now());
    let event = "ev-rush";
    let organizer = service(store.open(), &clock);
    let context = CommandContext::new(ORGANIZER);
    organizer
        .execute(event, fixtures::create(event, Some(SEATS)), &context)
        .await
        .unwrap();
    organizer
        .execute(event, fixtures::publish(), &context)
        .await
        .unwrap();
    for batch in (0..GUESTS).collect::<Vec<_>>().chunks(100) {
        organizer
            .execute(event, fixtures::invite(batch.iter().map(|i| guest(*i))), &context)
            .await
            .unwrap();
    }

    let instances: Vec<_> = (0..INSTANCES)
        .map(|_| Arc::new(service(store.open(), &clock)))
        .collect();
    let mut answers = tokio::task::JoinSet::new();
    for i in 0..GUESTS {
        let commands = instances[i % INSTANCES].clone();
        answers.spawn(async move {
            let rsvp = VirtualEventCommand::Rsvp {
                credential: token(event, &guest(i)),
                answer: RsvpAnswer::Accept,
            };
            commands
                .execute(event, rsvp, &CommandContext::new(guest(i)))
                .await
        });
    }
    let mut answered = 0;
    while let Some(result) = answers.join_next().await {
        let committed = result.expect("task panicked").expect("every command is answered");
        assert_eq!(committed.facts.len(), 1, "one answer, one fact");
        answered += 1;
    }
    assert_eq!(answered, GUESTS);
    let retried: u64 = instances.iter().map(|s| s.conflicts_retried()).sum();
    assert!(
        retried > 0,
        "four instances racing on one event must have met conflicts"
    );

    let (state, version) = organizer.load(event).await.unwrap();
    let count = |wanted: GuestState| state.invitations.values().filter(|i| i.state == wanted).count();
    assert_eq!(count(GuestState::Attending), SEATS as usize);
    assert_eq!(count(GuestState::Waitlisted), GUESTS - SEATS as usize);
    assert_eq!(state.waitlist.len(), GUESTS - SEATS as usize);

    let history = organizer.history(event).await.unwrap();
    assert_eq!(
        version,
        2 + GUESTS / 100 + GUESTS,
        "create, publish, invites, one answer each"
    );
    assert!(
        history.iter().enumerate().all(|(i, f)| f.sequence == i + 1),
        "no gap, no duplicate"
    );
    let waitlisted_in_order: Vec<String> = history
        .iter()
        .filter_map(|f| match &f.payload {
            VirtualEventFact::GuestWaitlisted { invitation_id, .. } => Some(invitation_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        Vec::from(state.waitlist.clone()),
        waitlisted_in_order,
        "the waitlist keeps arrival order"
    );
    let facts = store.open().get_events::<VirtualEvent>(event).await.unwrap();
    let replayed = rebuild::<VirtualEvent>(facts, &upcasters()).unwrap();
    for instance in &instances {
        assert_eq!(
            instance.load(event).await.unwrap(),
            (replayed.state.clone(), replayed.version)
        );
    }
    let mut answers_per_guest: HashMap<String, usize> = HashMap::new();
    for fact in &history {
        if let VirtualEventFact::InvitationAccepted { invitation_id, .. }
        | VirtualEventFact::GuestWaitlisted { invitation_id, .. } = &fact.payload
        {
            *answers_per_guest.entry(invitation_id.clone()).or_default() += 1;
        }
    }
    assert_eq!(answers_per_guest.len(), GUESTS);
    assert!(answers_per_guest.values().all(|n| *n == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_sqlite_two_hundred_answers_for_fifty_seats() {
    two_hundred_answers_for_fifty_seats(SqliteStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_dynamodb_two_hundred_answers_for_fifty_seats() {
    two_hundred_answers_for_fifty_seats(DynamoStore::new().await).await;
}
