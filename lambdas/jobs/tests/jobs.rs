//! The jobs as the schedulers run them, on an injected clock (no sleeps): over the embedded
//! event store, the read models and the email outbox, fed by the same builders as the
//! platform. Every check reads the outbox: what a person would receive.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::validation::Money;
use slsplay_aggregates::virtual_event::{
    CreateEvent, InvitationCredential, RsvpAnswer, VirtualEvent, VirtualEventCommand as C,
};
use slsplay_commands::store::SqliteEventRepository;
use slsplay_commands::{CommandContext, CommandService};
use slsplay_jobs::{JobName, Jobs, Report};
use slsplay_projections::email::outbox::OutboxMessage;
use slsplay_projections::read_models::{GuestListEntry, RsvpStatus};
use slsplay_projections::schema::Key;
use slsplay_projections::store::sqlite::SqliteQueries;
use slsplay_projections::store::{Queries, ReadQueries};
use slsplay_tests::fixtures::{self, ORGANIZER, ORGANIZER_EMAIL, guest, now, token};
use slsplay_tests::projection::{
    EmailBuilder, ReadModelBuilder, catch_up, email_builder, outbox, read_model_builder,
};
use slsplay_tests::stores::{SqliteStore, StoreUnderTest, service};

const EVENT: &str = "ev-jobs";

fn start() -> DateTime<Utc> {
    now() + Duration::days(14)
}

/// One platform: its store, its builders, its jobs, all on one clock.
struct Platform {
    store: SqliteStore,
    dir: tempfile::TempDir,
    clock: FixedClock,
    commands: Arc<CommandService<VirtualEvent, SqliteEventRepository>>,
    read_models: ReadModelBuilder,
    emails: EmailBuilder,
    jobs: Jobs<SqliteEventRepository, Queries>,
}

impl Platform {
    fn new() -> Self {
        let store = SqliteStore::new();
        let dir = tempfile::tempdir().unwrap();
        let clock = FixedClock::at(now());
        let commands = Arc::new(service(store.open(), &clock));
        let read_models = read_model_builder(store.open(), dir.path());
        let emails = email_builder(&store, dir.path());
        let queries = SqliteQueries::open(dir.path().join("read_models.sqlite3")).unwrap();
        let jobs = Jobs::new(
            commands.clone(),
            Queries::Sqlite(queries),
            Arc::new(clock.clone()),
        );
        Self {
            store,
            dir,
            clock,
            commands,
            read_models,
            emails,
            jobs,
        }
    }

    async fn run(&self, command: C) {
        let ctx = CommandContext::new(ORGANIZER);
        self.commands.execute(EVENT, command, &ctx).await.unwrap();
    }

    async fn answer(&self, i: usize, answer: RsvpAnswer) {
        self.run(C::Rsvp {
            credential: token(EVENT, &guest(i)),
            answer,
        })
        .await;
    }

    /// The builders see every fact again, as a redelivery would hand them over.
    async fn project(&self) {
        catch_up(&self.store.open(), &self.read_models).await;
        catch_up(&self.store.open(), &self.emails).await;
    }

    async fn job(&self, job: JobName) -> Report {
        let report = self.jobs.run(job).await.unwrap();
        assert!(report.succeeded(), "{report:?}");
        report
    }

    async fn mail(&self, to: &str, kind: &str) -> Vec<OutboxMessage> {
        let rows = outbox(&self.emails, to).await;
        rows.into_iter().filter(|m| m.kind == kind).collect()
    }

    async fn facts(&self, event_type: &str) -> usize {
        let facts = self.store.open().get_events::<VirtualEvent>(EVENT).await.unwrap();
        facts.iter().filter(|f| f.event_type == event_type).count()
    }

    /// A published event with `n` invited guests.
    async fn published_with_guests(&self, n: usize) {
        self.run(fixtures::create(EVENT, None)).await;
        self.run(fixtures::publish()).await;
        self.run(fixtures::invite((0..n).map(guest))).await;
    }
}

/// The text part of an email, as a person reads it.
fn text(message: &OutboxMessage) -> String {
    let eml = message.eml.replace("=\r\n", "").replace("\r\n", "\n");
    eml.split("Content-Type: text/html").next().unwrap().to_owned()
}

