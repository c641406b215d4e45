//! What callers ask a virtual event to do. Commands carry raw input; the aggregate validates
//! it and reports every failing field at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::Contact;
use crate::validation::{self as v, MediaKind, Money, ValidationErrors};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VirtualEventCommand {
    CreateEvent(CreateEvent),
    UpdateDetails(UpdateDetails),
    AttachMedia(AttachMedia),
    Publish {
        organizer: String,
    },
    Cancel {
        organizer: String,
        message: String,
    },
    DeleteDraft {
        organizer: String,
    },
    Invite {
        organizer: String,
        emails: Vec<String>,
    },
    RevokeInvitation {
        organizer: String,
        invitation_id: String,
    },
    Rsvp {
        credential: InvitationCredential,
        answer: RsvpAnswer,
    },
    Pay {
        credential: InvitationCredential,
        payment_reference: String,
        amount: Money,
    },
    /// Sent by the scheduler when a seat hold may have run out.
    ExpireSeatHold {
        invitation_id: String,
    },
    /// Sent by the digest job when the organizer's hour-before list is due; the list itself
    /// is a projection of the fact (the email builder), so it goes out once however often the
    /// job runs.
    RecordDigestSent,
    /// Sent by the reminders job when `kind` is due: records who gets which reminder, once
    /// per event and kind; the emails are projections of that fact.
    SendReminders {
        kind: ReminderKind,
    },
    /// Sent by the close-invitations job once the event has started: the invitations nobody
    /// answered are closed (answers are refused from the start anyway; this records it, so the
    /// guest list says so).
    CloseInvitations,
    /// Sent by the retention job once the event is long over (or cancelled): it leaves the
    /// read models the apps use, and no command reaches it any more. Its facts stay.
    Archive,
}

/// The guests' reminders before an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    /// 24 hours before: attending guests, and a nudge to those who have not answered.
    DayBefore,
    /// 1 hour before: attending guests, with the join link.
    HourBefore,
}

impl ReminderKind {
    pub const ALL: [Self; 2] = [Self::DayBefore, Self::HourBefore];

