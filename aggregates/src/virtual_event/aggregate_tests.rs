//! Given/when/then tests of every command and every rejection.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::clock::FixedClock;
use crate::validation::{FieldError, MediaKind, Money, ValidationErrors};
use crate::virtual_event::{
    AttachMedia, Contact, CreateEvent, InvitationCredential, InvitationIssued, Promotion, ReminderKind,
    RsvpAnswer, UpdateDetails, VirtualEventCommand as C, VirtualEventFact as F,
};

const EVENT: &str = "ev1";
const ORG: &str = "organizer-1";
const SECRET: [u8; 32] = [7; 32];

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-03-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn starts() -> DateTime<Utc> {
    now() + Duration::days(7)
}

fn services_at(at: DateTime<Utc>) -> VirtualEventServices {
    VirtualEventServices::new(
        Arc::new(FixedClock::at(at)),
        InvitationTokens::new(&SECRET).unwrap(),
    )
}

fn at(at: DateTime<Utc>) -> TestFramework<VirtualEvent> {
    TestFramework::with(services_at(at))
}

fn test() -> TestFramework<VirtualEvent> {
    at(now())
}

fn usd(amount_minor: u64) -> Money {
    Money {
        amount_minor,
        currency: "USD".into(),
    }
}

fn organizer_contact() -> Contact {
    Contact {
        email: "olivia@example.com".into(),
        name: Some("Olivia Ortega".into()),
    }
}

fn create_cmd() -> CreateEvent {
    CreateEvent {
        event_id: EVENT.into(),
        organizer: ORG.into(),
        title: "  Launch party ".into(),
        description: "Bring your own drink".into(),
        starts_at: starts(),
        time_zone: "Europe/Paris".into(),
        duration_minutes: 90,
        capacity: None,
        ticket_price: None,
        meeting_url: "https://meet.example.com/launch".into(),
        organizer_contact: Some(organizer_contact()),
    }
}

fn created_with(capacity: Option<u32>, ticket_price: Option<Money>) -> F {
    F::Created(Created {
        event_id: EVENT.into(),
        organizer: ORG.into(),
        title: "Launch party".into(),
        description: "Bring your own drink".into(),
        starts_at: starts(),
        time_zone: "Europe/Paris".into(),
        duration_minutes: 90,
        capacity,
        ticket_price,
        meeting_url: "https://meet.example.com/launch".into(),
        organizer_contact: Some(organizer_contact()),
        at: now(),
    })
}

fn created_with_contact(contact: Option<Contact>) -> F {
    let F::Created(c) = created() else { unreachable!() };
    F::Created(Created {
        organizer_contact: contact,
        ..c
    })
}

fn created() -> F {
    created_with(None, None)
}

fn published() -> F {
    F::Published { at: now() }
}

fn id(email: &str) -> String {
    invitation_id(EVENT, email)
}

fn token(email: &str) -> InvitationCredential {
    let tokens = InvitationTokens::new(&SECRET).unwrap();
    InvitationCredential::Token(tokens.token_for(EVENT, &id(email)))
}

fn issued(email: &str) -> InvitationIssued {
    let InvitationCredential::Token(t) = token(email) else {
        unreachable!()
    };
    InvitationIssued {
        invitation_id: id(email),
        email: email.into(),
        token_hash: InvitationTokens::hash(&t),
    }
}

fn invited(emails: &[&str]) -> F {
    F::GuestsInvited {
        invitations: emails.iter().map(|e| issued(e)).collect(),
        at: now(),
    }
}

fn accepted(email: &str) -> F {
    F::InvitationAccepted {
        invitation_id: id(email),
        at: now(),
    }
}

fn waitlisted(email: &str) -> F {
    F::GuestWaitlisted {
        invitation_id: id(email),
        at: now(),
    }
}

fn held(email: &str, until: DateTime<Utc>) -> F {
    F::SeatHeld {
        invitation_id: id(email),
        until,
        at: now(),
    }
}

fn rsvp(email: &str, answer: RsvpAnswer) -> C {
    C::Rsvp {
        credential: token(email),
        answer,
    }
}

fn pay(email: &str, amount: Money) -> C {
    C::Pay {
        credential: token(email),
        payment_reference: "pi_123".into(),
        amount,
    }
}

fn invalid(fields: &[(&str, &str)]) -> VirtualEventError {
    VirtualEventError::Invalid(ValidationErrors(
        fields
            .iter()
            .map(|(f, m)| FieldError {
                field: (*f).into(),
                message: (*m).into(),
            })
            .collect(),
    ))
}

