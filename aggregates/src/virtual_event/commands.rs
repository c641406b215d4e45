//! What callers ask a virtual event to do. Commands carry raw input; the aggregate validates
//! it and reports every failing field at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::validation::{MediaKind, Money};

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
    /// Sent by the digest job after the organizer's hour-before list went out.
    RecordDigestSent {
        attendee_count: u32,
    },
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
    /// A signed-in user's email, verified by the identity provider.
    VerifiedEmail(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RsvpAnswer {
    Accept,
    Decline,
}
