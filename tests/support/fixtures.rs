//! Commands and values the cross-crate tests share.

use chrono::{DateTime, Duration, Utc};
use slsplay_aggregates::virtual_event::{
    CreateEvent, InvitationCredential, InvitationTokens, VirtualEventCommand, invitation_id,
};

pub const SECRET: [u8; 32] = [42; 32];
pub const ORGANIZER: &str = "user-organizer";

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-05-01T09:00:00Z")
        .expect("valid instant")
        .with_timezone(&Utc)
}

pub fn create(event_id: &str, capacity: Option<u32>) -> VirtualEventCommand {
    VirtualEventCommand::CreateEvent(CreateEvent {
        event_id: event_id.into(),
        organizer: ORGANIZER.into(),
        title: "Founders' dinner".into(),
        description: "An evening with the founders".into(),
        starts_at: now() + Duration::days(14),
        time_zone: "Europe/Berlin".into(),
        duration_minutes: 120,
        capacity,
        ticket_price: None,
        meeting_url: "https://meet.example.com/founders".into(),
    })
}

pub fn publish() -> VirtualEventCommand {
    VirtualEventCommand::Publish {
        organizer: ORGANIZER.into(),
    }
}

pub fn invite(emails: impl IntoIterator<Item = String>) -> VirtualEventCommand {
    VirtualEventCommand::Invite {
        organizer: ORGANIZER.into(),
        emails: emails.into_iter().collect(),
    }
}

pub fn guest(i: usize) -> String {
    format!("guest{i}@example.com")
}

/// The token from the personal link of `email`'s invitation.
pub fn token(event_id: &str, email: &str) -> InvitationCredential {
    let tokens = InvitationTokens::new(&SECRET).expect("test secret is long enough");
    InvitationCredential::Token(tokens.token_for(event_id, &invitation_id(event_id, email)))
}
