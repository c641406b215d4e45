//! Commands and values the cross-crate tests share.

use chrono::{DateTime, Duration, Utc};
use slsplay_aggregates::virtual_event::{
    Contact, CreateEvent, InvitationCredential, InvitationTokens, VirtualEventCommand, invitation_id,
};

pub const SECRET: [u8; 32] = [42; 32];
pub const ORGANIZER: &str = "user-organizer";
/// The organizer's verified email, where the digest goes.
pub const ORGANIZER_EMAIL: &str = "olivia@example.com";

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
        organizer_contact: Some(Contact {
            email: ORGANIZER_EMAIL.into(),
            name: Some("Olivia Ortega".into()),
        }),
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

/// Fails when a checked-in file (an API description clients build against) differs from what
/// the code produces now; with `SLSPLAY_UPDATE_SPECS` set it rewrites the file instead.
pub fn matches_checked_in(path: &std::path::Path, current: &str) {
    if std::env::var_os("SLSPLAY_UPDATE_SPECS").is_some() {
        std::fs::write(path, current).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == current,
        "{} is stale: run SLSPLAY_UPDATE_SPECS=1 cargo test --workspace --lib checked_in, review the diff, commit it",
        path.display()
    );
}
