//! The email builder: which emails each fact causes, kept in an outbox in the same transaction
//! as the builder's checkpoint. At most one email per (recipient, cause): the outbox key is
//! exactly that, so a fact delivered twice, or replayed, never writes a second one. Sending
//! reads the outbox afterwards (local .eml files and SMTP, or SES on AWS).

pub mod compose;
mod organizer;
pub mod outbox;

use chrono::{DateTime, Utc};
use cqrs_es::EventEnvelope;
use cqrs_es::persist::{EventUpcaster, PersistedEventRepository};
use slsplay_aggregates::virtual_event::{
    GuestState, InvitationTokens, ReminderKind, VirtualEvent, VirtualEventFact as F,
};

use crate::builder::Projector;
use crate::read_models::projector::fact_time;
use crate::schema::Key;
use crate::state::EventStates;
use crate::store::{ReadStoreError, ReadTx};
use compose::{Draft, Guest, html_escape, ics, local_time, to_eml};
use outbox::OutboxMessage;

pub const NAME: &str = "emails";

#[derive(Debug, Clone)]
pub struct MailSettings {
    /// The sender, as `Name <address>`.
    pub from: String,
    /// Where the web app answers, for the links in emails (no trailing slash).
    pub public_url: String,
}

pub struct Emails<R> {
    states: EventStates<R>,
    tokens: InvitationTokens,
    settings: MailSettings,
}

impl<R: PersistedEventRepository> Emails<R> {
    pub fn new(
        events: R,
        upcasters: Vec<Box<dyn EventUpcaster>>,
        tokens: InvitationTokens,
        settings: MailSettings,
    ) -> Self {
        Self {
            states: EventStates::new(events, upcasters),
            tokens,
            settings,
        }
    }

    /// The personal link: the event's preview page (`crate::web_cache`), with the event and
    /// the token in the fragment, which browsers never send to a server or pass on as a
    /// referrer; the web app reads them there and sends the token only in the
    /// `Invitation-Token` header. The event id rides along so the link works before its page
    /// is written, and after the page is removed.
    /// The event's page without the token: what calendar files link to.
    fn page(&self, event: &VirtualEvent) -> String {
        let page = crate::web_cache::page_path(&self.tokens.share_id(&event.id));
        format!("{}/{page}", self.settings.public_url)
    }

    /// The address of `from` (`Name <address>`), the calendar files' organizer.
    fn organizer(&self) -> &str {
        let from = self.settings.from.as_str();
        from.rsplit_once('<')
            .and_then(|(_, rest)| rest.strip_suffix('>'))
            .unwrap_or(from)
    }

