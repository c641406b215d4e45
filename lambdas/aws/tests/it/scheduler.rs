//! The scheduler Lambda's handler on moto: the jobs over dynamo-es and the DynamoDB read
//! models, as EventBridge Scheduler invokes them.

use std::sync::Arc;

use chrono::Duration;
use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::history::RecordedFact;
use slsplay_aggregates::virtual_event::{
    InvitationTokens, RsvpAnswer, VirtualEvent, VirtualEventCommand as C, VirtualEventServices, upcasters,
};
use slsplay_aws::scheduler::{Invocation, RunError, handle, jobs};
use slsplay_commands::CommandContext;
use slsplay_projections::builder::{Builder, ReadModels};
use slsplay_projections::read_models::TABLES;
use slsplay_projections::store::dynamo::DynamoReadStore;
use slsplay_tests::fixtures::{self, ORGANIZER, SECRET, guest, now, token};
use slsplay_tests::moto::moto;
use slsplay_tests::stores::{DynamoStore, StoreUnderTest, service};

const EVENT: &str = "ev-scheduled";

fn invocation(job: &str) -> Invocation {
    Invocation { job: job.into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_scheduler_invocations_at_once_record_one_digest_on_dynamodb() {
    let store = DynamoStore::new().await;
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let ctx = CommandContext::new(ORGANIZER);
    for command in [
        fixtures::create(EVENT, None),
        fixtures::publish(),
        fixtures::invite([guest(0), guest(1)]),
        C::Rsvp {
            credential: token(EVENT, &guest(0)),
            answer: RsvpAnswer::Accept,
        },
    ] {
        commands.execute(EVENT, command, &ctx).await.unwrap();
    }
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let read_store = DynamoReadStore::new(moto().dynamodb(), &prefix, TABLES);
    read_store.create_tables().await.unwrap();
    let builder = Builder::new(ReadModels, read_store, store.open(), upcasters());
    let project = || async {
        for fact in store.open().get_events::<VirtualEvent>(EVENT).await.unwrap() {
            builder.handle(RecordedFact::new(None, fact)).await.unwrap();
        }
    };
    project().await;

    // Two Lambda instances, each with its own command service (no shared memory).
    let instance = || {
        let tokens = InvitationTokens::new(&SECRET).unwrap();
        let services = VirtualEventServices::new(Arc::new(clock.clone()), tokens);
        jobs(
            store.open(),
            &moto().dynamodb(),
            &prefix,
            services,
            Arc::new(clock.clone()),
        )
    };
    let (a, b) = (instance(), instance());
    clock.set(now() + Duration::days(14) - Duration::minutes(59));
    let digest = invocation("digest");
    let (ra, rb) = tokio::join!(handle(&a, &digest), handle(&b, &digest));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!((ra.due, rb.due), (1, 1), "both read it as due");
    assert_eq!(ra.done + rb.done, 1, "{ra:?} {rb:?}");
    assert_eq!(ra.already_done + rb.already_done, 1);
    let digests = store
        .open()
        .get_events::<VirtualEvent>(EVENT)
        .await
        .unwrap()
        .into_iter()
        .filter(|f| f.event_type == "DigestSent")
        .count();
    assert_eq!(digests, 1);

    // Once projected, the next minute finds nothing due.
    project().await;
    clock.advance(Duration::minutes(1));
    assert_eq!(handle(&a, &digest).await.unwrap().due, 0);
    // The hour-before reminder is due in the same window, and goes once as well.
    let reminders = invocation("reminders");
    let (ra, rb) = tokio::join!(handle(&a, &reminders), handle(&b, &reminders));
    assert_eq!(ra.unwrap().done + rb.unwrap().done, 1);
}

#[tokio::test]
async fn an_unknown_job_fails_the_invocation() {
    let store = DynamoStore::new().await;
    let clock = FixedClock::at(now());
    let services =
        VirtualEventServices::new(Arc::new(clock.clone()), InvitationTokens::new(&SECRET).unwrap());
    let jobs = jobs(
        store.open(),
        &moto().dynamodb(),
        "tnone",
        services,
        Arc::new(clock),
    );
    let error = handle(&jobs, &invocation("newsletter")).await.unwrap_err();
    assert!(matches!(error, RunError::UnknownJob(_)), "{error}");
}
