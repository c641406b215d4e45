//! Facts: what happened to a virtual event, as recorded in the event store. Persisted forever,
//! so each carries an explicit type string and a version, and old versions are upcast on load
//! (see `upcasters.rs`).

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::commands::ReminderKind;
use crate::validation::{MediaKind, Money};

/// Version of `VirtualEventCreated` as written today; every other fact type is still at 1.0.0.
pub const CREATED_VERSION: &str = "3.0.0";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VirtualEventFact {
    Created(Created),
    DetailsUpdated(DetailsUpdated),
    Rescheduled(Rescheduled),
    MediaAttached(MediaAttached),
    Published {
        at: DateTime<Utc>,
    },
    Cancelled {
        message: String,
        at: DateTime<Utc>,
    },
    DraftDeleted {
        at: DateTime<Utc>,
    },
    GuestsInvited {
        invitations: Vec<InvitationIssued>,
        at: DateTime<Utc>,
    },
    InvitationRevoked {
        invitation_id: String,
        at: DateTime<Utc>,
    },
    InvitationAccepted {
        invitation_id: String,
        at: DateTime<Utc>,
    },
    InvitationDeclined {
        invitation_id: String,
        at: DateTime<Utc>,
    },
    GuestWaitlisted {
        invitation_id: String,
        at: DateTime<Utc>,
    },
    /// Seats freed up and the first waitlisted guests took them, in waitlist order. One fact
    /// per command however many are promoted, so a commit stays within DynamoDB's 25 items.
    WaitlistedGuestsPromoted {
        promotions: Vec<Promotion>,
        at: DateTime<Utc>,
    },
    /// On a paid event an acceptance holds a seat until `until`, waiting for the payment.
    SeatHeld {
        invitation_id: String,
        until: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// Payment windows that closed unpaid; those guests are back to not having answered.
    SeatHoldsExpired {
        invitation_ids: Vec<String>,
        at: DateTime<Utc>,
    },
    TicketPaid {
        invitation_id: String,
        payment_reference: String,
        amount: Money,
        at: DateTime<Utc>,
    },
    DigestSent {
        attendee_count: u32,
        at: DateTime<Utc>,
    },
    /// The event started: these invitations were never answered, and now cannot be.
    InvitationsClosed {
        invitation_ids: Vec<String>,
        at: DateTime<Utc>,
    },
    /// Long over: the event leaves the read models the apps use (the daily counts stay).
    Archived {
        at: DateTime<Utc>,
    },
    /// A guest answered signed in, and their sign-in gave this name (recorded when it is new).
    GuestNamed {
        invitation_id: String,
        name: String,
        at: DateTime<Utc>,
    },
    /// The reminders of `kind` are due: `attending` get one with the join link, `nudged`
    /// (invited, not answered; only the day before) one asking for an answer.
    RemindersSent {
        kind: ReminderKind,
        attending: Vec<String>,
        nudged: Vec<String>,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    pub event_id: String,
    pub organizer: String,
    pub title: String,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub time_zone: String,
    pub duration_minutes: u32,
    pub capacity: Option<u32>,
    /// Since version 2.0: any ISO 4217 currency (1.0 had `price_cents`, always USD).
    pub ticket_price: Option<Money>,
    pub meeting_url: String,
    /// Since version 3.0: where the organizer's own emails (the hour-before digest) go, as the
    /// sign-in vouched for it when the event was created; `None` when it gave no verified
    /// email (and in every earlier fact).
    pub organizer_contact: Option<Contact>,
    pub at: DateTime<Utc>,
}

/// A person as their sign-in named them: a verified email, and a display name if it gave one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub email: String,
    pub name: Option<String>,
}

/// One promoted guest; `hold_until` is set on a paid event, where they still have to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    pub invitation_id: String,
    pub hold_until: Option<DateTime<Utc>>,
}

/// Only the fields that changed are present.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetailsUpdated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `Some(None)` removes the limit (stored as `null`, absent when unchanged).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_or_null"
    )]
    pub capacity: Option<Option<u32>>,
    /// `Some(None)` makes the event free (stored as `null`, absent when unchanged).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_or_null"
    )]
    pub ticket_price: Option<Option<Money>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_url: Option<String>,
}

/// The time moved; kept apart from other edits because every invitee is told about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rescheduled {
    pub starts_at: DateTime<Utc>,
    pub time_zone: String,
    pub duration_minutes: u32,
    pub previous_starts_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaAttached {
    pub kind: MediaKind,
    pub object_key: String,
    pub content_type: String,
    pub size_bytes: u64,
}

/// One new invitation. The token itself is never stored: only its SHA-256, so a leaked event
/// table does not let anyone answer for a guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationIssued {
    pub invitation_id: String,
    pub email: String,
    pub token_hash: String,
}

impl DomainEvent for VirtualEventFact {
    fn event_type(&self) -> String {
        match self {
            Self::Created(_) => "VirtualEventCreated",
            Self::DetailsUpdated(_) => "VirtualEventDetailsUpdated",
            Self::Rescheduled(_) => "VirtualEventRescheduled",
            Self::MediaAttached(_) => "VirtualEventMediaAttached",
            Self::Published { .. } => "VirtualEventPublished",
            Self::Cancelled { .. } => "VirtualEventCancelled",
            Self::DraftDeleted { .. } => "VirtualEventDraftDeleted",
            Self::GuestsInvited { .. } => "GuestsInvited",
            Self::InvitationRevoked { .. } => "InvitationRevoked",
            Self::InvitationAccepted { .. } => "InvitationAccepted",
            Self::InvitationDeclined { .. } => "InvitationDeclined",
            Self::GuestWaitlisted { .. } => "GuestWaitlisted",
            Self::WaitlistedGuestsPromoted { .. } => "WaitlistedGuestsPromoted",
            Self::SeatHeld { .. } => "SeatHeld",
            Self::SeatHoldsExpired { .. } => "SeatHoldsExpired",
            Self::TicketPaid { .. } => "TicketPaid",
            Self::DigestSent { .. } => "DigestSent",
            Self::RemindersSent { .. } => "RemindersSent",
            Self::GuestNamed { .. } => "GuestNamed",
            Self::InvitationsClosed { .. } => "InvitationsClosed",
            Self::Archived { .. } => "VirtualEventArchived",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::Created(_) => CREATED_VERSION,
            _ => "1.0.0",
        }
        .to_owned()
    }
}

/// For patch fields: a field that is present, even as `null`, is `Some`; serde alone would read
/// `null` as "absent" and lose a removal.
pub(crate) fn present_or_null<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