#[tokio::test]
async fn the_digest_goes_out_once_an_hour_before_with_who_will_attend() {
    let p = Platform::new();
    p.published_with_guests(5).await;
    p.answer(0, RsvpAnswer::Accept).await;
    p.answer(1, RsvpAnswer::Decline).await;
    // Signed in with the invited address: the sign-in's name shows on the list.
    p.run(C::Rsvp {
        credential: InvitationCredential::VerifiedEmail {
            email: guest(4),
            name: Some("Ana Lima".into()),
        },
        answer: RsvpAnswer::Accept,
    })
    .await;
    p.project().await;

    p.clock.set(start() - Duration::minutes(61));
    assert_eq!(p.job(JobName::Digest).await.due, 0, "not due before the hour");
    p.clock.set(start() - Duration::minutes(60));
    let report = p.job(JobName::Digest).await;
    assert_eq!((report.due, report.done), (1, 1));
    p.project().await;

    let digests = p.mail(ORGANIZER_EMAIL, "digest").await;
    assert_eq!(digests.len(), 1);
    let body = text(&digests[0]);
    assert!(body.contains("Hi Olivia Ortega,"), "{body}");
    assert!(body.contains("These guests will attend (2):"), "{body}");
    assert!(
        body.contains(&format!("- {}\n- Ana Lima <{}>", guest(0), guest(4))),
        "{body}"
    );
    assert!(!body.contains(&guest(1)) && !body.contains(&guest(2)), "{body}");
    assert!(
        body.contains("0 waitlisted, 2 not answered, 1 declined"),
        "{body}"
    );
    assert!(
        body.contains("Join here: https://meet.example.com/founders"),
        "{body}"
    );
    // 09:00 UTC is 11:00 in Berlin in May: the organizer's own zone.
    assert!(body.contains("11:00 (Europe/Berlin)"), "{body}");
    assert_eq!(digests[0].subject, "2 attending: Founders' dinner");
    // The organizer's guest list in the app has the name too.
    let queries = SqliteQueries::open(p.dir.path().join("read_models.sqlite3")).unwrap();
    let key = Key::with_sort(
        EVENT,
        slsplay_aggregates::virtual_event::invitation_id(EVENT, &guest(4)),
    );
    let ana: GuestListEntry = queries.get(&key).await.unwrap().unwrap();
    assert_eq!(ana.name.as_deref(), Some("Ana Lima"));

    // The next minutes, and two runs at once (before the read model shows the fact), and
    // every fact delivered again: still one digest.
    p.clock.advance(Duration::minutes(1));
    let (a, b) = tokio::join!(p.jobs.run(JobName::Digest), p.jobs.run(JobName::Digest));
    assert_eq!(a.unwrap().done + b.unwrap().done, 0);
    p.project().await;
    assert_eq!(
        p.job(JobName::Digest).await.due,
        0,
        "the read model shows it sent"
    );
    assert_eq!(p.facts("DigestSent").await, 1);
    assert_eq!(p.mail(ORGANIZER_EMAIL, "digest").await.len(), 1);
}

#[tokio::test]
async fn overlapping_runs_record_one_digest() {
    let p = Platform::new();
    p.published_with_guests(1).await;
    p.project().await;
    p.clock.set(start() - Duration::minutes(30));
    let (a, b) = tokio::join!(p.jobs.run(JobName::Digest), p.jobs.run(JobName::Digest));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.due, b.due), (1, 1), "both saw it due");
    assert_eq!((a.done + b.done, a.already_done + b.already_done), (1, 1));
    p.project().await;
    assert_eq!(p.facts("DigestSent").await, 1);
    assert_eq!(p.mail(ORGANIZER_EMAIL, "digest").await.len(), 1);
}

#[tokio::test]
async fn an_event_published_twenty_minutes_before_gets_its_digest_at_once_and_an_uninvited_one_none() {
    let p = Platform::new();
    p.run(fixtures::create(EVENT, None)).await;
    p.project().await;
    p.clock.set(start() - Duration::minutes(20));
    p.run(fixtures::publish()).await;
    p.project().await;
    assert_eq!(
        p.job(JobName::Digest).await.due,
        0,
        "nobody invited: nothing to list"
    );
    p.run(fixtures::invite([guest(0)])).await;
    p.project().await;
    assert_eq!(p.job(JobName::Digest).await.done, 1);
    p.project().await;
    let digest = p.mail(ORGANIZER_EMAIL, "digest").await;
    assert_eq!(digest.len(), 1);
    assert!(text(&digest[0]).contains("Nobody has confirmed yet."));
}

#[tokio::test]
async fn a_crash_between_the_command_and_the_email_still_sends_one_digest() {
    let p = Platform::new();
    p.published_with_guests(2).await;
    p.answer(0, RsvpAnswer::Accept).await;
    p.project().await;
    p.clock.set(start() - Duration::minutes(45));
    assert_eq!(p.job(JobName::Digest).await.done, 1);
    // The process dies here: the fact is stored, no builder has seen it. A new process
    // (new builders on the same files) picks it up from the store.
    let restarted = email_builder(&p.store, p.dir.path());
    assert_eq!(
        p.job(JobName::Digest).await.already_done,
        1,
        "the read model is behind"
    );
    catch_up(&p.store.open(), &p.read_models).await;
    catch_up(&p.store.open(), &restarted).await;
    catch_up(&p.store.open(), &restarted).await;
    assert_eq!(p.job(JobName::Digest).await.due, 0);
    assert_eq!(p.mail(ORGANIZER_EMAIL, "digest").await.len(), 1);
}

