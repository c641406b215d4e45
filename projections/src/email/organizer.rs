//! The organizer's emails: the hour-before list of who will attend (the digest, a projection of
//! `DigestSent`), and after it one short note for each change of who attends before the start.

use chrono::{DateTime, Utc};
use cqrs_es::EventEnvelope;
use slsplay_aggregates::virtual_event::{
    GuestState, Invitation, Lifecycle, VirtualEvent, VirtualEventFact as F,
};

use super::compose::{Draft, Guest, html_escape, ics, local_time};
use crate::read_models::projector::fact_time;
use crate::state::Moment;

/// Who is where on the guest list, attending guests by email.
struct Standing<'a> {
    attending: Vec<&'a Invitation>,
    seats_held: usize,
    waitlisted: usize,
    pending: usize,
    declined: usize,
}

impl<'a> Standing<'a> {
    fn of(event: &'a VirtualEvent) -> Self {
        let mut standing = Standing {
            attending: Vec::new(),
            seats_held: 0,
            waitlisted: 0,
            pending: 0,
            declined: 0,
        };
        for i in event.invitees() {
            match i.state {
                GuestState::Attending => standing.attending.push(i),
                GuestState::SeatHeld { .. } => standing.seats_held += 1,
                GuestState::Waitlisted => standing.waitlisted += 1,
                GuestState::Invited => standing.pending += 1,
                GuestState::Declined => standing.declined += 1,
                GuestState::Revoked => {}
            }
        }
        standing.attending.sort_by(|a, b| a.email.cmp(&b.email));
        standing
    }

    /// "3 waitlisted, 1 holding a seat until they pay, 4 not answered, 2 declined".
    fn others(&self) -> String {
        let mut parts = Vec::new();
        if self.seats_held > 0 {
            parts.push(format!("{} holding a seat until they pay", self.seats_held));
        }
        parts.push(format!("{} waitlisted", self.waitlisted));
        parts.push(format!("{} not answered", self.pending));
        parts.push(format!("{} declined", self.declined));
        parts.join(", ")
    }
}

fn greeting(event: &VirtualEvent) -> String {
    match event.organizer_contact.as_ref().and_then(|c| c.name.as_deref()) {
        Some(name) => format!("Hi {name},"),
        None => "Hi,".to_owned(),
    }
}

/// "Ana Lima <ana@example.com> (paid)": the name where the guest's sign-in gave one.
fn attendee_line(i: &Invitation) -> String {
    let who = match &i.name {
        Some(name) => format!("{name} <{}>", i.email),
        None => i.email.clone(),
    };
    match &i.paid {
        Some(_) => format!("{who} (paid)"),
        None => who,
    }
}

/// The digest: everyone who will attend, the other answers in numbers, and the join link,
/// with the organizer's own calendar entry (`preview`: the event's page), stamped `decided`;
/// `manage` is their guest list in the app. None when the organizer left no address.
pub(super) fn digest(
    event: &VirtualEvent,
    preview: &str,
    manage: &str,
    from: &str,
    decided: DateTime<Utc>,
) -> Option<Draft> {
    let contact = event.organizer_contact.as_ref()?;
    let standing = Standing::of(event);
    let (title, url) = (&event.details.title, &event.details.meeting_url);
    let when = local_time(event.details.starts_at, &event.details.time_zone);
    let lines: Vec<String> = standing.attending.iter().map(|i| attendee_line(i)).collect();
    let count = lines.len();
    let list = if lines.is_empty() {
        "Nobody has confirmed yet.".to_owned()
    } else {
        lines
            .iter()
            .map(|l| format!("- {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let html_list = if lines.is_empty() {
        "<p>Nobody has confirmed yet.</p>".to_owned()
    } else {
        let items: String = lines
            .iter()
            .map(|l| format!("<li>{}</li>", html_escape(l)))
            .collect();
        format!("<ul>{items}</ul>")
    };
    let greeting = greeting(event);
    let others = standing.others();
    let guest = Guest {
        email: &contact.email,
        attending: true,
        page: preview,
        organizer: from,
    };
    Some(Draft {
        subject: format!("{count} attending: {title}"),
        text: format!(
            "{greeting}\n\n{title} starts {when}. These guests will attend ({count}):\n\n{list}\n\nAlso: {others}.\n\nJoin here: {url}\nGuest list: {manage}\n"
        ),
        html: format!(
            "<p>{}</p><p><strong>{}</strong> starts {}. These guests will attend ({count}):</p>{html_list}<p>Also: {}.</p><p><a href=\"{}\">Join here</a> · <a href=\"{}\">Guest list</a></p>",
            html_escape(&greeting),
            html_escape(title),
            html_escape(&when),
            html_escape(&others),
            html_escape(url),
            html_escape(manage),
        ),
        calendar: Some(ics(event, "REQUEST", 0, decided, guest)),
    })
}

/// What one fact changed about who attends, in words ("ana@example.com accepted"), when the
/// organizer already has their digest and the event has not started: the note they get.
pub(super) fn attendance_change(moment: &Moment, fact: &EventEnvelope<VirtualEvent>) -> Option<String> {
    let event = &moment.event;
    if !event.digest_sent
        || event.lifecycle != Lifecycle::Published
        || fact_time(fact) >= event.details.starts_at
    {
        return None;
    }
    let email = |id: &str| event.invitations.get(id).map(|i| i.email.clone());
    let was_attending = moment.previous == Some(GuestState::Attending);
    match &fact.payload {
        F::InvitationAccepted { invitation_id, .. } => Some(format!("{} accepted", email(invitation_id)?)),
        F::TicketPaid { invitation_id, .. } => {
            Some(format!("{} paid and will attend", email(invitation_id)?))
        }
        F::InvitationDeclined { invitation_id, .. } if was_attending => {
            Some(format!("{} declined", email(invitation_id)?))
        }
        F::WaitlistedGuestsPromoted { promotions, .. } => {
            let moved: Vec<String> = promotions
                .iter()
                .filter(|p| p.hold_until.is_none())
                .filter_map(|p| email(&p.invitation_id))
                .collect();
            (!moved.is_empty()).then(|| format!("{} moved up from the waitlist", moved.join(", ")))
        }
        _ => None,
    }
}

/// The note for one change after the digest, with the new count.
pub(super) fn update(event: &VirtualEvent, change: &str, manage: &str) -> Draft {
    let title = &event.details.title;
    let count = event.attendee_count();
    let headline = format!("{change}. {count} will attend.");
    let greeting = greeting(event);
    Draft {
        subject: format!("Guest list: {change} ({title})"),
        text: format!(
            "{greeting}\n\nA change since your guest list for {title}: {headline}\n\nGuest list: {manage}\n"
        ),
        html: format!(
            "<p>{}</p><p>A change since your guest list for <strong>{}</strong>: {}</p><p><a href=\"{}\">Guest list</a></p>",
            html_escape(&greeting),
            html_escape(title),
            html_escape(&headline),
            html_escape(manage),
        ),
        calendar: None,
    }
}
