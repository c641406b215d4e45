//! Search finds events by their words, and only the ones the searcher may see.

use std::sync::Arc;

use slsplay_aggregates::FixedClock;
use slsplay_aggregates::virtual_event::{CreateEvent, VirtualEventCommand as C, invitation_id, upcasters};
use slsplay_commands::CommandContext;
use slsplay_commands::store::SqliteEventRepository;
use slsplay_projections::builder::Builder;
use slsplay_projections::search::{Search, SearchIndex, Viewer};
use slsplay_projections::store::sqlite::SqliteReadStore;
use slsplay_tests::fixtures::{self, now};
use slsplay_tests::projection::catch_up;
use slsplay_tests::stores::{SqliteStore, StoreUnderTest, service};

type SearchBuilder = Builder<Search<SqliteEventRepository>, SqliteReadStore, SqliteEventRepository>;

fn create(id: &str, organizer: &str, title: &str, description: &str) -> C {
    let C::CreateEvent(create) = fixtures::create(id, None) else {
        unreachable!()
    };
    C::CreateEvent(CreateEvent {
        organizer: organizer.into(),
        title: title.into(),
        description: description.into(),
        ..create
    })
}

/// A search builder over `store`, its index and checkpoints in `dir`.
fn search_builder(store: &SqliteStore, dir: &std::path::Path) -> (Arc<SearchIndex>, SearchBuilder) {
    let index = Arc::new(SearchIndex::open(&dir.join("index"), true).unwrap());
    let checkpoints = SqliteReadStore::open_with(dir.join("search.sqlite3"), &[]).unwrap();
    let builder = Builder::new(
        Search::new(store.open(), upcasters(), index.clone()),
        checkpoints,
        store.open(),
        upcasters(),
    );
    (index, builder)
}

fn ids(hits: Vec<slsplay_projections::search::Hit>) -> Vec<String> {
    let mut ids: Vec<String> = hits.into_iter().map(|h| h.event_id).collect();
    ids.sort();
    ids
}

fn ana() -> Viewer {
    Viewer {
        user_id: "ana".into(),
        email: Some("ana@example.com".into()),
    }
}

fn bob() -> Viewer {
    Viewer {
        user_id: "bob".into(),
        email: Some("Bob@Example.com".into()),
    }
}

#[tokio::test]
async fn each_user_finds_their_own_events_and_the_published_ones_they_are_invited_to() {
    let store = SqliteStore::new();
    let commands = service(store.open(), &FixedClock::at(now()));
    let (as_ana, as_cleo) = (CommandContext::new("ana"), CommandContext::new("cleo"));
    let invite = |organizer: &str, email: &str| C::Invite {
        organizer: organizer.into(),
        emails: vec![email.into()],
    };
    commands
        .execute(
            "bread",
            create("bread", "ana", "Sourdough masterclass", "Starters and long folds"),
            &as_ana,
        )
        .await
        .unwrap();
    commands
        .execute("bread", invite("ana", "bob@example.com"), &as_ana)
        .await
        .unwrap();
    commands
        .execute(
            "wine",
            create(
                "wine",
                "cleo",
                "Natural wine evening",
                "Sourdough bread pairs well",
            ),
            &as_cleo,
        )
        .await
        .unwrap();
    commands
        .execute(
            "wine",
            C::Publish {
                organizer: "cleo".into(),
            },
            &as_cleo,
        )
        .await
        .unwrap();
    commands
        .execute("wine", invite("cleo", "bob@example.com"), &as_cleo)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (index, builder) = search_builder(&store, dir.path());
    let events = store.open();
    let deliver = || catch_up(&events, &builder);
    deliver().await;

    assert_eq!(ids(index.search_now("sourdough", &ana(), 10).unwrap()), ["bread"]);
    assert_eq!(
        ids(index.search_now("sourdough", &bob(), 10).unwrap()),
        ["wine"],
        "bread is still a draft"
    );
    assert!(
        index
            .search_now(
                "masterclass",
                &Viewer {
                    user_id: "cleo".into(),
                    email: None
                },
                10
            )
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(index.search_now("", &bob(), 10).unwrap()),
        ["wine"],
        "blank lists what bob may see"
    );
    assert_eq!(
        ids(index.search_now("\"unbalanced AND title:", &ana(), 10).unwrap()),
        Vec::<String>::new()
    );

    commands
        .execute(
            "bread",
            C::Publish {
                organizer: "ana".into(),
            },
            &as_ana,
        )
        .await
        .unwrap();
    let revoke = C::RevokeInvitation {
        organizer: "cleo".into(),
        invitation_id: invitation_id("wine", "bob@example.com"),
    };
    commands.execute("wine", revoke, &as_cleo).await.unwrap();
    deliver().await; // the new facts, and every old one a second time
    assert_eq!(ids(index.search_now("sourdough", &bob(), 10).unwrap()), ["bread"]);

    let rename = slsplay_aggregates::virtual_event::UpdateDetails {
        organizer: "ana".into(),
        title: Some("Rye baking".into()),
        description: Some("Dense loaves".into()),
        ..Default::default()
    };
    commands
        .execute("bread", C::UpdateDetails(rename), &as_ana)
        .await
        .unwrap();
    deliver().await;
    assert!(
        index.search_now("sourdough", &ana(), 10).unwrap().is_empty(),
        "the old words are gone"
    );
    let hits = index.search_now("rye", &ana(), 10).unwrap();
    assert_eq!(
        (hits.len(), hits[0].title.as_str(), hits[0].status.as_str()),
        (1, "Rye baking", "published")
    );
}

