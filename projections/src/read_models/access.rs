//! Who may read what: the rules over the read models that the REST API and GraphQL both
//! apply, so that a link, a guest and a stranger see the same through either.

use slsplay_aggregates::virtual_event::{InvitationCredential, InvitationTokens, invitation_id};

use super::{
    EventPage, EventStatus, GuestListEntry, InvitationByEmail, InvitationToken, MeetingLink, OrganizerEvent,
    RsvpStatus,
};
use crate::schema::Key;
use crate::store::{ReadQueries, ReadStoreError};

impl EventPage {
    /// A deleted draft is gone for everyone, its organizer included.
    pub fn exists(&self) -> bool {
        !self.status.is_deleted()
    }

    /// Guests see an event once it is published (also after it is cancelled); a draft is its
    /// organizer's alone.
    pub fn open_to_guests(&self) -> bool {
        self.status.is_visible_to_guests()
    }

    /// The meeting link is for confirmed attendees of a published event (and for the
    /// organizer, who set it): once the event is cancelled nobody meets there.
    pub fn shows_meeting_link_to(&self, guest: RsvpStatus) -> bool {
        self.status == EventStatus::Published && guest.is_attending()
    }
}

impl OrganizerEvent {
    /// A deleted draft leaves its organizer's list.
    pub fn exists(&self) -> bool {
        !self.status.is_deleted()
    }
}

impl GuestListEntry {
    /// A revoked invitation opens nothing.
    pub fn is_open(&self) -> bool {
        !self.rsvp.is_revoked()
    }
}

impl InvitationByEmail {
    /// A revoked invitation opens nothing.
    pub fn is_open(&self) -> bool {
        !self.rsvp.is_revoked()
    }

    /// Whether the guest's own list shows it: not revoked, of an event out of draft and not
    /// deleted.
    pub fn listed(&self) -> bool {
        self.is_open() && self.event_status.is_visible_to_guests()
    }
}

/// The invitation row a credential opens, if it is for this event and not revoked: a link's
/// token (through the table of token hashes) or a verified email.
pub async fn guest_by_credential(
    queries: &impl ReadQueries,
    event_id: &str,
    credential: &InvitationCredential,
) -> Result<Option<GuestListEntry>, ReadStoreError> {
    let invitation_id = match credential {
        InvitationCredential::Token(token) => {
            let row: Option<InvitationToken> = queries.get(&Key::new(InvitationTokens::hash(token))).await?;
            match row {
                Some(row) if row.event_id == event_id => row.invitation_id,
                _ => return Ok(None),
            }
        }
        InvitationCredential::VerifiedEmail { email, .. } => invitation_id(event_id, email),
    };
    let row: Option<GuestListEntry> = queries.get(&Key::with_sort(event_id, invitation_id)).await?;
    Ok(row.filter(GuestListEntry::is_open))
}

/// The meeting link, for callers who already know they may see it; kept in its own table so
/// that only this deliberate read touches it.
pub async fn meeting_url(
    queries: &impl ReadQueries,
    event_id: &str,
) -> Result<Option<String>, ReadStoreError> {
    let link: Option<MeetingLink> = queries.get(&Key::new(event_id)).await?;
    Ok(link.map(|l| l.meeting_url))
}
