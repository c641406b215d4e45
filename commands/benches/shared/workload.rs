//! The command benchmark's workload, shared with the peers benchmark (`commands/peers`) so
//! that every store runs exactly the same commands: 1,000 published events, then ten rounds
//! of one command per event.

use chrono::{DateTime, Utc};
use slsplay_aggregates::virtual_event::{
    CreateEvent, InvitationCredential, InvitationTokens, RsvpAnswer, VirtualEventCommand, invitation_id,
};
use std::time::Duration;

pub const EVENTS: usize = 1_000;
pub const COMMANDS: usize = 10_000;
pub const SECRET: [u8; 32] = [9; 32];
pub const ORGANIZER: &str = "org";

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn event_id(e: usize) -> String {
    format!("ev{e}")
}

pub fn create(id: &str, capacity: Option<u32>) -> VirtualEventCommand {
    VirtualEventCommand::CreateEvent(CreateEvent {
        event_id: id.into(),
        organizer: ORGANIZER.into(),
        title: "Benchmark night".into(),
        description: "A description of moderate length, as organizers write them.".into(),
        starts_at: now() + chrono::Duration::days(30),
        time_zone: "Europe/Madrid".into(),
        duration_minutes: 60,
        capacity,
        ticket_price: None,
        meeting_url: "https://meet.example.com/bench".into(),
        organizer_contact: None,
    })
}

pub fn publish() -> VirtualEventCommand {
    VirtualEventCommand::Publish {
        organizer: ORGANIZER.into(),
    }
}

pub fn guest(event: usize, i: usize) -> String {
    format!("guest{i}.of.{event}@example.com")
}

/// The set-up before the timed part: every event created and published.
pub fn set_up() -> Vec<(String, VirtualEventCommand)> {
    (0..EVENTS)
        .flat_map(|e| {
            let id = event_id(e);
            [(id.clone(), create(&id, None)), (id, publish())]
        })
        .collect()
}

/// Ten rounds of one command per event: five rounds of Invite (2 guests each), then five of
/// acceptances; 10 commands per event in all, each recording one fact.
pub fn rounds() -> Vec<Vec<(String, VirtualEventCommand)>> {
    let tokens = InvitationTokens::new(&SECRET).unwrap();
    (0..COMMANDS / EVENTS)
        .map(|round| {
            (0..EVENTS)
                .map(|e| {
                    let id = event_id(e);
                    let command = if round < 5 {
                        VirtualEventCommand::Invite {
                            organizer: ORGANIZER.into(),
                            emails: vec![guest(e, 2 * round), guest(e, 2 * round + 1)],
                        }
                    } else {
                        let email = guest(e, 2 * (round - 5));
                        let token = tokens.token_for(&id, &invitation_id(&id, &email));
                        VirtualEventCommand::Rsvp {
                            credential: InvitationCredential::Token(token),
                            answer: RsvpAnswer::Accept,
                        }
                    };
                    (id, command)
                })
                .collect()
        })
        .collect()
}

/// The 99th percentile of some latencies.
pub fn p99(latencies: &mut [Duration]) -> Duration {
    latencies.sort();
    latencies[latencies.len() * 99 / 100]
}

pub fn per_second(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}