    fn guest<'a>(&'a self, email: &'a str, attending: bool, page: &'a str) -> Guest<'a> {
        Guest {
            email,
            attending,
            page,
            organizer: self.organizer(),
        }
    }

    /// The organizer's page of the event in the app: its guest list.
    fn manage(&self, event: &VirtualEvent) -> String {
        format!("{}/my/events/{}", self.settings.public_url, event.id)
    }

    /// The organizer's emails `fact` causes: the digest, or a note on a change after it.
    fn organizer_emails(
        &self,
        moment: &crate::state::Moment,
        fact: &EventEnvelope<VirtualEvent>,
        at: &str,
    ) -> Vec<(String, String, &'static str, Draft)> {
        let event = &moment.event;
        let Some(contact) = &event.organizer_contact else {
            return Vec::new();
        };
        let (to, manage) = (contact.email.clone(), self.manage(event));
        if let F::DigestSent { .. } = fact.payload {
            let preview = self.page(event);
            let draft = organizer::digest(event, &preview, &manage, self.organizer(), fact_time(fact));
            return draft
                .map(|d| (to, format!("digest:{at}"), "digest", d))
                .into_iter()
                .collect();
        }
        organizer::attendance_change(moment, fact)
            .map(|change| {
                let draft = organizer::update(event, &change, &manage);
                (to, format!("attendance:{at}"), "attendance", draft)
            })
            .into_iter()
            .collect()
    }

    fn link(&self, event: &VirtualEvent, invitation_id: &str) -> String {
        let token = self.tokens.token_for(&event.id, invitation_id);
        let page = crate::web_cache::page_path(&self.tokens.share_id(&event.id));
        format!("{}/{page}#{}.{token}", self.settings.public_url, event.id)
    }

    /// (recipient, cause, kind, draft) of every email `fact` causes.
    async fn emails_for(
        &self,
        fact: &EventEnvelope<VirtualEvent>,
    ) -> Result<Vec<(String, String, &'static str, Draft)>, ReadStoreError> {
        let interesting = !matches!(
            fact.payload,
            F::Created(_)
                | F::DetailsUpdated(_)
                | F::MediaAttached(_)
                | F::DraftDeleted { .. }
                | F::InvitationRevoked { .. }
                | F::SeatHoldsExpired { .. }
                | F::GuestNamed { .. }
                | F::InvitationsClosed { .. }
                | F::Archived { .. }
        );
        if !interesting {
            return Ok(Vec::new());
        }
        let moment = self.states.moment(fact).await?;
        let (event, was_published) = (&moment.event, moment.was_published);
        let at = format!("{}:{}", event.id, fact.sequence);
        let email_of = |id: &str| event.invitations.get(id).map(|i| i.email.clone());
        let mut out = self.organizer_emails(&moment, fact, &at);
        let mut rsvp = |id: &str, kind: &'static str, draft: Draft| {
            if let Some(to) = email_of(id) {
                out.push((to, format!("rsvp:{at}:{kind}"), kind, draft));
            }
        };
        match &fact.payload {
            F::GuestsInvited { invitations, .. } if was_published => {
                let ids: Vec<String> = invitations.iter().map(|i| i.invitation_id.clone()).collect();
                return Ok(self.invitations(event, &ids, fact_time(fact)));
            }
            F::Published { .. } => {
                let ids: Vec<String> = event
                    .invitations
                    .iter()
                    .filter(|(_, i)| i.state == GuestState::Invited)
                    .map(|(id, _)| id.clone())
                    .collect();
                return Ok(self.invitations(event, &ids, fact_time(fact)));
            }
            F::InvitationAccepted { invitation_id, .. } => rsvp(
                invitation_id,
                "attending",
                self.youre_in(event, invitation_id, fact_time(fact), "You're in"),
            ),
            F::TicketPaid { invitation_id, .. } => rsvp(
                invitation_id,
                "paid",
                self.youre_in(event, invitation_id, fact_time(fact), "Ticket paid: you're in"),
            ),
            F::GuestWaitlisted { invitation_id, .. } => rsvp(invitation_id, "waitlisted", waitlisted(event)),
            F::InvitationDeclined { invitation_id, .. } => rsvp(invitation_id, "declined", declined(event)),
            F::SeatHeld {
                invitation_id, until, ..
            } => {
                let draft = self.seat_held(event, invitation_id, *until, "Your seat is held");
                rsvp(invitation_id, "seat_held", draft);
            }
            F::WaitlistedGuestsPromoted { promotions, .. } => {
                for p in promotions {
                    let draft = match p.hold_until {
                        Some(until) => self.seat_held(event, &p.invitation_id, until, "A seat opened up"),
                        None => self.youre_in(
                            event,
                            &p.invitation_id,
                            fact_time(fact),
                            "A seat opened up: you're in",
                        ),
                    };
                    rsvp(&p.invitation_id, "promoted", draft);
                }
            }
            F::RemindersSent {
                kind,
                attending,
                nudged,
                ..
            } => {
                let cause = format!("reminder:{at}:{}", kind.as_str());
                // What the confirmation said, headed by how soon: when, and the join link.
                let soon = match kind {
                    ReminderKind::DayBefore => "Tomorrow",
                    ReminderKind::HourBefore => "In an hour",
                };
                for id in attending {
                    if let Some(to) = email_of(id) {
                        let draft = self.youre_in(event, id, fact_time(fact), soon);
                        out.push((to, cause.clone(), "reminder", draft));
                    }
                }
                for id in nudged {
                    if let Some(to) = email_of(id) {
                        out.push((to, cause.clone(), "nudge", self.nudge(event, id)));
                    }
                }
            }
            F::Rescheduled(r) if was_published => {
                let previous = local_time(r.previous_starts_at, &event.details.time_zone);
                let (cause, page) = (format!("rescheduled:{at}"), self.page(event));
                for i in event.invitees() {
                    let guest = self.guest(&i.email, i.state == GuestState::Attending, &page);
                    let draft = rescheduled(event, &previous, fact.sequence, fact_time(fact), guest);
                    out.push((i.email.clone(), cause.clone(), "rescheduled", draft));
                }
            }
            F::Cancelled { message, .. } if was_published => {
                let (cause, page) = (format!("cancelled:{at}"), self.page(event));
                for i in event.invitees() {
                    let guest = self.guest(&i.email, i.state == GuestState::Attending, &page);
                    let draft = cancelled(event, message, fact.sequence, fact_time(fact), guest);
                    out.push((i.email.clone(), cause.clone(), "cancelled", draft));
                }
            }
            _ => {}
        }
        Ok(out)
    }

    /// The invitation email: the same for every invitee but for their personal link.
    fn invitations(
        &self,
        event: &VirtualEvent,
        ids: &[String],
        decided: DateTime<Utc>,
    ) -> Vec<(String, String, &'static str, Draft)> {
        let title = &event.details.title;
        let when = local_time(event.details.starts_at, &event.details.time_zone);
        let price = event
            .details
            .ticket_price
            .as_ref()
            .map(|p| format!("\nTicket: {} (non-refundable)", p.shown()))
            .unwrap_or_default();
        let text = format!(
            "You are invited to {title}.\n\nWhen: {when}\nWhere: online (the link comes once you accept){price}\n\n{}\n\n",
            event.details.description
        );
        let html = format!(
            "<p>You are invited to <strong>{}</strong>.</p><p>When: {}<br>Where: online (the link comes once you accept){}</p><p>{}</p>",
            html_escape(title),
            html_escape(&when),
            html_escape(&price).replace('\n', "<br>"),
            html_escape(&event.details.description),
        );
        let page = self.page(event);
        ids.iter()
            .filter_map(|id| event.invitations.get(id).map(|i| (id, i.email.clone())))
            .map(|(id, to)| {
                let calendar = ics(event, "REQUEST", 0, decided, self.guest(&to, false, &page));
                let link = self.link(event, id);
                let draft = Draft {
                    subject: format!("You're invited: {title}"),
                    text: format!("{text}Accept or decline: {link}\n"),
                    html: format!(
                        "{html}<p><a href=\"{}\">Accept or decline</a></p>",
                        html_escape(&link)
                    ),
                    calendar: Some(calendar),
                };
                (to, format!("invitation:{id}"), "invitation", draft)
            })
            .collect()
    }

    /// `decided`: when the fact that causes it happened, the calendar entry's DTSTAMP.
    fn youre_in(
        &self,
        event: &VirtualEvent,
        invitation_id: &str,
        decided: DateTime<Utc>,
        headline: &str,
    ) -> Draft {
        let to = event
            .invitations
            .get(invitation_id)
            .map(|i| i.email.as_str())
            .unwrap_or_default();
        let page = self.page(event);
        let (title, when, url) = (
            &event.details.title,
            local_time(event.details.starts_at, &event.details.time_zone),
            &event.details.meeting_url,
        );
        Draft {
            subject: format!("{headline}: {title}"),
            text: format!("{headline}: {title}.\n\nWhen: {when}\nJoin here: {url}\n"),
            html: format!(
                "<p>{}: <strong>{}</strong>.</p><p>When: {}<br><a href=\"{}\">Join here</a></p>",
                html_escape(headline),
                html_escape(title),
                html_escape(&when),
                html_escape(url)
            ),
            calendar: Some(ics(event, "REQUEST", 0, decided, self.guest(to, true, &page))),
        }
    }

    /// The day before, to an invitee who has not answered: their personal link once more.
    fn nudge(&self, event: &VirtualEvent, invitation_id: &str) -> Draft {
        let (title, link) = (&event.details.title, self.link(event, invitation_id));
        let when = local_time(event.details.starts_at, &event.details.time_zone);
        Draft {
            subject: format!("Will you come? {title}"),
            text: format!(
                "{title} is tomorrow ({when}) and you have not answered yet.\n\nAccept or decline: {link}\n"
            ),
            html: format!(
                "<p><strong>{}</strong> is tomorrow ({}) and you have not answered yet.</p><p><a href=\"{}\">Accept or decline</a></p>",
                html_escape(title),
                html_escape(&when),
                html_escape(&link)
            ),
            calendar: None,
        }
    }

    fn seat_held(
        &self,
        event: &VirtualEvent,
        invitation_id: &str,
        until: chrono::DateTime<chrono::Utc>,
        headline: &str,
    ) -> Draft {
        let (title, link) = (&event.details.title, self.link(event, invitation_id));
        let deadline = until.format("%H:%M UTC").to_string();
        Draft {
            subject: format!("{headline}: {title}"),
            text: format!("{headline} for {title} until {deadline}. Pay to confirm it: {link}\n"),
            html: format!(
                "<p>{} for <strong>{}</strong> until {}.</p><p><a href=\"{}\">Pay to confirm it</a></p>",
                html_escape(headline),
                html_escape(title),
                html_escape(&deadline),
                html_escape(&link)
            ),
            calendar: None,
        }
    }
}