fn failing_fields(result: Result<Vec<F>, VirtualEventError>) -> Vec<String> {
    match result {
        Err(VirtualEventError::Invalid(errors)) => errors.0.into_iter().map(|e| e.field).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

// --- CreateEvent

#[test]
fn creating_an_event_records_its_trimmed_details_as_a_draft() {
    test()
        .given_no_previous_events()
        .when(C::CreateEvent(create_cmd()))
        .then_expect_events(vec![created()]);
}

#[test]
fn the_organizers_contact_is_kept_with_a_clean_name_and_a_checked_email() {
    let cmd = CreateEvent {
        organizer_contact: Some(Contact {
            email: " Olivia@Example.com ".into(),
            name: Some("  Olivia\u{7}\nOrtega  ".into()),
        }),
        ..create_cmd()
    };
    let F::Created(expected) = created() else {
        unreachable!()
    };
    test()
        .given_no_previous_events()
        .when(C::CreateEvent(cmd))
        .then_expect_events(vec![F::Created(Created {
            organizer_contact: Some(Contact {
                email: "olivia@example.com".into(),
                name: Some("OliviaOrtega".into()),
            }),
            ..expected
        })]);
    let nameless = CreateEvent {
        organizer_contact: Some(Contact {
            email: "olivia@example.com".into(),
            name: Some(" \t ".into()),
        }),
        ..create_cmd()
    };
    test()
        .given_no_previous_events()
        .when(C::CreateEvent(nameless))
        .then_expect_events(vec![created_with_contact(Some(Contact {
            email: "olivia@example.com".into(),
            name: None,
        }))]);
    let bad = CreateEvent {
        organizer_contact: Some(Contact {
            email: "not an address".into(),
            name: None,
        }),
        ..create_cmd()
    };
    let fields = failing_fields(
        test()
            .given_no_previous_events()
            .when(C::CreateEvent(bad))
            .inspect_result(),
    );
    assert_eq!(fields, ["organizer_contact.email"]);
}

#[test]
fn a_retried_create_records_nothing_and_a_different_one_is_rejected() {
    test()
        .given(vec![created()])
        .when(C::CreateEvent(create_cmd()))
        .then_expect_events(vec![]);
    let other = CreateEvent {
        title: "Another party".into(),
        ..create_cmd()
    };
    test()
        .given(vec![created()])
        .when(C::CreateEvent(other))
        .then_expect_error(VirtualEventError::AlreadyExists);
}

#[test]
fn every_invalid_field_of_a_create_is_reported_at_once() {
    let cmd = CreateEvent {
        event_id: "has spaces".into(),
        organizer: " ".into(),
        title: "x".repeat(121),
        description: "d".repeat(2001),
        starts_at: now() - Duration::minutes(1),
        time_zone: "Mars/Olympus".into(),
        duration_minutes: 2,
        capacity: Some(0),
        ticket_price: Some(Money {
            amount_minor: 0,
            currency: "ZZZ".into(),
        }),
        meeting_url: "http://meet.example.com".into(),
        organizer_contact: None,
    };
    let fields = failing_fields(
        test()
            .given_no_previous_events()
            .when(C::CreateEvent(cmd))
            .inspect_result(),
    );
    assert_eq!(
        fields,
        [
            "event_id",
            "organizer",
            "title",
            "description",
            "starts_at",
            "time_zone",
            "duration_minutes",
            "capacity",
            "ticket_price.amount_minor",
            "ticket_price.currency",
            "meeting_url"
        ]
    );
}

#[test]
fn an_empty_title_is_rejected() {
    let cmd = CreateEvent {
        title: "   ".into(),
        ..create_cmd()
    };
    test()
        .given_no_previous_events()
        .when(C::CreateEvent(cmd))
        .then_expect_error(invalid(&[("title", "must not be empty")]));
}

// --- UpdateDetails

fn update() -> UpdateDetails {
    UpdateDetails {
        organizer: ORG.into(),
        ..Default::default()
    }
}

#[test]
fn updating_details_records_only_what_changed() {
    let cmd = UpdateDetails {
        title: Some("Launch party".into()),
        description: Some("New description".into()),
        capacity: Some(Some(10)),
        ..update()
    };
    let expected = DetailsUpdated {
        description: Some("New description".into()),
        capacity: Some(Some(10)),
        ..Default::default()
    };
    test()
        .given(vec![created(), published()])
        .when(C::UpdateDetails(cmd))
        .then_expect_events(vec![F::DetailsUpdated(expected)]);
}

#[test]
fn an_update_that_changes_nothing_records_nothing() {
    let cmd = UpdateDetails {
        title: Some("Launch party".into()),
        ..update()
    };
    test()
        .given(vec![created()])
        .when(C::UpdateDetails(cmd))
        .then_expect_events(vec![]);
}

#[test]
fn moving_the_start_records_a_reschedule_with_the_previous_start() {
    let new_start = starts() + Duration::hours(2);
    let cmd = UpdateDetails {
        starts_at: Some(new_start),
        time_zone: Some("America/New_York".into()),
        ..update()
    };
    test()
        .given(vec![created(), published()])
        .when(C::UpdateDetails(cmd))
        .then_expect_events(vec![F::Rescheduled(Rescheduled {
            starts_at: new_start,
            time_zone: "America/New_York".into(),
            duration_minutes: 90,
            previous_starts_at: starts(),
        })]);
}

#[test]
fn only_the_organizer_updates_details() {
    let cmd = UpdateDetails {
        organizer: "someone-else".into(),
        title: Some("Mine now".into()),
        ..update()
    };
    test()
        .given(vec![created()])
        .when(C::UpdateDetails(cmd))
        .then_expect_error(VirtualEventError::NotTheOrganizer);
}

#[test]
fn details_cannot_change_after_the_start() {
    let cmd = UpdateDetails {
        title: Some("Too late".into()),
        ..update()
    };
    at(starts() + Duration::minutes(1))
        .given(vec![created(), published()])
        .when(C::UpdateDetails(cmd))
        .then_expect_error(VirtualEventError::AlreadyStarted);
}

#[test]
fn details_of_a_cancelled_event_cannot_change() {
    let cmd = UpdateDetails {
        title: Some("Revived".into()),
        ..update()
    };
    test()
        .given(vec![
            created(),
            F::Cancelled {
                message: "sorry".into(),
                at: now(),
            },
        ])
        .when(C::UpdateDetails(cmd))
        .then_expect_error(VirtualEventError::Cancelled);
}

#[test]
fn an_update_reports_every_invalid_field() {
    let cmd = UpdateDetails {
        title: Some(String::new()),
        starts_at: Some(now() - Duration::hours(1)),
        duration_minutes: Some(0),
        meeting_url: Some("ftp://x".into()),
        ..update()
    };
    let fields = failing_fields(
        test()
            .given(vec![created()])
            .when(C::UpdateDetails(cmd))
            .inspect_result(),
    );
    assert_eq!(fields, ["title", "meeting_url", "starts_at", "duration_minutes"]);
}

#[test]
fn an_update_reports_its_other_invalid_fields_in_order() {
    let cmd = UpdateDetails {
        description: Some("d".repeat(2001)),
        time_zone: Some("Mars/Olympus".into()),
        capacity: Some(Some(0)),
        ticket_price: Some(Some(Money {
            amount_minor: 0,
            currency: "ZZZ".into(),
        })),
        ..update()
    };
    let fields = failing_fields(
        test()
            .given(vec![created()])
            .when(C::UpdateDetails(cmd))
            .inspect_result(),
    );
    assert_eq!(
        fields,
        [
            "description",
            "capacity",
            "ticket_price.amount_minor",
            "ticket_price.currency",
            "time_zone"
        ]
    );
}

#[test]
fn one_invalid_field_refuses_the_whole_update_even_with_a_valid_new_start() {
    let cmd = UpdateDetails {
        title: Some(" ".into()),
        starts_at: Some(starts() + Duration::hours(2)),
        ..update()
    };
    test()
        .given(vec![created()])
        .when(C::UpdateDetails(cmd))
        .then_expect_error(invalid(&[("title", "must not be empty")]));
}

#[test]
fn the_price_cannot_change_once_published() {
    let cmd = UpdateDetails {
        ticket_price: Some(Some(usd(500))),
        ..update()
    };
    test()
        .given(vec![created(), published()])
        .when(C::UpdateDetails(cmd))
        .then_expect_error(VirtualEventError::PriceLocked);
}

#[test]
fn the_price_can_change_in_draft() {
    let cmd = UpdateDetails {
        ticket_price: Some(Some(usd(500))),
        ..update()
    };
    test()
        .given(vec![created()])
        .when(C::UpdateDetails(cmd))
        .then_expect_events(vec![F::DetailsUpdated(DetailsUpdated {
            ticket_price: Some(Some(usd(500))),
            ..Default::default()
        })]);
}

#[test]
fn capacity_cannot_drop_below_the_seats_taken() {
    let cmd = UpdateDetails {
        capacity: Some(Some(1)),
        ..update()
    };
    test()
        .given(vec![
            created(),
            published(),
            invited(&["a@x.io", "b@x.io"]),
            accepted("a@x.io"),
            accepted("b@x.io"),
        ])
        .when(C::UpdateDetails(cmd))
        .then_expect_error(VirtualEventError::CapacityBelowSeatsTaken { seats_taken: 2 });
}

#[test]
fn raising_the_capacity_promotes_the_waitlist_in_order() {
    let cmd = UpdateDetails {
        capacity: Some(Some(3)),
        ..update()
    };
    test()
        .given(vec![
            created_with(Some(1), None),
            published(),
            invited(&["a@x.io", "b@x.io", "c@x.io", "d@x.io"]),
            accepted("a@x.io"),
            waitlisted("c@x.io"),
            waitlisted("b@x.io"),
            waitlisted("d@x.io"),
        ])
        .when(C::UpdateDetails(cmd))
        .then_expect_events(vec![
            F::DetailsUpdated(DetailsUpdated {
                capacity: Some(Some(3)),
                ..Default::default()
            }),
            F::WaitlistedGuestsPromoted {
                promotions: vec![
                    Promotion {
                        invitation_id: id("c@x.io"),
                        hold_until: None,
                    },
                    Promotion {
                        invitation_id: id("b@x.io"),
                        hold_until: None,
                    },
                ],
                at: now(),
            },
        ]);
}

#[test]
fn updating_an_unknown_event_is_rejected() {
    test()
        .given_no_previous_events()
        .when(C::UpdateDetails(update()))
        .then_expect_error(VirtualEventError::NotFound);
}

// --- AttachMedia

fn photo(size_bytes: u64, content_type: &str) -> AttachMedia {
    AttachMedia {
        organizer: ORG.into(),
        kind: MediaKind::Photo,
        object_key: "events/ev1/cover.jpg".into(),
        content_type: content_type.into(),
        size_bytes,
    }
}

#[test]
fn attaching_a_photo_records_it() {
    test()
        .given(vec![created()])
        .when(C::AttachMedia(photo(1024, "image/JPEG")))
        .then_expect_events(vec![F::MediaAttached(MediaAttached {
            kind: MediaKind::Photo,
            object_key: "events/ev1/cover.jpg".into(),
            content_type: "image/jpeg".into(),
            size_bytes: 1024,
        })]);
}

#[test]
fn attaching_the_same_media_twice_records_it_once() {
    let attached = F::MediaAttached(MediaAttached {
        kind: MediaKind::Photo,
        object_key: "events/ev1/cover.jpg".into(),
        content_type: "image/jpeg".into(),
        size_bytes: 1024,
    });
    test()
        .given(vec![created(), attached])
        .when(C::AttachMedia(photo(1024, "image/jpeg")))
        .then_expect_events(vec![]);
}

#[test]
fn a_photo_over_10_mb_or_of_another_type_is_rejected() {
    let result = test()
        .given(vec![created()])
        .when(C::AttachMedia(photo(10 * 1024 * 1024 + 1, "video/mp4")))
        .inspect_result();
    assert_eq!(failing_fields(result), ["content_type", "size_bytes"]);
}

#[test]
fn a_video_up_to_200_mb_is_accepted_and_above_is_rejected() {
    let video = |size| AttachMedia {
        kind: MediaKind::Video,
        content_type: "video/webm".into(),
        object_key: "events/ev1/teaser.webm".into(),
        ..photo(size, "")
    };
    let ok = test()
        .given(vec![created()])
        .when(C::AttachMedia(video(200 * 1024 * 1024)))
        .inspect_result();
    assert_eq!(ok.unwrap().len(), 1);
    let too_big = test()
        .given(vec![created()])
        .when(C::AttachMedia(video(200 * 1024 * 1024 + 1)))
        .inspect_result();
    assert_eq!(failing_fields(too_big), ["size_bytes"]);
}

#[test]
fn only_the_organizer_attaches_media() {
    let cmd = AttachMedia {
        organizer: "intruder".into(),
        ..photo(1024, "image/png")
    };
    test()
        .given(vec![created()])
        .when(C::AttachMedia(cmd))
        .then_expect_error(VirtualEventError::NotTheOrganizer);
}

// --- Publish, Cancel, DeleteDraft

#[test]
fn publishing_a_draft_records_it() {
    test()
        .given(vec![created()])
        .when(C::Publish {
            organizer: ORG.into(),
        })
        .then_expect_events(vec![published()]);
}

#[test]
fn publishing_twice_records_nothing() {
    test()
        .given(vec![created(), published()])
        .when(C::Publish {
            organizer: ORG.into(),
        })
        .then_expect_events(vec![]);
}

#[test]
fn a_draft_whose_start_has_passed_cannot_be_published() {
    at(starts())
        .given(vec![created()])
        .when(C::Publish {
            organizer: ORG.into(),
        })
        .then_expect_error(VirtualEventError::StartNotInFuture);
}

#[test]
fn a_cancelled_event_cannot_be_published() {
    test()
        .given(vec![
            created(),
            F::Cancelled {
                message: "m".into(),
                at: now(),
            },
        ])
        .when(C::Publish {
            organizer: ORG.into(),
        })
        .then_expect_error(VirtualEventError::Cancelled);
}

#[test]
fn only_the_organizer_publishes() {
    test()
        .given(vec![created()])
        .when(C::Publish {
            organizer: "guest".into(),
        })
        .then_expect_error(VirtualEventError::NotTheOrganizer);
}

#[test]
fn cancelling_records_the_message_for_invitees() {
    test()
        .given(vec![created(), published()])
        .when(C::Cancel {
            organizer: ORG.into(),
            message: " Postponed to spring ".into(),
        })
        .then_expect_events(vec![F::Cancelled {
            message: "Postponed to spring".into(),
            at: now(),
        }]);
}

#[test]
fn a_cancellation_needs_a_message() {
    test()
        .given(vec![created(), published()])
        .when(C::Cancel {
            organizer: ORG.into(),
            message: " ".into(),
        })
        .then_expect_error(invalid(&[("message", "must not be empty")]));
}

#[test]
fn a_retried_cancel_records_nothing_and_another_message_is_rejected() {
    let cancelled = F::Cancelled {
        message: "m".into(),
        at: now(),
    };
    test()
        .given(vec![created(), cancelled.clone()])
        .when(C::Cancel {
            organizer: ORG.into(),
            message: "m".into(),
        })
        .then_expect_events(vec![]);
    test()
        .given(vec![created(), cancelled])
        .when(C::Cancel {
            organizer: ORG.into(),
            message: "again".into(),
        })
        .then_expect_error(VirtualEventError::Cancelled);
}

#[test]
fn an_ended_event_cannot_be_cancelled() {
    at(starts() + Duration::minutes(90))
        .given(vec![created(), published()])
        .when(C::Cancel {
            organizer: ORG.into(),
            message: "late".into(),
        })
        .then_expect_error(VirtualEventError::AlreadyEnded);
}

#[test]
fn only_the_organizer_cancels() {
    test()
        .given(vec![created(), published()])
        .when(C::Cancel {
            organizer: "guest".into(),
            message: "ha".into(),
        })
        .then_expect_error(VirtualEventError::NotTheOrganizer);
}

#[test]
fn a_draft_can_be_deleted_and_is_gone_afterwards() {
    test()
        .given(vec![created()])
        .when(C::DeleteDraft {
            organizer: ORG.into(),
        })
        .then_expect_events(vec![F::DraftDeleted { at: now() }]);
    test()
        .given(vec![created(), F::DraftDeleted { at: now() }])
        .when(C::Publish {
            organizer: ORG.into(),
        })
        .then_expect_error(VirtualEventError::NotFound);
}

#[test]
fn a_published_event_cannot_be_deleted() {
    test()
        .given(vec![created(), published()])
        .when(C::DeleteDraft {
            organizer: ORG.into(),
        })
        .then_expect_error(VirtualEventError::NotADraft);
}

// --- Invite, RevokeInvitation

fn invite(emails: &[&str]) -> C {
    C::Invite {
        organizer: ORG.into(),
        emails: emails.iter().map(|e| (*e).to_owned()).collect(),
    }
}

#[test]
fn inviting_normalises_emails_and_ignores_duplicates() {
    test()
        .given(vec![created(), published(), invited(&["old@x.io"])])
        .when(invite(&[" Ada@X.io", "ada@x.io", "old@x.io", "bob@x.io"]))
        .then_expect_events(vec![invited(&["ada@x.io", "bob@x.io"])]);
}

#[test]
fn inviting_only_known_guests_records_nothing() {
    test()
        .given(vec![created(), invited(&["a@x.io"])])
        .when(invite(&["A@x.io"]))
        .then_expect_events(vec![]);
}

#[test]
fn the_stored_invitation_keeps_a_hash_not_the_token() {
    let facts = test()
        .given(vec![created()])
        .when(invite(&["a@x.io"]))
        .inspect_result()
        .unwrap();
    let InvitationCredential::Token(t) = token("a@x.io") else {
        unreachable!()
    };
    let stored = serde_json::to_string(&facts).unwrap();
    assert!(!stored.contains(&t), "the token must not be stored");
    assert!(stored.contains(&InvitationTokens::hash(&t)));
}

#[test]
fn invalid_emails_are_reported_by_position() {
    let result = test()
        .given(vec![created()])
        .when(invite(&["ok@x.io", "nope", "also@bad"]))
        .inspect_result();
    assert_eq!(failing_fields(result), ["emails[1]", "emails[2]"]);
}

#[test]
fn an_invite_takes_1_to_100_addresses() {
    let none = test().given(vec![created()]).when(invite(&[])).inspect_result();
    assert_eq!(failing_fields(none), ["emails"]);
    let many: Vec<String> = (0..101).map(|i| format!("g{i}@x.io")).collect();
    let cmd = C::Invite {
        organizer: ORG.into(),
        emails: many.clone(),
    };
    assert_eq!(
        failing_fields(test().given(vec![created()]).when(cmd).inspect_result()),
        ["emails"]
    );
    let cmd = C::Invite {
        organizer: ORG.into(),
        emails: many[..100].to_vec(),
    };
    let facts = test().given(vec![created()]).when(cmd).inspect_result().unwrap();
    assert!(matches!(&facts[..], [F::GuestsInvited { invitations, .. }] if invitations.len() == 100));
}

#[test]
fn nobody_is_invited_after_the_start() {
    at(starts())
        .given(vec![created(), published()])
        .when(invite(&["late@x.io"]))
        .then_expect_error(VirtualEventError::AlreadyStarted);
}

#[test]
fn nobody_is_invited_to_a_cancelled_event() {
    test()
        .given(vec![
            created(),
            F::Cancelled {
                message: "m".into(),
                at: now(),
            },
        ])
        .when(invite(&["a@x.io"]))
        .then_expect_error(VirtualEventError::Cancelled);
}

#[test]
fn only_the_organizer_invites() {
    test()
        .given(vec![created()])
        .when(C::Invite {
            organizer: "guest".into(),
            emails: vec!["friend@x.io".into()],
        })
        .then_expect_error(VirtualEventError::NotTheOrganizer);
}

#[test]
fn an_unanswered_invitation_can_be_revoked_and_then_no_longer_works() {
    let revoke = C::RevokeInvitation {
        organizer: ORG.into(),
        invitation_id: id("a@x.io"),
    };
    test()
        .given(vec![created(), published(), invited(&["a@x.io"])])
        .when(revoke)
        .then_expect_events(vec![F::InvitationRevoked {
            invitation_id: id("a@x.io"),
            at: now(),
        }]);
    test()
        .given(vec![created(), published(), invited(&["a@x.io"])])
        .and(vec![F::InvitationRevoked {
            invitation_id: id("a@x.io"),
            at: now(),
        }])
        .when(rsvp("a@x.io", RsvpAnswer::Accept))
        .then_expect_error(VirtualEventError::InvitationRevoked);
}

#[test]
fn an_answered_invitation_cannot_be_revoked() {
    test()
        .given(vec![
            created(),
            published(),
            invited(&["a@x.io"]),
            accepted("a@x.io"),
        ])
        .when(C::RevokeInvitation {
            organizer: ORG.into(),
            invitation_id: id("a@x.io"),
        })
        .then_expect_error(VirtualEventError::AlreadyAnswered);
}

#[test]
fn revoking_an_unknown_invitation_is_rejected() {
    test()
        .given(vec![created()])
        .when(C::RevokeInvitation {
            organizer: ORG.into(),
            invitation_id: "inv_nope".into(),
        })
        .then_expect_error(VirtualEventError::InvitationNotFound);
}

#[test]
fn a_revoked_guest_can_be_invited_again() {
    test()
        .given(vec![
            created(),
            invited(&["a@x.io"]),
            F::InvitationRevoked {
                invitation_id: id("a@x.io"),
                at: now(),
            },
        ])
        .when(invite(&["a@x.io"]))
        .then_expect_events(vec![invited(&["a@x.io"])]);
}

// --- Rsvp

fn open_event(capacity: Option<u32>, price: Option<Money>, guests: &[&str]) -> Vec<F> {
    vec![created_with(capacity, price), published(), invited(guests)]
}

#[test]
fn accepting_a_free_event_confirms_the_seat() {
    test()
        .given(open_event(None, None, &["a@x.io"]))
        .when(rsvp("a@x.io", RsvpAnswer::Accept))
        .then_expect_events(vec![accepted("a@x.io")]);
}

#[test]
fn a_signed_in_guest_answers_with_their_verified_email() {
    test()
        .given(open_event(None, None, &["a@x.io"]))
        .when(C::Rsvp {
            credential: InvitationCredential::VerifiedEmail {
                email: "A@X.io".into(),
                name: None,
            },
            answer: RsvpAnswer::Accept,
        })
        .then_expect_events(vec![accepted("a@x.io")]);
}

#[test]
fn a_guest_answering_signed_in_is_named_once_as_their_sign_in_names_them() {
    let as_ana = |answer| C::Rsvp {
        credential: InvitationCredential::VerifiedEmail {
            email: "a@x.io".into(),
            name: Some(" Ana Lima ".into()),
        },
        answer,
    };
    let named = F::GuestNamed {
        invitation_id: id("a@x.io"),
        name: "Ana Lima".into(),
        at: now(),
    };
    test()
        .given(open_event(None, None, &["a@x.io"]))
        .when(as_ana(RsvpAnswer::Accept))
        .then_expect_events(vec![named.clone(), accepted("a@x.io")]);
    test()
        .given(open_event(None, None, &["a@x.io"]))
        .and(vec![named, accepted("a@x.io")])
        .when(as_ana(RsvpAnswer::Decline))
        .then_expect_events(vec![F::InvitationDeclined {
            invitation_id: id("a@x.io"),
            at: now(),
        }]);
}

#[test]
fn a_wrong_token_matches_no_invitation() {
    test()
        .given(open_event(None, None, &["a@x.io"]))
        .when(C::Rsvp {
            credential: InvitationCredential::Token("guess".into()),
            answer: RsvpAnswer::Accept,
        })
        .then_expect_error(VirtualEventError::InvitationNotFound);
}

#[test]
fn an_uninvited_email_matches_no_invitation() {
    test()
        .given(open_event(None, None, &["a@x.io"]))
        .when(C::Rsvp {
            credential: InvitationCredential::VerifiedEmail {
                email: "b@x.io".into(),
                name: None,
            },
            answer: RsvpAnswer::Accept,
        })
        .then_expect_error(VirtualEventError::InvitationNotFound);
}

#[test]
fn accepting_twice_records_one_acceptance() {
    test()
        .given(open_event(None, None, &["a@x.io"]))
        .and(vec![accepted("a@x.io")])
        .when(rsvp("a@x.io", RsvpAnswer::Accept))
        .then_expect_events(vec![]);
}

#[test]
fn a_guest_may_change_their_answer_until_the_start() {
    test()
        .given(open_event(None, None, &["a@x.io"]))
        .and(vec![accepted("a@x.io")])
        .when(rsvp("a@x.io", RsvpAnswer::Decline))
        .then_expect_events(vec![F::InvitationDeclined {
            invitation_id: id("a@x.io"),
            at: now(),
        }]);
}

#[test]
fn answers_close_at_the_start() {
    at(starts())
        .given(open_event(None, None, &["a@x.io"]))
        .when(rsvp("a@x.io", RsvpAnswer::Accept))
        .then_expect_error(VirtualEventError::AlreadyStarted);
}

#[test]
fn a_draft_takes_no_answers() {
    test()
        .given(vec![created(), invited(&["a@x.io"])])
        .when(rsvp("a@x.io", RsvpAnswer::Accept))
        .then_expect_error(VirtualEventError::NotPublished);
}

#[test]
fn a_cancelled_event_takes_no_answers() {
    test()
        .given(open_event(None, None, &["a@x.io"]))
        .and(vec![F::Cancelled {
            message: "m".into(),
            at: now(),
        }])
        .when(rsvp("a@x.io", RsvpAnswer::Accept))
        .then_expect_error(VirtualEventError::Cancelled);
}

#[test]
fn when_full_an_acceptance_joins_the_waitlist() {
    test()
        .given(open_event(Some(1), None, &["a@x.io", "b@x.io"]))
        .and(vec![accepted("a@x.io")])
        .when(rsvp("b@x.io", RsvpAnswer::Accept))
        .then_expect_events(vec![waitlisted("b@x.io")]);
}

#[test]
fn a_freed_seat_goes_to_the_first_waitlisted_guest() {
    test()
        .given(open_event(Some(1), None, &["a@x.io", "b@x.io", "c@x.io"]))
        .and(vec![
            accepted("a@x.io"),
            waitlisted("c@x.io"),
            waitlisted("b@x.io"),
        ])
        .when(rsvp("a@x.io", RsvpAnswer::Decline))
        .then_expect_events(vec![
            F::InvitationDeclined {
                invitation_id: id("a@x.io"),
                at: now(),
            },
            F::WaitlistedGuestsPromoted {
                promotions: vec![Promotion {
                    invitation_id: id("c@x.io"),
                    hold_until: None,
                }],
                at: now(),
            },
        ]);
}

#[test]
fn a_waitlisted_guest_who_declines_leaves_the_waitlist() {
    let events = vec![
        created_with(Some(1), None),
        published(),
        invited(&["a@x.io", "b@x.io", "c@x.io"]),
        accepted("a@x.io"),
        waitlisted("b@x.io"),
        waitlisted("c@x.io"),
        F::InvitationDeclined {
            invitation_id: id("b@x.io"),
            at: now(),
        },
    ];
    test()
        .given(events)
        .when(rsvp("a@x.io", RsvpAnswer::Decline))
        .then_expect_events(vec![
            F::InvitationDeclined {
                invitation_id: id("a@x.io"),
                at: now(),
            },
            F::WaitlistedGuestsPromoted {
                promotions: vec![Promotion {
                    invitation_id: id("c@x.io"),
                    hold_until: None,
                }],
                at: now(),
            },
        ]);
}

// --- Pay, seat holds

#[test]
fn accepting_a_paid_event_holds_a_seat_for_fifteen_minutes() {
    test()
        .given(open_event(None, Some(usd(2500)), &["a@x.io"]))
        .when(rsvp("a@x.io", RsvpAnswer::Accept))
        .then_expect_events(vec![held("a@x.io", now() + Duration::minutes(15))]);
}

#[test]
fn paying_within_the_hold_confirms_the_seat() {
    test()
        .given(open_event(None, Some(usd(2500)), &["a@x.io"]))
        .and(vec![held("a@x.io", now() + Duration::minutes(15))])
        .when(pay(
            "a@x.io",
            Money {
                amount_minor: 2500,
                currency: "usd".into(),
            },
        ))
        .then_expect_events(vec![F::TicketPaid {
            invitation_id: id("a@x.io"),
            payment_reference: "pi_123".into(),
            amount: usd(2500),
            at: now(),
        }]);
}

#[test]
fn a_payment_recorded_twice_is_recorded_once() {
    let paid = F::TicketPaid {
        invitation_id: id("a@x.io"),
        payment_reference: "pi_123".into(),
        amount: usd(2500),
        at: now(),
    };
    test()
        .given(open_event(None, Some(usd(2500)), &["a@x.io"]))
        .and(vec![held("a@x.io", now() + Duration::minutes(15)), paid])
        .when(pay("a@x.io", usd(2500)))
        .then_expect_events(vec![]);
}

#[test]
fn a_second_different_payment_is_rejected() {
    let paid = F::TicketPaid {
        invitation_id: id("a@x.io"),
        payment_reference: "pi_000".into(),
        amount: usd(2500),
        at: now(),
    };
    test()
        .given(open_event(None, Some(usd(2500)), &["a@x.io"]))
        .and(vec![held("a@x.io", now() + Duration::minutes(15)), paid])
        .when(pay("a@x.io", usd(2500)))
        .then_expect_error(VirtualEventError::AlreadyPaid);
}

#[test]
fn a_wrong_amount_is_rejected() {
    test()
        .given(open_event(None, Some(usd(2500)), &["a@x.io"]))
        .and(vec![held("a@x.io", now() + Duration::minutes(15))])
        .when(pay("a@x.io", usd(100)))
        .then_expect_error(VirtualEventError::WrongAmount {
            expected: usd(2500),
            paid: usd(100),
        });
}

#[test]
fn paying_after_the_hold_ran_out_is_rejected() {
    let until = now() + Duration::minutes(15);
    at(until)
        .given(open_event(None, Some(usd(2500)), &["a@x.io"]))
        .and(vec![held("a@x.io", until)])
        .when(pay("a@x.io", usd(2500)))
        .then_expect_error(VirtualEventError::SeatHoldExpired { until });
}

#[test]
fn paying_without_a_held_seat_is_rejected() {
    test()
        .given(open_event(None, Some(usd(2500)), &["a@x.io"]))
        .when(pay("a@x.io", usd(2500)))
        .then_expect_error(VirtualEventError::NoSeatHeld);
}

#[test]
fn a_free_event_takes_no_payment() {
    test()
        .given(open_event(None, None, &["a@x.io"]))
        .and(vec![accepted("a@x.io")])
        .when(pay("a@x.io", usd(2500)))
        .then_expect_error(VirtualEventError::NotAPaidEvent);
}

#[test]
fn a_payment_needs_a_reference() {
    test()
        .given(open_event(None, Some(usd(2500)), &["a@x.io"]))
        .and(vec![held("a@x.io", now() + Duration::minutes(15))])
        .when(C::Pay {
            credential: token("a@x.io"),
            payment_reference: "".into(),
            amount: usd(2500),
        })
        .then_expect_error(invalid(&[("payment_reference", "must be 1 to 200 characters")]));
}

#[test]
fn an_expired_hold_frees_the_seat_for_the_waitlist_who_then_must_pay() {
    let until = now() + Duration::minutes(15);
    at(until)
        .given(open_event(Some(1), Some(usd(2500)), &["a@x.io", "b@x.io"]))
        .and(vec![held("a@x.io", until), waitlisted("b@x.io")])
        .when(C::ExpireSeatHold {
            invitation_id: id("a@x.io"),
        })
        .then_expect_events(vec![
            F::SeatHoldsExpired {
                invitation_ids: vec![id("a@x.io")],
                at: until,
            },
            F::WaitlistedGuestsPromoted {
                promotions: vec![Promotion {
                    invitation_id: id("b@x.io"),
                    hold_until: Some(until + Duration::minutes(15)),
                }],
                at: until,
            },
        ]);
}

#[test]
fn expiring_a_hold_that_still_runs_is_rejected() {
    let until = now() + Duration::minutes(15);
    test()
        .given(open_event(None, Some(usd(2500)), &["a@x.io"]))
        .and(vec![held("a@x.io", until)])
        .when(C::ExpireSeatHold {
            invitation_id: id("a@x.io"),
        })
        .then_expect_error(VirtualEventError::SeatHoldStillActive { until });
}

#[test]
fn expiring_a_hold_that_was_paid_does_nothing() {
    let until = now() + Duration::minutes(15);
    let paid = F::TicketPaid {
        invitation_id: id("a@x.io"),
        payment_reference: "p".into(),
        amount: usd(2500),
        at: now(),
    };
    at(until + Duration::minutes(1))
        .given(open_event(None, Some(usd(2500)), &["a@x.io"]))
        .and(vec![held("a@x.io", until), paid])
        .when(C::ExpireSeatHold {
            invitation_id: id("a@x.io"),
        })
        .then_expect_events(vec![]);
}

#[test]
fn expiring_an_unknown_invitation_is_rejected() {
    test()
        .given(open_event(None, Some(usd(2500)), &["a@x.io"]))
        .when(C::ExpireSeatHold {
            invitation_id: "inv_nope".into(),
        })
        .then_expect_error(VirtualEventError::InvitationNotFound);
}

#[test]
fn a_lapsed_hold_is_released_before_the_next_answer_even_without_the_scheduler() {
    let until = now() + Duration::minutes(15);
    at(until)
        .given(open_event(Some(1), Some(usd(2500)), &["a@x.io", "b@x.io"]))
        .and(vec![held("a@x.io", until)])
        .when(rsvp("b@x.io", RsvpAnswer::Accept))
        .then_expect_events(vec![
            F::SeatHoldsExpired {
                invitation_ids: vec![id("a@x.io")],
                at: until,
            },
            F::SeatHeld {
                invitation_id: id("b@x.io"),
                until: until + Duration::minutes(15),
                at: until,
            },
        ]);
}

#[test]
fn a_paid_guest_who_declined_and_comes_back_does_not_pay_twice() {
    let paid = F::TicketPaid {
        invitation_id: id("a@x.io"),
        payment_reference: "p".into(),
        amount: usd(2500),
        at: now(),
    };
    test()
        .given(open_event(None, Some(usd(2500)), &["a@x.io"]))
        .and(vec![held("a@x.io", now() + Duration::minutes(15)), paid])
        .and(vec![F::InvitationDeclined {
            invitation_id: id("a@x.io"),
            at: now(),
        }])
        .when(rsvp("a@x.io", RsvpAnswer::Accept))
        .then_expect_events(vec![accepted("a@x.io")]);
}

// --- RecordDigestSent

#[test]
fn the_digest_is_recorded_once() {
    let sent = F::DigestSent {
        attendee_count: 1,
        at: now(),
    };
    test()
        .given(open_event(None, None, &["a@x.io"]))
        .and(vec![accepted("a@x.io")])
        .when(C::RecordDigestSent)
        .then_expect_events(vec![sent.clone()]);
    test()
        .given(open_event(None, None, &["a@x.io"]))
        .and(vec![sent])
        .when(C::RecordDigestSent)
        .then_expect_error(VirtualEventError::DigestAlreadySent);
}

#[test]
fn a_new_start_time_gets_a_new_digest() {
    let moved = F::Rescheduled(Rescheduled {
        starts_at: starts() + Duration::days(1),
        time_zone: "Europe/Paris".into(),
        duration_minutes: 90,
        previous_starts_at: starts(),
    });
    test()
        .given(open_event(None, None, &["a@x.io"]))
        .and(vec![
            F::DigestSent {
                attendee_count: 0,
                at: now(),
            },
            moved,
        ])
        .when(C::RecordDigestSent)
        .then_expect_events(vec![F::DigestSent {
            attendee_count: 0,
            at: now(),
        }]);
}

// --- SendReminders

#[test]
fn the_day_before_attending_guests_are_reminded_and_the_silent_ones_nudged_once() {
    let sent = F::RemindersSent {
        kind: ReminderKind::DayBefore,
        attending: vec![id("a@x.io")],
        nudged: vec![id("c@x.io")],
        at: now(),
    };
    let history = || {
        let mut h = open_event(None, None, &["a@x.io", "b@x.io", "c@x.io"]);
        h.extend([
            accepted("a@x.io"),
            F::InvitationDeclined {
                invitation_id: id("b@x.io"),
                at: now(),
            },
        ]);
        h
    };
    test()
        .given(history())
        .when(C::SendReminders {
            kind: ReminderKind::DayBefore,
        })
        .then_expect_events(vec![sent.clone()]);
    test()
        .given(history())
        .and(vec![sent])
        .when(C::SendReminders {
            kind: ReminderKind::DayBefore,
        })
        .then_expect_error(VirtualEventError::RemindersAlreadySent);
}

#[test]
fn the_hour_before_only_attending_guests_are_reminded_and_a_new_start_reminds_again() {
    let mut history = open_event(None, None, &["a@x.io", "c@x.io"]);
    history.extend([
        accepted("a@x.io"),
        F::RemindersSent {
            kind: ReminderKind::HourBefore,
            attending: vec![id("a@x.io")],
            nudged: vec![],
            at: now(),
        },
        F::Rescheduled(Rescheduled {
            starts_at: starts() + Duration::days(1),
            time_zone: "Europe/Paris".into(),
            duration_minutes: 90,
            previous_starts_at: starts(),
        }),
    ]);
    test()
        .given(history)
        .when(C::SendReminders {
            kind: ReminderKind::HourBefore,
        })
        .then_expect_events(vec![F::RemindersSent {
            kind: ReminderKind::HourBefore,
            attending: vec![id("a@x.io")],
            nudged: vec![],
            at: now(),
        }]);
}

#[test]
fn no_reminders_once_the_event_started_or_before_it_is_published() {
    at(starts())
        .given(open_event(None, None, &["a@x.io"]))
        .when(C::SendReminders {
            kind: ReminderKind::HourBefore,
        })
        .then_expect_error(VirtualEventError::AlreadyStarted);
    test()
        .given(vec![created()])
        .when(C::SendReminders {
            kind: ReminderKind::DayBefore,
        })
        .then_expect_error(VirtualEventError::NotPublished);
}

// --- Archive

#[test]
fn an_ended_event_is_archived_once_and_then_refuses_every_command() {
    let ended = starts() + Duration::minutes(90);
    let history = open_event(None, None, &["a@x.io"]);
    at(ended - Duration::minutes(1))
        .given(history.clone())
        .when(C::Archive)
        .then_expect_error(VirtualEventError::NotEndedYet);
    at(ended)
        .given(history.clone())
        .when(C::Archive)
        .then_expect_events(vec![F::Archived { at: ended }]);
    let mut archived = history;
    archived.push(F::Archived { at: ended });
    at(ended)
        .given(archived.clone())
        .when(C::Archive)
        .then_expect_error(VirtualEventError::NotFound);
    at(ended)
        .given(archived)
        .when(C::Invite {
            organizer: ORG.into(),
            emails: vec!["b@x.io".into()],
        })
        .then_expect_error(VirtualEventError::NotFound);
}

// --- CloseInvitations

#[test]
fn once_started_the_unanswered_invitations_are_closed_once() {
    let mut history = open_event(None, None, &["a@x.io", "b@x.io"]);
    history.push(accepted("a@x.io"));
    let closed = F::InvitationsClosed {
        invitation_ids: vec![id("b@x.io")],
        at: starts(),
    };
    at(starts() - Duration::minutes(1))
        .given(history.clone())
        .when(C::CloseInvitations)
        .then_expect_error(VirtualEventError::NotStartedYet);
    at(starts())
        .given(history.clone())
        .when(C::CloseInvitations)
        .then_expect_events(vec![closed.clone()]);
    history.push(closed);
    at(starts() + Duration::hours(3))
        .given(history)
        .when(C::CloseInvitations)
        .then_expect_error(VirtualEventError::InvitationsAlreadyClosed);
}

#[test]
fn no_digest_for_a_draft_or_a_cancelled_event() {
    test()
        .given(vec![created()])
        .when(C::RecordDigestSent)
        .then_expect_error(VirtualEventError::NotPublished);
    test()
        .given(vec![
            created(),
            published(),
            F::Cancelled {
                message: "m".into(),
                at: now(),
            },
        ])
        .when(C::RecordDigestSent)
        .then_expect_error(VirtualEventError::Cancelled);
}

#[test]
fn no_digest_for_an_unknown_event() {
    test()
        .given_no_previous_events()
        .when(C::RecordDigestSent)
        .then_expect_error(VirtualEventError::NotFound);
}

// --- State

#[test]
fn the_phase_follows_the_clock() {
    let mut event = VirtualEvent::default();
    for fact in [created(), published()] {
        cqrs_es::Aggregate::apply(&mut event, fact);
    }
    assert_eq!(event.phase(now()), Some(Phase::Published));
    assert_eq!(event.phase(starts()), Some(Phase::Started));
    assert_eq!(event.phase(starts() + Duration::minutes(90)), Some(Phase::Ended));
}

// --- Review fixes: replay fidelity, promotions after the start, holds, payments

#[test]
fn removing_the_capacity_survives_a_round_trip_through_the_store() {
    let fact = F::DetailsUpdated(DetailsUpdated {
        capacity: Some(None),
        ticket_price: Some(None),
        ..Default::default()
    });
    let stored = serde_json::to_value(&fact).unwrap();
    assert_eq!(serde_json::from_value::<F>(stored).unwrap(), fact);
    let untouched = F::DetailsUpdated(DetailsUpdated {
        title: Some("t".into()),
        ..Default::default()
    });
    let stored = serde_json::to_value(&untouched).unwrap();
    assert_eq!(serde_json::from_value::<F>(stored).unwrap(), untouched);
}

#[test]
fn an_update_command_with_a_null_capacity_removes_the_limit() {
    let json = serde_json::json!({ "organizer": ORG, "capacity": null });
    let cmd: UpdateDetails = serde_json::from_value(json).unwrap();
    assert_eq!(cmd.capacity, Some(None));
    let cmd: UpdateDetails = serde_json::from_value(serde_json::json!({ "organizer": ORG })).unwrap();
    assert_eq!(cmd.capacity, None);
}

#[test]
fn every_fact_reads_back_as_written() {
    let facts = vec![
        created_with(Some(3), Some(usd(100))),
        published(),
        invited(&["a@x.io"]),
        held("a@x.io", now()),
        F::SeatHoldsExpired {
            invitation_ids: vec![id("a@x.io")],
            at: now(),
        },
        F::WaitlistedGuestsPromoted {
            promotions: vec![Promotion {
                invitation_id: id("a@x.io"),
                hold_until: Some(now()),
            }],
            at: now(),
        },
        F::TicketPaid {
            invitation_id: id("a@x.io"),
            payment_reference: "p".into(),
            amount: usd(100),
            at: now(),
        },
        F::DigestSent {
            attendee_count: 1,
            at: now(),
        },
    ];
    for fact in facts {
        let stored = serde_json::to_value(&fact).unwrap();
        assert_eq!(serde_json::from_value::<F>(stored).unwrap(), fact);
    }
}

#[test]
fn an_expired_hold_on_a_cancelled_event_frees_the_seat_but_promotes_nobody() {
    let until = now() + Duration::minutes(15);
    at(until)
        .given(open_event(Some(1), Some(usd(2500)), &["a@x.io", "b@x.io"]))
        .and(vec![
            held("a@x.io", until),
            waitlisted("b@x.io"),
            F::Cancelled {
                message: "m".into(),
                at: now(),
            },
        ])
        .when(C::ExpireSeatHold {
            invitation_id: id("a@x.io"),
        })
        .then_expect_events(vec![F::SeatHoldsExpired {
            invitation_ids: vec![id("a@x.io")],
            at: until,
        }]);
}

#[test]
fn an_expired_hold_after_the_start_promotes_nobody() {
    at(starts())
        .given(open_event(Some(1), Some(usd(2500)), &["a@x.io", "b@x.io"]))
        .and(vec![held("a@x.io", starts()), waitlisted("b@x.io")])
        .when(C::ExpireSeatHold {
            invitation_id: id("a@x.io"),
        })
        .then_expect_events(vec![F::SeatHoldsExpired {
            invitation_ids: vec![id("a@x.io")],
            at: starts(),
        }]);
}

#[test]
fn a_hold_taken_just_before_the_start_ends_at_the_start() {
    let late = starts() - Duration::minutes(5);
    at(late)
        .given(open_event(None, Some(usd(2500)), &["a@x.io"]))
        .when(rsvp("a@x.io", RsvpAnswer::Accept))
        .then_expect_events(vec![F::SeatHeld {
            invitation_id: id("a@x.io"),
            until: starts(),
            at: late,
        }]);
}

#[test]
fn one_payment_cannot_pay_for_two_tickets() {
    let until = now() + Duration::minutes(15);
    let paid = F::TicketPaid {
        invitation_id: id("a@x.io"),
        payment_reference: "pi_123".into(),
        amount: usd(2500),
        at: now(),
    };
    test()
        .given(open_event(None, Some(usd(2500)), &["a@x.io", "b@x.io"]))
        .and(vec![held("a@x.io", until), paid, held("b@x.io", until)])
        .when(pay("b@x.io", usd(2500)))
        .then_expect_error(VirtualEventError::PaymentAlreadyUsed);
}

#[test]
fn many_lapsed_holds_and_promotions_take_two_facts_not_one_each() {
    let until = now() + Duration::minutes(15);
    let guests: Vec<String> = (0..40).map(|i| format!("g{i}@x.io")).collect();
    let names: Vec<&str> = guests.iter().map(String::as_str).collect();
    let mut history = open_event(Some(20), Some(usd(2500)), &names);
    history.extend(names[..20].iter().map(|g| held(g, until)));
    history.extend(names[20..].iter().map(|g| waitlisted(g)));
    let facts = at(until)
        .given(history)
        .when(C::ExpireSeatHold {
            invitation_id: id(names[0]),
        })
        .inspect_result()
        .unwrap();
    assert_eq!(facts.len(), 2, "{facts:?}");
    assert!(matches!(&facts[0], F::SeatHoldsExpired { invitation_ids, .. } if invitation_ids.len() == 20));
    assert!(matches!(&facts[1], F::WaitlistedGuestsPromoted { promotions, .. } if promotions.len() == 20));
}
