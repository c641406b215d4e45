//! What the API answers with: read model rows shaped for clients, documented in the OpenAPI
//! spec. Every field comes from a read model.

use serde::{Deserialize, Serialize};
use slsplay_projections::read_models::{
    DailyInvitationStats, EventPage, GuestListEntry, InvitationByEmail, OrganizerEvent,
};
use utoipa::ToSchema;

/// The answer to a command: the event's version after it (use it in `If-Match`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    pub event_id: String,
    pub version: u64,
    /// Whether reads already show this version. The answer waits up to 2 s for the read
    /// models; false means they still trail (the command is done all the same).
    pub visible: bool,
}

impl Accepted {
    /// The answer once the read models show `version` (or the wait ran out).
    pub async fn after(state: &super::ApiState, event_id: &str, version: usize) -> Self {
        Self {
            event_id: event_id.to_owned(),
            version: version as u64,
            visible: state.caught_up(event_id, version).await,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Price {
    /// In minor units (cents).
    pub amount_minor: i64,
    /// ISO 4217, upper case.
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub event_id: String,
    /// The organizer's user id.
    pub organizer: String,
    pub title: String,
    pub description: String,
    /// draft, published, cancelled or deleted.
    pub status: String,
    /// RFC 3339, UTC.
    pub starts_at: String,
    pub ends_at: String,
    /// IANA time zone the organizer chose, for showing local times.
    pub time_zone: String,
    pub duration_minutes: i64,
    pub capacity: Option<i64>,
    pub ticket_price: Option<Price>,
    pub cover_photo_url: Option<String>,
    pub video_url: Option<String>,
    pub invited: i64,
    pub attending: i64,
    pub seats_held: i64,
    pub waitlisted: i64,
    pub declined: i64,
    pub cancel_message: Option<String>,
    pub published_at: Option<String>,
    pub updated_at: String,
    /// The version of the event this page shows (also the `ETag`).
    pub version: i64,
    /// Only for the organizer and confirmed attendees.
    pub meeting_url: Option<String>,
}

impl Event {
    pub fn from_page(
        page: EventPage,
        media_url: impl Fn(&str) -> String,
        meeting_url: Option<String>,
    ) -> Self {
        let ticket_price = match (page.ticket_price_minor, page.ticket_currency) {
            (Some(amount_minor), Some(currency)) => Some(Price {
                amount_minor,
                currency,
            }),
            _ => None,
        };
        Self {
            cover_photo_url: page.cover_photo_key.as_deref().map(&media_url),
            video_url: page.video_key.as_deref().map(&media_url),
            event_id: page.event_id,
            organizer: page.organizer,
            title: page.title,
            description: page.description,
            status: page.status.to_string(),
            starts_at: page.starts_at,
            ends_at: page.ends_at,
            time_zone: page.time_zone,
            duration_minutes: page.duration_minutes,
            capacity: page.capacity,
            ticket_price,
            invited: page.invited,
            attending: page.attending,
            seats_held: page.seats_held,
            waitlisted: page.waitlisted,
            declined: page.declined,
            cancel_message: page.cancel_message,
            published_at: page.published_at,
            updated_at: page.updated_at,
            version: page.version,
            meeting_url,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventSummary {
    pub event_id: String,
    pub title: String,
    pub starts_at: String,
    pub status: String,
    pub invited: i64,
    pub attending: i64,
    pub updated_at: String,
}

impl From<OrganizerEvent> for EventSummary {
    fn from(e: OrganizerEvent) -> Self {
        Self {
            event_id: e.event_id,
            title: e.title,
            starts_at: e.starts_at,
            status: e.status.to_string(),
            invited: e.invited,
            attending: e.attending,
            updated_at: e.updated_at,
        }
    }
}

/// One invitee, as the organizer sees them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Guest {
    pub invitation_id: String,
    pub email: String,
    /// As the guest's sign-in gave it, once they answered signed in.
    pub name: Option<String>,
    /// invited, attending, seat_held, waitlisted, declined, revoked or no_answer (never
    /// answered by the start).
    pub rsvp: String,
    /// none, due (a seat is held) or paid.
    pub payment: String,
    pub hold_until: Option<String>,
    pub invited_at: String,
    pub answered_at: Option<String>,
    pub paid_at: Option<String>,
    pub updated_at: String,
}

impl From<GuestListEntry> for Guest {
    fn from(g: GuestListEntry) -> Self {
        Self {
            invitation_id: g.invitation_id,
            email: g.email,
            name: g.name,
            rsvp: g.rsvp.to_string(),
            payment: g.payment.to_string(),
            hold_until: g.hold_until,
            invited_at: g.invited_at,
            answered_at: g.answered_at,
            paid_at: g.paid_at,
            updated_at: g.updated_at,
        }
    }
}

/// One of the signed-in user's invitations.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyInvitation {
    pub event_id: String,
    pub invitation_id: String,
    pub title: String,
    pub starts_at: String,
    pub time_zone: String,
    pub event_status: String,
    pub rsvp: String,
}

impl From<InvitationByEmail> for MyInvitation {
    fn from(i: InvitationByEmail) -> Self {
        Self {
            event_id: i.event_id,
            invitation_id: i.invitation_id,
            title: i.title,
            starts_at: i.starts_at,
            time_zone: i.time_zone,
            event_status: i.event_status.to_string(),
            rsvp: i.rsvp.to_string(),
        }
    }
}

/// A guest's view of their invitation: the event, their answer, and the meeting link once
/// they are confirmed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvitationView {
    pub invitation_id: String,
    pub rsvp: String,
    pub payment: String,
    pub hold_until: Option<String>,
    pub event: Event,
}

/// One UTC day of an event's invitations (REST and GraphQL alike).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DayStats {
    pub day: String,
    pub invited: i64,
    pub accepted: i64,
    pub declined: i64,
    pub waitlisted: i64,
    pub promoted: i64,
    pub paid: i64,
}

impl From<DailyInvitationStats> for DayStats {
    fn from(s: DailyInvitationStats) -> Self {
        Self {
            day: s.day,
            invited: s.invited,
            accepted: s.accepted,
            declined: s.declined,
            waitlisted: s.waitlisted,
            promoted: s.promoted,
            paid: s.paid,
        }
    }
}

/// A page of a list; pass `next_cursor` as `cursor` for the next one (absent: the last page).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