#[tokio::test]
async fn after_the_digest_each_change_of_who_attends_sends_one_update() {
    let p = Platform::new();
    p.published_with_guests(3).await;
    p.answer(0, RsvpAnswer::Accept).await;
    p.project().await;
    p.clock.set(start() - Duration::minutes(60));
    p.job(JobName::Digest).await;
    p.project().await;
    assert!(p.mail(ORGANIZER_EMAIL, "attendance").await.is_empty());

    p.clock.set(start() - Duration::minutes(30));
    p.answer(1, RsvpAnswer::Accept).await;
    p.project().await;
    p.project().await;
    let updates = p.mail(ORGANIZER_EMAIL, "attendance").await;
    assert_eq!(updates.len(), 1, "one per change, however often delivered");
    assert!(
        text(&updates[0]).contains(&format!("{} accepted. 2 will attend.", guest(1))),
        "{}",
        text(&updates[0])
    );

    // A decline from someone who was not coming changes nothing; from an attendee it does.
    p.answer(2, RsvpAnswer::Decline).await;
    p.answer(0, RsvpAnswer::Decline).await;
    p.project().await;
    let updates = p.mail(ORGANIZER_EMAIL, "attendance").await;
    assert_eq!(updates.len(), 2);
    assert!(
        updates
            .iter()
            .any(|u| text(u).contains(&format!("{} declined. 1 will attend.", guest(0))))
    );
}

#[tokio::test]
async fn reminders_go_once_per_guest_and_kind() {
    let p = Platform::new();
    p.published_with_guests(3).await;
    p.answer(0, RsvpAnswer::Accept).await;
    p.answer(2, RsvpAnswer::Decline).await;
    p.project().await;

    p.clock.set(start() - Duration::hours(25));
    assert_eq!(p.job(JobName::Reminders).await.due, 0);
    p.clock.set(start() - Duration::hours(24));
    assert_eq!(p.job(JobName::Reminders).await.done, 1);
    p.clock.advance(Duration::minutes(1));
    let _ = p.jobs.run(JobName::Reminders).await.unwrap();
    p.project().await;
    assert_eq!(p.job(JobName::Reminders).await.due, 0);

    p.clock.set(start() - Duration::minutes(59));
    assert_eq!(p.job(JobName::Reminders).await.done, 1);
    p.project().await;
    p.job(JobName::Reminders).await;
    p.project().await;

    let reminders = p.mail(&guest(0), "reminder").await;
    let subjects: Vec<&str> = reminders.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects.contains(&"Tomorrow: Founders' dinner"), "{subjects:?}");
    assert!(subjects.contains(&"In an hour: Founders' dinner"), "{subjects:?}");
    assert!(
        reminders
            .iter()
            .all(|m| text(m).contains("Join here: https://meet.example.com/founders"))
    );
    let nudges = p.mail(&guest(1), "nudge").await;
    assert_eq!(nudges.len(), 1);
    assert!(text(&nudges[0]).contains("you have not answered yet"));
    assert!(
        p.mail(&guest(1), "reminder").await.is_empty(),
        "no join link before accepting"
    );
    assert!(p.mail(&guest(2), "reminder").await.is_empty());
    assert!(p.mail(&guest(2), "nudge").await.is_empty());
    assert_eq!(p.facts("RemindersSent").await, 2);
}

#[tokio::test]
async fn a_lapsed_seat_hold_is_released_and_the_next_guest_moves_up() {
    let p = Platform::new();
    let C::CreateEvent(create) = fixtures::create(EVENT, Some(1)) else {
        unreachable!()
    };
    let paid = CreateEvent {
        ticket_price: Some(Money {
            amount_minor: 5000,
            currency: "EUR".into(),
        }),
        ..create
    };
    p.run(C::CreateEvent(paid)).await;
    p.run(fixtures::publish()).await;
    p.run(fixtures::invite([guest(0), guest(1)])).await;
    p.answer(0, RsvpAnswer::Accept).await; // holds the one seat
    p.answer(1, RsvpAnswer::Accept).await; // waitlisted
    p.project().await;

    p.clock.advance(Duration::minutes(14));
    assert_eq!(p.job(JobName::SeatHolds).await.due, 0, "the hold still runs");
    p.clock.advance(Duration::minutes(2));
    assert_eq!(p.job(JobName::SeatHolds).await.done, 1);
    p.project().await;
    assert_eq!(p.facts("SeatHoldsExpired").await, 1);

    let guest_list = |i: usize| {
        Key::with_sort(
            EVENT,
            slsplay_aggregates::virtual_event::invitation_id(EVENT, &guest(i)),
        )
    };
    let queries = SqliteQueries::open(p.dir.path().join("read_models.sqlite3")).unwrap();
    let first: GuestListEntry = queries.get(&guest_list(0)).await.unwrap().unwrap();
    let second: GuestListEntry = queries.get(&guest_list(1)).await.unwrap().unwrap();
    assert_eq!(
        (first.rsvp, second.rsvp),
        (RsvpStatus::Invited, RsvpStatus::SeatHeld)
    );
    let promoted = p.mail(&guest(1), "promoted").await;
    assert_eq!(promoted.len(), 1, "the next guest is told to pay");
    // The promoted guest's own hold is not due yet; the released one is gone from the index.
    assert_eq!(p.job(JobName::SeatHolds).await.due, 0);
}

