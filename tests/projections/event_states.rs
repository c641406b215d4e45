//! Builders keep each event's state between facts: one `apply` per fact, the store read only
//! on a miss, a gap or an older fact, and the same state as a replay in every case.

use std::sync::atomic::{AtomicUsize, Ordering};

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::{Aggregate, EventEnvelope};
use serde_json::Value;
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::history::rebuild;
use slsplay_aggregates::virtual_event::{VirtualEvent, upcasters};
use slsplay_commands::CommandContext;
use slsplay_commands::store::SqliteEventRepository;
use slsplay_projections::state::EventStates;
use slsplay_tests::fixtures::{self, ORGANIZER, guest, now};
use slsplay_tests::stores::{SqliteStore, StoreUnderTest, service};

/// The store, counting the reads builders make of it.
struct Counting {
    inner: SqliteEventRepository,
    histories: AtomicUsize,
    tails: AtomicUsize,
}

impl PersistedEventRepository for Counting {
    async fn get_events<A: Aggregate>(&self, id: &str) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.histories.fetch_add(1, Ordering::SeqCst);
        self.inner.get_events::<A>(id).await
    }
    async fn get_last_events<A: Aggregate>(
        &self,
        id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.tails.fetch_add(1, Ordering::SeqCst);
        self.inner.get_last_events::<A>(id, last_sequence).await
    }
    async fn get_snapshot<A: Aggregate>(
        &self,
        id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        self.inner.get_snapshot::<A>(id).await
    }
    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        self.inner.persist::<A>(events, snapshot).await
    }
    async fn stream_events<A: Aggregate>(&self, id: &str) -> Result<ReplayStream, PersistenceError> {
        self.inner.stream_events::<A>(id).await
    }
    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        self.inner.stream_all_events::<A>().await
    }
}

fn counting(store: &SqliteStore) -> EventStates<Counting> {
    let repo = Counting {
        inner: store.open(),
        histories: AtomicUsize::new(0),
        tails: AtomicUsize::new(0),
    };
    EventStates::new(repo, upcasters())
}

fn reads(states: &EventStates<Counting>) -> (usize, usize) {
    let repo = states.events();
    (
        repo.histories.load(Ordering::SeqCst),
        repo.tails.load(Ordering::SeqCst),
    )
}

/// An event created, published, then inviting one guest per command: facts 1 to 6.
async fn history(store: &SqliteStore) -> Vec<EventEnvelope<VirtualEvent>> {
    let commands = service(store.open(), &FixedClock::at(now()));
    let ctx = CommandContext::new(ORGANIZER);
    commands
        .execute("ev", fixtures::create("ev", None), &ctx)
        .await
        .unwrap();
    commands.execute("ev", fixtures::publish(), &ctx).await.unwrap();
    for i in 0..4 {
        commands
            .execute("ev", fixtures::invite([guest(i)]), &ctx)
            .await
            .unwrap();
    }
    let facts = store.open().get_events::<VirtualEvent>("ev").await.unwrap();
    rebuild::<VirtualEvent>(facts, &upcasters()).unwrap().envelopes
}

/// What a replay of the facts up to `sequence` gives.
fn replayed(history: &[EventEnvelope<VirtualEvent>], sequence: usize) -> VirtualEvent {
    let mut state = VirtualEvent::default();
    for fact in &history[..sequence] {
        state.apply(fact.payload.clone());
    }
    state
}

#[tokio::test]
async fn facts_in_order_read_the_history_once_and_match_a_replay() {
    let store = SqliteStore::new();
    let history = history(&store).await;
    assert_eq!(history.len(), 6);
    let states = counting(&store);
    for fact in &history {
        let (state, was_published) = states.after(fact).await.unwrap();
        assert_eq!(
            state,
            replayed(&history, fact.sequence),
            "after fact {}",
            fact.sequence
        );
        assert_eq!(
            was_published,
            fact.sequence > 2,
            "published before fact {}",
            fact.sequence
        );
    }
    assert_eq!(reads(&states), (1, 0), "one history read for six facts");
    // Delivered again: the kept state answers.
    let (state, _) = states.after(&history[5]).await.unwrap();
    assert_eq!(state, replayed(&history, 6));
    assert_eq!(reads(&states), (1, 0));
}

#[tokio::test]
async fn a_gap_reads_the_tail_and_an_older_fact_replays_without_losing_the_newer_state() {
    let store = SqliteStore::new();
    let history = history(&store).await;
    let states = counting(&store);
    // Another instance handled facts 1 to 3 and 5: this one starts at 4, then sees 6.
    let (state, was_published) = states.after(&history[3]).await.unwrap();
    assert_eq!((state, was_published), (replayed(&history, 4), true));
    let (state, _) = states.after(&history[5]).await.unwrap();
    assert_eq!(state, replayed(&history, 6));
    assert_eq!(reads(&states), (1, 1), "the history once, then only the tail");
    // A redelivery of fact 2 (the publication itself): its own state, not published before.
    let (state, was_published) = states.after(&history[1]).await.unwrap();
    assert_eq!((state, was_published), (replayed(&history, 2), false));
    assert_eq!(reads(&states), (2, 1));
    // The newer state is still kept.
    let (state, _) = states.after(&history[5]).await.unwrap();
    assert_eq!(state, replayed(&history, 6));
    assert_eq!(reads(&states), (2, 1));
}