/// A delivered batch is indexed in one commit; when it fails as a whole (here a fact whose
/// predecessors the store does not have), it is handled item by item, and only the failing
/// item is retried.
#[tokio::test]
async fn a_batch_is_indexed_at_once_and_a_failing_one_is_retried_item_by_item() {
    use slsplay_aggregates::history::RecordedFact;
    use slsplay_projections::handler::{BatchItem, handle_batch};
    use slsplay_projections::store::{ReadStore, ReadTx};

    let store = SqliteStore::new();
    let commands = service(store.open(), &FixedClock::at(now()));
    let ctx = CommandContext::new("ana");
    for (id, title) in [
        ("bread", "Sourdough masterclass"),
        ("wine", "Natural wine evening"),
    ] {
        commands
            .execute(id, create(id, "ana", title, ""), &ctx)
            .await
            .unwrap();
        commands
            .execute(
                id,
                C::Publish {
                    organizer: "ana".into(),
                },
                &ctx,
            )
            .await
            .unwrap();
    }
    let facts = store.open().read_from(0, usize::MAX).await.unwrap();
    assert_eq!(facts.len(), 4);
    let item = |fact: &RecordedFact| BatchItem {
        id: format!("{}:{}", fact.aggregate_id, fact.sequence),
        group_id: fact.aggregate_id.clone(),
        body: serde_json::to_string(fact).unwrap(),
    };

    let dir = tempfile::tempdir().unwrap();
    let (index, builder) = search_builder(&store, dir.path());
    assert!(builder.batched());
    let checkpoint = |id: &'static str| async {
        let mut tx = builder.store().begin().await.unwrap();
        tx.checkpoint("search", id).await.unwrap()
    };

    let batch: Vec<BatchItem> = facts.iter().map(item).collect();
    assert!(handle_batch(&builder, &batch).await.is_empty());
    assert_eq!(ids(index.search_now("", &ana(), 10).unwrap()), ["bread", "wine"]);
    assert_eq!((checkpoint("bread").await, checkpoint("wine").await), (2, 2));

    // A third fact of wine, and a fact 9 of a "ghost" event the store has nothing before.
    commands
        .execute(
            "wine",
            C::Cancel {
                organizer: "ana".into(),
                message: "Sorry".into(),
            },
            &ctx,
        )
        .await
        .unwrap();
    let cancelled = store.open().read_from(0, usize::MAX).await.unwrap().remove(4);
    let mut ghost = cancelled.clone();
    ghost.aggregate_id = "ghost".into();
    ghost.sequence = 9;
    let failures = handle_batch(&builder, &[item(&ghost), item(&cancelled)]).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].id, "ghost:9");
    assert_eq!(checkpoint("wine").await, 3, "the other item was applied");
    assert_eq!(checkpoint("ghost").await, 0);
    let statuses: Vec<String> = index
        .search_now("wine", &ana(), 10)
        .unwrap()
        .into_iter()
        .map(|h| h.status)
        .collect();
    assert_eq!(statuses, ["cancelled"]);
}