    /// How long before the start it is due.
    pub fn lead(self) -> chrono::Duration {
        match self {
            Self::DayBefore => chrono::Duration::hours(24),
            Self::HourBefore => chrono::Duration::hours(1),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DayBefore => "day_before",
            Self::HourBefore => "hour_before",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateEvent {
    /// Chosen by the caller (a UUID v7 in the API), so a retried create can be recognised.
    pub event_id: String,
    /// The signed-in user creating the event.
    pub organizer: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub time_zone: String,
    pub duration_minutes: u32,
    #[serde(default)]
    pub capacity: Option<u32>,
    #[serde(default)]
    pub ticket_price: Option<Money>,
    pub meeting_url: String,
    /// The creator's verified email and name, from their sign-in.
    #[serde(default)]
    pub organizer_contact: Option<Contact>,
}

/// A partial update: absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateDetails {
    pub organizer: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub duration_minutes: Option<u32>,
    /// `Some(None)` (`null`) removes the limit.
    #[serde(default, deserialize_with = "super::events::present_or_null")]
    pub capacity: Option<Option<u32>>,
    /// `Some(None)` (`null`) makes the event free (only before publishing).
    #[serde(default, deserialize_with = "super::events::present_or_null")]
    pub ticket_price: Option<Option<Money>>,
    #[serde(default)]
    pub meeting_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachMedia {
    pub organizer: String,
    pub kind: MediaKind,
    pub object_key: String,
    pub content_type: String,
    pub size_bytes: u64,
}

/// How a guest proves which invitation they answer for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationCredential {
    /// The secret from the personal link.
    Token(String),
    /// A signed-in user's email, verified by the identity provider, and the name it gives
    /// (the organizer's list shows it).
    VerifiedEmail { email: String, name: Option<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RsvpAnswer {
    Accept,
    Decline,
}

/// The rules of each field that need no event state, so that an entry point can refuse input
/// that could never succeed before it looks at versions or loads anything. The aggregate
/// applies the same rules again, with the state.
impl VirtualEventCommand {
    pub fn field_errors(&self, now: DateTime<Utc>) -> ValidationErrors {
        let mut errors = ValidationErrors::default();
        let e = &mut errors;
        match self {
            Self::CreateEvent(c) => {
                e.check("title", v::title(&c.title));
                e.check("description", v::description(&c.description));
                e.check("starts_at", v::in_the_future(c.starts_at, now));
                e.check("time_zone", v::time_zone(&c.time_zone));
                e.check("duration_minutes", v::duration_minutes(c.duration_minutes));
                if let Some(seats) = c.capacity {
                    e.check("capacity", v::capacity(seats));
                }
                if let Some(price) = &c.ticket_price {
                    v::ticket_price(e, "ticket_price", price);
                }
                e.check("meeting_url", v::meeting_url(&c.meeting_url));
            }
            Self::UpdateDetails(u) => {
                if let Some(t) = &u.title {
                    e.check("title", v::title(t));
                }
                if let Some(d) = &u.description {
                    e.check("description", v::description(d));
                }
                if let Some(at) = u.starts_at {
                    e.check("starts_at", v::in_the_future(at, now));
                }
                if let Some(tz) = &u.time_zone {
                    e.check("time_zone", v::time_zone(tz));
                }
                if let Some(m) = u.duration_minutes {
                    e.check("duration_minutes", v::duration_minutes(m));
                }
                if let Some(Some(seats)) = u.capacity {
                    e.check("capacity", v::capacity(seats));
                }
                if let Some(Some(price)) = &u.ticket_price {
                    v::ticket_price(e, "ticket_price", price);
                }
                if let Some(url) = &u.meeting_url {
                    e.check("meeting_url", v::meeting_url(url));
                }
            }
            Self::Cancel { message, .. } => {
                e.check("message", v::cancel_message(message));
            }
            Self::Invite { emails, .. } => {
                e.check("emails", v::invite_count(emails.len()));
                for (i, raw) in emails.iter().enumerate() {
                    e.check(&format!("emails[{i}]"), v::email(raw));
                }
            }
            _ => {}
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errors: &ValidationErrors) -> Vec<&str> {
        errors.0.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn field_errors_name_every_stateless_rule_broken() {
        let create = VirtualEventCommand::CreateEvent(CreateEvent {
            event_id: "e1".into(),
            organizer: "o".into(),
            title: " ".into(),
            description: "x".repeat(2_001),
            starts_at: Utc::now() - chrono::Duration::minutes(1),
            time_zone: "Mars/Olympus".into(),
            duration_minutes: 1,
            capacity: Some(0),
            ticket_price: Some(Money {
                amount_minor: 0,
                currency: "XXX".into(),
            }),
            meeting_url: "http://meet.example".into(),
            organizer_contact: None,
        });
        assert_eq!(
            fields(&create.field_errors(Utc::now())),
            [
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
        let update = VirtualEventCommand::UpdateDetails(UpdateDetails {
            organizer: "o".into(),
            capacity: Some(None),
            ticket_price: Some(None),
            title: Some("Fine".into()),
            ..UpdateDetails::default()
        });
        assert!(
            update.field_errors(Utc::now()).is_empty(),
            "removals and valid fields pass"
        );
        let invite = VirtualEventCommand::Invite {
            organizer: "o".into(),
            emails: vec!["a@example.com".into(), "nope".into()],
        };
        assert_eq!(fields(&invite.field_errors(Utc::now())), ["emails[1]"]);
        let cancel = VirtualEventCommand::Cancel {
            organizer: "o".into(),
            message: String::new(),
        };
        assert_eq!(fields(&cancel.field_errors(Utc::now())), ["message"]);
    }
}