#[tokio::test]
async fn at_the_start_the_unanswered_invitations_close_and_the_lists_say_so() {
    let p = Platform::new();
    p.published_with_guests(2).await;
    p.answer(0, RsvpAnswer::Accept).await;
    p.project().await;
    p.clock.set(start() - Duration::minutes(1));
    assert_eq!(p.job(JobName::CloseInvitations).await.due, 0, "not started yet");
    p.clock.set(start() + Duration::minutes(1));
    assert_eq!(p.job(JobName::CloseInvitations).await.done, 1);
    p.project().await;
    assert_eq!(p.job(JobName::CloseInvitations).await.due, 0);
    assert_eq!(p.facts("InvitationsClosed").await, 1);

    let queries = SqliteQueries::open(p.dir.path().join("read_models.sqlite3")).unwrap();
    let row = |i: usize| {
        Key::with_sort(
            EVENT,
            slsplay_aggregates::virtual_event::invitation_id(EVENT, &guest(i)),
        )
    };
    let answered: GuestListEntry = queries.get(&row(0)).await.unwrap().unwrap();
    let silent: GuestListEntry = queries.get(&row(1)).await.unwrap().unwrap();
    assert_eq!(
        (answered.rsvp, silent.rsvp),
        (RsvpStatus::Attending, RsvpStatus::NoAnswer)
    );
    let own: slsplay_projections::read_models::InvitationByEmail = queries
        .get(&Key::with_sort(guest(1), EVENT))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(own.rsvp, RsvpStatus::NoAnswer, "the invitee's own list too");
}

/// Every row of every read model table, in key order, as text: what an analyst would see.
fn tables(path: &std::path::Path) -> Vec<(String, Vec<Vec<String>>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    slsplay_projections::read_models::TABLES
        .iter()
        .map(|t| {
            let mut statement = conn
                .prepare(&format!("SELECT * FROM {} ORDER BY 1, 2", t.name))
                .unwrap();
            let width = statement.column_count();
            let rows = statement
                .query_map([], |r| {
                    (0..width)
                        .map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}")))
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            (t.name.to_owned(), rows)
        })
        .collect()
}

#[tokio::test]
async fn an_event_long_over_leaves_the_apps_tables_and_its_daily_counts_stay_as_a_rebuild_has_them() {
    let p = Platform::new();
    p.published_with_guests(2).await;
    p.answer(0, RsvpAnswer::Accept).await;
    p.project().await;
    let ended = start() + Duration::minutes(120);

    p.clock.set(ended + Duration::days(30));
    assert_eq!(
        p.job(JobName::Retention).await.due,
        0,
        "kept 30 days after the end"
    );
    p.clock.set(start() + Duration::days(31));
    assert_eq!(p.job(JobName::Retention).await.done, 1);
    p.project().await;
    assert_eq!(p.job(JobName::Retention).await.due, 0, "gone from the index");
    assert_eq!(p.facts("VirtualEventArchived").await, 1);

    let live = tables(&p.dir.path().join("read_models.sqlite3"));
    for (table, rows) in &live {
        match table.as_str() {
            "invitation_stats_daily" => assert_eq!(rows.len(), 1, "the day's counts stay"),
            _ => assert!(rows.is_empty(), "{table} keeps {rows:?}"),
        }
    }
    let rebuilt_dir = tempfile::tempdir().unwrap();
    let rebuilt = read_model_builder(p.store.open(), rebuilt_dir.path());
    catch_up(&p.store.open(), &rebuilt).await;
    drop(rebuilt);
    assert_eq!(tables(&rebuilt_dir.path().join("read_models.sqlite3")), live);
    // To commands the event is gone.
    let ctx = CommandContext::new(ORGANIZER);
    let refused = p
        .commands
        .execute(EVENT, fixtures::invite([guest(5)]), &ctx)
        .await
        .unwrap_err();
    assert_eq!(refused.to_string(), "no such event");
}
