use serde::{Deserialize, Serialize};

use super::{EventStatus, PaymentStatus, RsvpStatus};
use crate::schema::{Key, ReadModel, Table, integer, text};

/// `event_pages`: what anyone with access sees of an event, with live counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    pub event_id: String,
    pub organizer: String,
    pub title: String,
    pub description: String,
    /// draft, published, cancelled or deleted (started/ended follow from the times).
    pub status: EventStatus,
    /// RFC 3339, UTC.
    pub starts_at: String,
    pub ends_at: String,
    pub time_zone: String,
    pub duration_minutes: i64,
    pub capacity: Option<i64>,
    pub ticket_price_minor: Option<i64>,
    pub ticket_currency: Option<String>,
    pub cover_photo_key: Option<String>,
    pub video_key: Option<String>,
    pub invited: i64,
    pub attending: i64,
    pub seats_held: i64,
    pub waitlisted: i64,
    pub declined: i64,
    pub cancel_message: Option<String>,
    pub published_at: Option<String>,
    pub updated_at: String,
    /// The sequence of the last fact applied.
    pub version: i64,
}

impl ReadModel for EventPage {
    fn key(&self) -> Key {
        Key::new(self.event_id.clone())
    }

    const TABLE: Table = Table {
        name: "event_pages",
        partition_key: "event_id",
        sort_key: None,
        columns: &[
            text("event_id"),
            text("organizer"),
            text("title"),
            text("description"),
            text("status"),
            text("starts_at"),
            text("ends_at"),
            text("time_zone"),
            integer("duration_minutes"),
            integer("capacity"),
            integer("ticket_price_minor"),
            text("ticket_currency"),
            text("cover_photo_key"),
            text("video_key"),
            integer("invited"),
            integer("attending"),
            integer("seats_held"),
            integer("waitlisted"),
            integer("declined"),
            text("cancel_message"),
            text("published_at"),
            text("updated_at"),
            integer("version"),
        ],
    };
}

/// `meeting_links`: kept apart from the page so that only a deliberate read, for a confirmed
/// attendee, ever touches it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeetingLink {
    pub event_id: String,
    pub meeting_url: String,
    pub updated_at: String,
}

impl ReadModel for MeetingLink {
    fn key(&self) -> Key {
        Key::new(self.event_id.clone())
    }

    const TABLE: Table = Table {
        name: "meeting_links",
        partition_key: "event_id",
        sort_key: None,
        columns: &[text("event_id"), text("meeting_url"), text("updated_at")],
    };
}

/// `guest_list`: one row per invitation, for the organizer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GuestListEntry {
    pub event_id: String,
    pub invitation_id: String,
    pub email: String,
    /// invited, attending, seat_held, waitlisted, declined, revoked or no_answer (never
    /// answered by the start).
    pub rsvp: RsvpStatus,
    /// none (free event or not accepted), due (seat held) or paid.
    pub payment: PaymentStatus,
    pub hold_until: Option<String>,
    pub payment_reference: Option<String>,
    pub invited_at: String,
    pub answered_at: Option<String>,
    pub waitlisted_at: Option<String>,
    /// The event's version when the guest joined the waitlist: the waitlist's order, exact
    /// where `waitlisted_at` (in seconds) ties.
    pub waitlist_sequence: Option<i64>,
    pub paid_at: Option<String>,
    pub updated_at: String,
    /// The SHA-256 of the personal link's token (its `invitation_tokens` row), never shown.
    pub token_hash: String,
    /// As the guest's sign-in gave it, once they answered signed in.
    pub name: Option<String>,
}

impl ReadModel for GuestListEntry {
    fn key(&self) -> Key {
        Key::with_sort(self.event_id.clone(), self.invitation_id.clone())
    }

    const TABLE: Table = Table {
        name: "guest_list",
        partition_key: "event_id",
        sort_key: Some("invitation_id"),
        columns: &[
            text("event_id"),
            text("invitation_id"),
            text("email"),
            text("rsvp"),
            text("payment"),
            text("hold_until"),
            text("payment_reference"),
            text("invited_at"),
            text("answered_at"),
            text("waitlisted_at"),
            integer("waitlist_sequence"),
            text("paid_at"),
            text("updated_at"),
            text("token_hash"),
            text("name"),
        ],
    };
}

/// `invitations_by_email`: an invitee's invitations, with what they need to list them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvitationByEmail {
    pub email: String,
    pub event_id: String,
    pub invitation_id: String,
    pub title: String,
    pub starts_at: String,
    pub time_zone: String,
    pub event_status: EventStatus,
    pub rsvp: RsvpStatus,
    pub updated_at: String,
}

impl ReadModel for InvitationByEmail {
    fn key(&self) -> Key {
        Key::with_sort(self.email.clone(), self.event_id.clone())
    }

    const TABLE: Table = Table {
        name: "invitations_by_email",
        partition_key: "email",
        sort_key: Some("event_id"),
        columns: &[
            text("email"),
            text("event_id"),
            text("invitation_id"),
            text("title"),
            text("starts_at"),
            text("time_zone"),
            text("event_status"),
            text("rsvp"),
            text("updated_at"),
        ],
    };
}