fn waitlisted(event: &VirtualEvent) -> Draft {
    let title = &event.details.title;
    Draft {
        subject: format!("You're on the waitlist: {title}"),
        text: format!(
            "{title} is full. You're on the waitlist, and we'll write as soon as a seat opens up.\n"
        ),
        html: format!(
            "<p><strong>{}</strong> is full. You're on the waitlist, and we'll write as soon as a seat opens up.</p>",
            html_escape(title)
        ),
        calendar: None,
    }
}

fn declined(event: &VirtualEvent) -> Draft {
    let title = &event.details.title;
    Draft {
        subject: format!("You declined: {title}"),
        text: format!(
            "You declined {title}. You can change your mind with your invitation link until it starts.\n"
        ),
        html: format!(
            "<p>You declined <strong>{}</strong>. You can change your mind with your invitation link until it starts.</p>",
            html_escape(title)
        ),
        calendar: None,
    }
}

fn rescheduled(
    event: &VirtualEvent,
    previous: &str,
    sequence: usize,
    at: chrono::DateTime<chrono::Utc>,
    guest: Guest<'_>,
) -> Draft {
    let title = &event.details.title;
    let when = local_time(event.details.starts_at, &event.details.time_zone);
    Draft {
        subject: format!("New time: {title}"),
        text: format!("{title} moved.\n\nWas: {previous}\nNow: {when}\n"),
        html: format!(
            "<p><strong>{}</strong> moved.</p><p>Was: {}<br>Now: {}</p>",
            html_escape(title),
            html_escape(previous),
            html_escape(&when)
        ),
        calendar: Some(ics(event, "REQUEST", sequence, at, guest)),
    }
}

fn cancelled(
    event: &VirtualEvent,
    message: &str,
    sequence: usize,
    at: chrono::DateTime<chrono::Utc>,
    guest: Guest<'_>,
) -> Draft {
    let title = &event.details.title;
    Draft {
        subject: format!("Cancelled: {title}"),
        text: format!("{title} is cancelled. A word from the organizer:\n\n{message}\n"),
        html: format!(
            "<p><strong>{}</strong> is cancelled. A word from the organizer:</p><blockquote>{}</blockquote>",
            html_escape(title),
            html_escape(message)
        ),
        calendar: Some(ics(event, "CANCEL", sequence, at, guest)),
    }
}

impl<R: PersistedEventRepository> Projector for Emails<R> {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn apply<T: ReadTx + Send>(
        &self,
        tx: &mut T,
        fact: &EventEnvelope<VirtualEvent>,
    ) -> Result<(), ReadStoreError> {
        let created_at = fact_time(fact);
        for (recipient, cause, kind, draft) in self.emails_for(fact).await? {
            let key = Key::with_sort(recipient.clone(), cause.clone());
            if tx.get::<OutboxMessage>(&key).await?.is_some() {
                continue;
            }
            let id = outbox::message_id(&recipient, &cause);
            let eml = to_eml(&recipient, &draft, &self.settings.from, created_at, &id)
                .map_err(|e| ReadStoreError::Storage(Box::new(e)))?;
            let message = OutboxMessage {
                recipient,
                cause,
                id,
                event_id: fact.aggregate_id.clone(),
                kind: kind.to_owned(),
                subject: draft.subject,
                eml,
                created_at: crate::read_models::projector::timestamp(created_at),
                claimed_at: None,
                sent_at: None,
            };
            tx.put(message).await?;
        }
        Ok(())
    }
}