/// `organizer_events`: an organizer's events with their counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrganizerEvent {
    pub organizer: String,
    pub event_id: String,
    pub title: String,
    pub starts_at: String,
    pub status: EventStatus,
    pub invited: i64,
    pub attending: i64,
    pub updated_at: String,
}

impl ReadModel for OrganizerEvent {
    fn key(&self) -> Key {
        Key::with_sort(self.organizer.clone(), self.event_id.clone())
    }

    const TABLE: Table = Table {
        name: "organizer_events",
        partition_key: "organizer",
        sort_key: Some("event_id"),
        columns: &[
            text("organizer"),
            text("event_id"),
            text("title"),
            text("starts_at"),
            text("status"),
            integer("invited"),
            integer("attending"),
            text("updated_at"),
        ],
    };
}

/// `events_by_start`: events by the UTC day and time they start, for the hour-before digest and
/// cleanup jobs. `start_key` is `starts_at#event_id`, so a day's rows sort by start time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventByStart {
    pub start_day: String,
    pub start_key: String,
    pub event_id: String,
    pub starts_at: String,
    pub organizer: String,
    pub status: EventStatus,
    /// Invitations not revoked: an event nobody is invited to has no digest yet.
    pub invited: i64,
    /// 1 once the fact of each is recorded for this start time (the jobs skip those).
    pub digest_sent: i64,
    pub day_reminder_sent: i64,
    pub hour_reminder_sent: i64,
    /// 1 once the unanswered invitations were closed at the start.
    pub invitations_closed: i64,
}

impl ReadModel for EventByStart {
    fn key(&self) -> Key {
        Key::with_sort(self.start_day.clone(), self.start_key.clone())
    }

    const TABLE: Table = Table {
        name: "events_by_start",
        partition_key: "start_day",
        sort_key: Some("start_key"),
        columns: &[
            text("start_day"),
            text("start_key"),
            text("event_id"),
            text("starts_at"),
            text("organizer"),
            text("status"),
            integer("invited"),
            integer("digest_sent"),
            integer("day_reminder_sent"),
            integer("hour_reminder_sent"),
            integer("invitations_closed"),
        ],
    };
}

/// `seat_holds`: the seats held for a payment, by the UTC day and time the hold runs out, so
/// the seat holds job finds the lapsed ones without looking at any other. `hold_key` is
/// `until#event_id#invitation_id`; a row goes when the hold ends (paid, declined, released).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeatHold {
    pub deadline_day: String,
    pub hold_key: String,
    pub event_id: String,
    pub invitation_id: String,
    pub until: String,
}

impl SeatHold {
    pub fn new(event_id: &str, invitation_id: &str, until: &str) -> Self {
        Self {
            deadline_day: until.get(..10).unwrap_or(until).to_owned(),
            hold_key: format!("{until}#{event_id}#{invitation_id}"),
            event_id: event_id.into(),
            invitation_id: invitation_id.into(),
            until: until.into(),
        }
    }
}

impl ReadModel for SeatHold {
    fn key(&self) -> Key {
        Key::with_sort(self.deadline_day.clone(), self.hold_key.clone())
    }

    const TABLE: Table = Table {
        name: "seat_holds",
        partition_key: "deadline_day",
        sort_key: Some("hold_key"),
        columns: &[
            text("deadline_day"),
            text("hold_key"),
            text("event_id"),
            text("invitation_id"),
            text("until"),
        ],
    };
}

/// `invitation_stats_daily`: per event and UTC day, how many invitations were sent, accepted
/// (a seat confirmed or held), declined, waitlisted, promoted from the waitlist and paid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DailyInvitationStats {
    pub event_id: String,
    pub day: String,
    pub invited: i64,
    pub accepted: i64,
    pub declined: i64,
    pub waitlisted: i64,
    pub promoted: i64,
    pub paid: i64,
}

impl ReadModel for DailyInvitationStats {
    fn key(&self) -> Key {
        Key::with_sort(self.event_id.clone(), self.day.clone())
    }

    const TABLE: Table = Table {
        name: "invitation_stats_daily",
        partition_key: "event_id",
        sort_key: Some("day"),
        columns: &[
            text("event_id"),
            text("day"),
            integer("invited"),
            integer("accepted"),
            integer("declined"),
            integer("waitlisted"),
            integer("promoted"),
            integer("paid"),
        ],
    };
}

/// `invitation_tokens`: which invitation a personal link's token opens. Keyed by the token's
/// SHA-256, as the event store keeps it; the token itself is never stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvitationToken {
    pub token_hash: String,
    pub event_id: String,
    pub invitation_id: String,
}

impl ReadModel for InvitationToken {
    fn key(&self) -> Key {
        Key::new(self.token_hash.clone())
    }

    const TABLE: Table = Table {
        name: "invitation_tokens",
        partition_key: "token_hash",
        sort_key: None,
        columns: &[text("token_hash"), text("event_id"), text("invitation_id")],
    };
}
