use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use chrono::{DateTime, Duration, Utc};
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use super::commands::{
    AttachMedia, CreateEvent, InvitationCredential, ReminderKind, RsvpAnswer, UpdateDetails,
    VirtualEventCommand,
};
use super::errors::VirtualEventError;
use super::events::{
    Contact, Created, DetailsUpdated, InvitationIssued, MediaAttached, Promotion, Rescheduled,
    VirtualEventFact,
};
use super::services::{InvitationTokens, VirtualEventServices, invitation_id};
use crate::validation::{self as v, MediaKind, Money, ValidationErrors};

/// A virtual event: its details, its lifecycle and its guest list. The guest list lives in the
/// same aggregate because capacity is an invariant over all invitations at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VirtualEvent {
    pub id: String,
    pub organizer: String,
    pub lifecycle: Lifecycle,
    pub details: Details,
    pub media: BTreeMap<MediaKind, MediaAttached>,
    pub invitations: BTreeMap<String, Invitation>,
    /// Invitation ids in the order they joined the waitlist.
    pub waitlist: VecDeque<String>,
    pub cancel_message: Option<String>,
    /// Where the organizer's digest goes.
    pub organizer_contact: Option<Contact>,
    pub digest_sent: bool,
    /// The guests' reminders recorded for the current start time.
    pub reminders_sent: BTreeSet<ReminderKind>,
    /// Set once the unanswered invitations were closed at the start.
    #[serde(default)]
    pub invitations_closed: bool,
}

/// The stored part of the lifecycle; "started" and "ended" follow from the clock (`phase`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    #[default]
    NotCreated,
    Draft,
    Published,
    Cancelled,
    Deleted,
    /// Long over and gone from the apps' read models: to commands, as if it never existed.
    Archived,
}

/// Where an event stands at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Draft,
    Published,
    Started,
    Ended,
    Cancelled,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Details {
    pub title: String,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub time_zone: String,
    pub duration_minutes: u32,
    pub capacity: Option<u32>,
    pub ticket_price: Option<Money>,
    pub meeting_url: String,
}

impl Details {
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.starts_at + Duration::minutes(i64::from(self.duration_minutes))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    pub email: String,
    pub token_hash: String,
    pub state: GuestState,
    /// The payment reference once the ticket is paid; kept when the guest declines later,
    /// since tickets are not refunded and a paid guest may come back.
    pub paid: Option<String>,
    /// As the guest's sign-in gave it when they answered signed in.
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum GuestState {
    Invited,
    Attending,
    SeatHeld { until: DateTime<Utc> },
    Waitlisted,
    Declined,
    Revoked,
}

impl GuestState {
    fn takes_a_seat(self) -> bool {
        matches!(self, Self::Attending | Self::SeatHeld { .. })
    }
}

impl VirtualEvent {
    /// The invitations that have not been revoked.
    pub fn invitees(&self) -> impl Iterator<Item = &Invitation> {
        self.invitations
            .values()
            .filter(|i| i.state != GuestState::Revoked)
    }

    pub fn phase(&self, now: DateTime<Utc>) -> Option<Phase> {
        match self.lifecycle {
            Lifecycle::NotCreated | Lifecycle::Deleted | Lifecycle::Archived => None,
            Lifecycle::Draft => Some(Phase::Draft),
            Lifecycle::Cancelled => Some(Phase::Cancelled),
            Lifecycle::Published if now >= self.details.ends_at() => Some(Phase::Ended),
            Lifecycle::Published if now >= self.details.starts_at => Some(Phase::Started),
            Lifecycle::Published => Some(Phase::Published),
        }
    }

    pub fn seats_taken(&self) -> u32 {
        let n = self
            .invitations
            .values()
            .filter(|i| i.state.takes_a_seat())
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    pub fn attendee_count(&self) -> u32 {
        let n = self
            .invitations
            .values()
            .filter(|i| i.state == GuestState::Attending)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn has_free_seat(&self) -> bool {
        self.details.capacity.is_none_or(|c| self.seats_taken() < c)
    }

    fn is_paid(&self) -> bool {
        self.details.ticket_price.is_some()
    }

    fn require_exists(&self) -> Result<(), VirtualEventError> {
        match self.lifecycle {
            Lifecycle::NotCreated | Lifecycle::Deleted | Lifecycle::Archived => {
                Err(VirtualEventError::NotFound)
            }
            _ => Ok(()),
        }
    }

    fn require_organizer(&self, organizer: &str) -> Result<(), VirtualEventError> {
        self.require_exists()?;
        if self.organizer == organizer {
            Ok(())
        } else {
            Err(VirtualEventError::NotTheOrganizer)
        }
    }

    /// Details, media and invitations can change in Draft or Published, until the start.
    fn require_before_start(&self, now: DateTime<Utc>) -> Result<(), VirtualEventError> {
        match self.phase(now) {
            None => Err(VirtualEventError::NotFound),
            Some(Phase::Draft | Phase::Published) => Ok(()),
            Some(Phase::Cancelled) => Err(VirtualEventError::Cancelled),
            Some(Phase::Started | Phase::Ended) => Err(VirtualEventError::AlreadyStarted),
        }
    }

    /// Guests answer only while the event is published and has not started.
    fn require_open_for_answers(&self, now: DateTime<Utc>) -> Result<(), VirtualEventError> {
        match self.phase(now) {
            Some(Phase::Draft) => Err(VirtualEventError::NotPublished),
            _ => self.require_before_start(now),
        }
    }

    fn find_invitation(
        &self,
        credential: &InvitationCredential,
    ) -> Result<(String, &Invitation), VirtualEventError> {
        let found = match credential {
            InvitationCredential::Token(token) => {
                let hash = InvitationTokens::hash(token);
                self.invitations.iter().find(|(_, i)| i.token_hash == hash)
            }
            InvitationCredential::VerifiedEmail { email, .. } => {
                let email = v::email(email).map_err(|_| VirtualEventError::InvitationNotFound)?;
                self.invitations.get_key_value(&invitation_id(&self.id, &email))
            }
        };
        match found {
            None => Err(VirtualEventError::InvitationNotFound),
            Some((_, i)) if i.state == GuestState::Revoked => Err(VirtualEventError::InvitationRevoked),
            Some((id, i)) => Ok((id.clone(), i)),
        }
    }

    /// When a seat taken now on a paid event must be paid by: the hold, cut at the start,
    /// since nobody can pay once the event has begun.
    fn hold_until(&self, now: DateTime<Utc>, services: &VirtualEventServices) -> DateTime<Utc> {
        (now + services.seat_hold).min(self.details.starts_at)
    }

    /// Gives every free seat to the waitlist, first come first served, in one fact. Only while
    /// the event is published and has not started: a seat given later could not be used.
    async fn promote_waitlisted(
        &mut self,
        now: DateTime<Utc>,
        services: &VirtualEventServices,
        sink: &EventSink<Self>,
    ) {
        if self.phase(now) != Some(Phase::Published) {
            return;
        }
        let free = match self.details.capacity {
            None => self.waitlist.len(),
            Some(c) => usize::try_from(c.saturating_sub(self.seats_taken())).unwrap_or(usize::MAX),
        };
        let promotions: Vec<Promotion> = self
            .waitlist
            .iter()
            .take(free)
            .map(|id| {
                let needs_payment = self.is_paid() && self.invitations[id].paid.is_none();
                Promotion {
                    invitation_id: id.clone(),
                    hold_until: needs_payment.then(|| self.hold_until(now, services)),
                }
            })
            .collect();
        if !promotions.is_empty() {
            sink.write(
                VirtualEventFact::WaitlistedGuestsPromoted { promotions, at: now },
                self,
            )
            .await;
        }
    }

    /// Releases every seat whose payment window has closed, then refills from the waitlist.
    /// Runs before guest commands, so a late scheduler never keeps a seat blocked.
    async fn release_lapsed_holds(
        &mut self,
        now: DateTime<Utc>,
        services: &VirtualEventServices,
        sink: &EventSink<Self>,
    ) {
        let invitation_ids: Vec<String> = self
            .invitations
            .iter()
            .filter(|(_, i)| matches!(i.state, GuestState::SeatHeld { until } if now >= until))
            .map(|(id, _)| id.clone())
            .collect();
        if !invitation_ids.is_empty() {
            sink.write(
                VirtualEventFact::SeatHoldsExpired {
                    invitation_ids,
                    at: now,
                },
                self,
            )
            .await;
        }
        self.promote_waitlisted(now, services, sink).await;
    }

    async fn create(
        &mut self,
        cmd: CreateEvent,
        now: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        let fact = validate_create(&cmd, now)?;
        if self.lifecycle != Lifecycle::NotCreated {
            // A retried create (its answer was lost) finds the event as it made it.
            let mut again = VirtualEvent::default();
            again.apply(VirtualEventFact::Created(fact));
            let same = again.organizer == self.organizer && again.details == self.details;
            return if same {
                Ok(())
            } else {
                Err(VirtualEventError::AlreadyExists)
            };
        }
        sink.write(VirtualEventFact::Created(fact), self).await;
        Ok(())
    }

    async fn update_details(
        &mut self,
        cmd: UpdateDetails,
        now: DateTime<Utc>,
        services: &VirtualEventServices,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        self.require_organizer(&cmd.organizer)?;
        self.require_before_start(now)?;
        let (changes, rescheduled) = validate_update(&cmd, &self.details, now)?;
        if changes.ticket_price.is_some() && self.lifecycle != Lifecycle::Draft {
            return Err(VirtualEventError::PriceLocked);
        }
        if let Some(Some(c)) = changes.capacity
            && c < self.seats_taken()
        {
            return Err(VirtualEventError::CapacityBelowSeatsTaken {
                seats_taken: self.seats_taken(),
            });
        }
        if changes != DetailsUpdated::default() {
            sink.write(VirtualEventFact::DetailsUpdated(changes), self).await;
        }
        if let Some(r) = rescheduled {
            sink.write(VirtualEventFact::Rescheduled(r), self).await;
        }
        self.promote_waitlisted(now, services, sink).await;
        Ok(())
    }

    async fn attach_media(
        &mut self,
        cmd: AttachMedia,
        now: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        self.require_organizer(&cmd.organizer)?;
        self.require_before_start(now)?;
        let media = validate_media(&cmd)?;
        if self.media.get(&cmd.kind) != Some(&media) {
            sink.write(VirtualEventFact::MediaAttached(media), self).await;
        }
        Ok(())
    }

    async fn publish(
        &mut self,
        organizer: &str,
        now: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        self.require_organizer(organizer)?;
        match self.lifecycle {
            Lifecycle::Published => return Ok(()),
            Lifecycle::Cancelled => return Err(VirtualEventError::Cancelled),
            _ => {}
        }
        if self.details.title.is_empty() {
            return Err(invalid("title", "an event needs a title to be published"));
        }
        if self.details.starts_at <= now {
            return Err(VirtualEventError::StartNotInFuture);
        }
        sink.write(VirtualEventFact::Published { at: now }, self).await;
        Ok(())
    }

    async fn cancel(
        &mut self,
        organizer: &str,
        message: &str,
        now: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        self.require_organizer(organizer)?;
        let message = v::cancel_message(message).map_err(|m| invalid("message", m))?;
        match self.phase(now) {
            // A retried cancel (its answer was lost) finds the event as it left it.
            Some(Phase::Cancelled) if self.cancel_message.as_ref() == Some(&message) => return Ok(()),
            Some(Phase::Cancelled) => return Err(VirtualEventError::Cancelled),
            Some(Phase::Ended) => return Err(VirtualEventError::AlreadyEnded),
            _ => {}
        }
        sink.write(VirtualEventFact::Cancelled { message, at: now }, self)
            .await;
        Ok(())
    }

    async fn delete_draft(
        &mut self,
        organizer: &str,
        now: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        self.require_organizer(organizer)?;
        if self.lifecycle != Lifecycle::Draft {
            return Err(VirtualEventError::NotADraft);
        }
        sink.write(VirtualEventFact::DraftDeleted { at: now }, self).await;
        Ok(())
    }

    async fn invite(
        &mut self,
        organizer: &str,
        emails: &[String],
        now: DateTime<Utc>,
        services: &VirtualEventServices,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        self.require_organizer(organizer)?;
        self.require_before_start(now)?;
        v::invite_count(emails.len()).map_err(|m| invalid("emails", m))?;
        let mut errors = ValidationErrors::default();
        let mut seen = HashSet::new();
        let mut invitations = Vec::new();
        for (i, raw) in emails.iter().enumerate() {
            let Some(email) = errors.check(&format!("emails[{i}]"), v::email(raw)) else {
                continue;
            };
            let id = invitation_id(&self.id, &email);
            let already = self
                .invitations
                .get(&id)
                .is_some_and(|i| i.state != GuestState::Revoked);
            if seen.insert(id.clone()) && !already {
                let token = services.tokens.token_for(&self.id, &id);
                invitations.push(InvitationIssued {
                    invitation_id: id,
                    email,
                    token_hash: InvitationTokens::hash(&token),
                });
            }
        }
        errors.into_result()?;
        if !invitations.is_empty() {
            sink.write(VirtualEventFact::GuestsInvited { invitations, at: now }, self)
                .await;
        }
        Ok(())
    }

    async fn revoke(
        &mut self,
        organizer: &str,
        invitation_id: &str,
        now: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        self.require_organizer(organizer)?;
        self.require_before_start(now)?;
        match self.invitations.get(invitation_id).map(|i| i.state) {
            None => Err(VirtualEventError::InvitationNotFound),
            Some(GuestState::Revoked) => Ok(()),
            Some(GuestState::Invited) => {
                let invitation_id = invitation_id.to_owned();
                sink.write(
                    VirtualEventFact::InvitationRevoked {
                        invitation_id,
                        at: now,
                    },
                    self,
                )
                .await;
                Ok(())
            }
            Some(_) => Err(VirtualEventError::AlreadyAnswered),
        }
    }

    async fn rsvp(
        &mut self,
        credential: &InvitationCredential,
        answer: RsvpAnswer,
        now: DateTime<Utc>,
        services: &VirtualEventServices,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        self.require_exists()?;
        let (invitation_id, _) = self.find_invitation(credential)?;
        self.require_open_for_answers(now)?;
        self.release_lapsed_holds(now, services, sink).await;
        let invitation = &self.invitations[&invitation_id];
        let answering = invitation_id.clone();
        let fact = match (answer, invitation.state) {
            (
                RsvpAnswer::Accept,
                GuestState::Attending | GuestState::SeatHeld { .. } | GuestState::Waitlisted,
            )
            | (RsvpAnswer::Decline, GuestState::Declined) => return Ok(()),
            (RsvpAnswer::Accept, _) if !(self.has_free_seat() && self.waitlist.is_empty()) => {
                VirtualEventFact::GuestWaitlisted {
                    invitation_id,
                    at: now,
                }
            }
            (RsvpAnswer::Accept, _) if self.is_paid() && invitation.paid.is_none() => {
                VirtualEventFact::SeatHeld {
                    invitation_id,
                    until: self.hold_until(now, services),
                    at: now,
                }
            }
            (RsvpAnswer::Accept, _) => VirtualEventFact::InvitationAccepted {
                invitation_id,
                at: now,
            },
            (RsvpAnswer::Decline, _) => VirtualEventFact::InvitationDeclined {
                invitation_id,
                at: now,
            },
        };
        let named = match credential {
            InvitationCredential::VerifiedEmail { name: Some(name), .. } => display_name(name),
            _ => None,
        };
        if let Some(name) = named.filter(|n| invitation.name.as_ref() != Some(n)) {
            let named = VirtualEventFact::GuestNamed {
                invitation_id: answering,
                name,
                at: now,
            };
            sink.write(named, self).await;
        }
        sink.write(fact, self).await;
        self.promote_waitlisted(now, services, sink).await;
        Ok(())
    }

    async fn pay(
        &mut self,
        credential: &InvitationCredential,
        payment_reference: &str,
        amount: Money,
        now: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        self.require_exists()?;
        let (invitation_id, invitation) = self.find_invitation(credential)?;
        let reference =
            v::payment_reference(payment_reference).map_err(|m| invalid("payment_reference", m))?;
        let Some(price) = self.details.ticket_price.clone() else {
            return Err(VirtualEventError::NotAPaidEvent);
        };
        let used_elsewhere = self
            .invitations
            .iter()
            .any(|(id, other)| *id != invitation_id && other.paid.as_ref() == Some(&reference));
        if used_elsewhere {
            return Err(VirtualEventError::PaymentAlreadyUsed);
        }
        match (&invitation.paid, invitation.state) {
            (Some(paid), _) if *paid == reference => return Ok(()),
            (Some(_), _) => return Err(VirtualEventError::AlreadyPaid),
            (None, GuestState::SeatHeld { until }) if now >= until => {
                return Err(VirtualEventError::SeatHoldExpired { until });
            }
            (None, GuestState::SeatHeld { .. }) => {}
            (None, _) => return Err(VirtualEventError::NoSeatHeld),
        }
        self.require_open_for_answers(now)?;
        if amount.amount_minor != price.amount_minor || !amount.currency.eq_ignore_ascii_case(&price.currency)
        {
            return Err(VirtualEventError::WrongAmount {
                expected: price,
                paid: amount,
            });
        }
        let fact = VirtualEventFact::TicketPaid {
            invitation_id,
            payment_reference: reference,
            amount: price,
            at: now,
        };
        sink.write(fact, self).await;
        Ok(())
    }

    async fn expire_seat_hold(
        &mut self,
        invitation_id: &str,
        now: DateTime<Utc>,
        services: &VirtualEventServices,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        self.require_exists()?;
        let Some(invitation) = self.invitations.get(invitation_id) else {
            return Err(VirtualEventError::InvitationNotFound);
        };
        if let GuestState::SeatHeld { until } = invitation.state
            && now < until
        {
            return Err(VirtualEventError::SeatHoldStillActive { until });
        }
        // Anything else (paid, declined, already expired) means the hold is resolved: the
        // scheduler may fire late or twice, and that is not an error.
        self.release_lapsed_holds(now, services, sink).await;
        Ok(())
    }

    async fn record_digest_sent(
        &mut self,
        now: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        self.require_exists()?;
        match self.lifecycle {
            Lifecycle::Draft => return Err(VirtualEventError::NotPublished),
            Lifecycle::Cancelled => return Err(VirtualEventError::Cancelled),
            _ => {}
        }
        if self.digest_sent {
            return Err(VirtualEventError::DigestAlreadySent);
        }
        sink.write(
            VirtualEventFact::DigestSent {
                attendee_count: self.attendee_count(),
                at: now,
            },
            self,
        )
        .await;
        Ok(())
    }

    /// Who gets the reminders of `kind`, recorded once per event and start time. The job
    /// decides when they are due; the event must still be open for answers.
    async fn send_reminders(
        &mut self,
        kind: ReminderKind,
        now: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        self.require_open_for_answers(now)?;
        if self.reminders_sent.contains(&kind) {
            return Err(VirtualEventError::RemindersAlreadySent);
        }
        let with_state = |wanted: GuestState| -> Vec<String> {
            self.invitations
                .iter()
                .filter(|(_, i)| i.state == wanted)
                .map(|(id, _)| id.clone())
                .collect()
        };
        let attending = with_state(GuestState::Attending);
        let nudged = match kind {
            ReminderKind::DayBefore => with_state(GuestState::Invited),
            ReminderKind::HourBefore => Vec::new(),
        };
        sink.write(
            VirtualEventFact::RemindersSent {
                kind,
                attending,
                nudged,
                at: now,
            },
            self,
        )
        .await;
        Ok(())
    }

    /// Takes an ended or cancelled event out of the apps' read models; the job decides when.
    async fn archive(&mut self, now: DateTime<Utc>, sink: &EventSink<Self>) -> Result<(), VirtualEventError> {
        match self.phase(now) {
            None => return Err(VirtualEventError::NotFound),
            Some(Phase::Draft) => return Err(VirtualEventError::NotPublished),
            Some(Phase::Published | Phase::Started) => return Err(VirtualEventError::NotEndedYet),
            Some(Phase::Ended | Phase::Cancelled) => {}
        }
        sink.write(VirtualEventFact::Archived { at: now }, self).await;
        Ok(())
    }

    /// Records, once the event has started, which invitations were never answered.
    async fn close_invitations(
        &mut self,
        now: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) -> Result<(), VirtualEventError> {
        match self.phase(now) {
            None => return Err(VirtualEventError::NotFound),
            Some(Phase::Draft) => return Err(VirtualEventError::NotPublished),
            Some(Phase::Cancelled) => return Err(VirtualEventError::Cancelled),
            Some(Phase::Published) => return Err(VirtualEventError::NotStartedYet),
            Some(Phase::Started | Phase::Ended) => {}
        }
        if self.invitations_closed {
            return Err(VirtualEventError::InvitationsAlreadyClosed);
        }
        let invitation_ids = self
            .invitations
            .iter()
            .filter(|(_, i)| i.state == GuestState::Invited)
            .map(|(id, _)| id.clone())
            .collect();
        sink.write(
            VirtualEventFact::InvitationsClosed {
                invitation_ids,
                at: now,
            },
            self,
        )
        .await;
        Ok(())
    }

    fn set_state(&mut self, invitation_id: &str, state: GuestState) {
        if let Some(invitation) = self.invitations.get_mut(invitation_id) {
            invitation.state = state;
        }
        self.waitlist.retain(|id| id != invitation_id);
        if state == GuestState::Waitlisted {
            self.waitlist.push_back(invitation_id.to_owned());
        }
    }
}

impl Aggregate for VirtualEvent {
    const TYPE: &'static str = "virtual_event";
    type Command = VirtualEventCommand;
    type Event = VirtualEventFact;
    type Error = VirtualEventError;
    type Services = VirtualEventServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let now = services.clock.now();
        match command {
            VirtualEventCommand::CreateEvent(cmd) => self.create(cmd, now, sink).await,
            VirtualEventCommand::UpdateDetails(cmd) => self.update_details(cmd, now, services, sink).await,
            VirtualEventCommand::AttachMedia(cmd) => self.attach_media(cmd, now, sink).await,
            VirtualEventCommand::Publish { organizer } => self.publish(&organizer, now, sink).await,
            VirtualEventCommand::Cancel { organizer, message } => {
                self.cancel(&organizer, &message, now, sink).await
            }
            VirtualEventCommand::DeleteDraft { organizer } => self.delete_draft(&organizer, now, sink).await,
            VirtualEventCommand::Invite { organizer, emails } => {
                self.invite(&organizer, &emails, now, services, sink).await
            }
            VirtualEventCommand::RevokeInvitation {
                organizer,
                invitation_id,
            } => self.revoke(&organizer, &invitation_id, now, sink).await,
            VirtualEventCommand::Rsvp { credential, answer } => {
                self.rsvp(&credential, answer, now, services, sink).await
            }
            VirtualEventCommand::Pay {
                credential,
                payment_reference,
                amount,
            } => self.pay(&credential, &payment_reference, amount, now, sink).await,
            VirtualEventCommand::ExpireSeatHold { invitation_id } => {
                self.expire_seat_hold(&invitation_id, now, services, sink).await
            }
            VirtualEventCommand::RecordDigestSent => self.record_digest_sent(now, sink).await,
            VirtualEventCommand::SendReminders { kind } => self.send_reminders(kind, now, sink).await,
            VirtualEventCommand::CloseInvitations => self.close_invitations(now, sink).await,
            VirtualEventCommand::Archive => self.archive(now, sink).await,
        }
    }

    fn apply(&mut self, fact: Self::Event) {
        use VirtualEventFact as F;
        match fact {
            F::Created(c) => {
                self.id = c.event_id;
                self.organizer = c.organizer;
                self.organizer_contact = c.organizer_contact;
                self.lifecycle = Lifecycle::Draft;
                self.details = Details {
                    title: c.title,
                    description: c.description,
                    starts_at: c.starts_at,
                    time_zone: c.time_zone,
                    duration_minutes: c.duration_minutes,
                    capacity: c.capacity,
                    ticket_price: c.ticket_price,
                    meeting_url: c.meeting_url,
                };
            }
            F::DetailsUpdated(u) => {
                let d = &mut self.details;
                if let Some(t) = u.title {
                    d.title = t;
                }
                if let Some(x) = u.description {
                    d.description = x;
                }
                if let Some(c) = u.capacity {
                    d.capacity = c;
                }
                if let Some(p) = u.ticket_price {
                    d.ticket_price = p;
                }
                if let Some(m) = u.meeting_url {
                    d.meeting_url = m;
                }
            }
            F::Rescheduled(r) => {
                // A digest is of one start time: a new one goes out an hour before the new time.
                if r.starts_at != self.details.starts_at {
                    self.digest_sent = false;
                    self.reminders_sent.clear();
                }
                self.details.starts_at = r.starts_at;
                self.details.time_zone = r.time_zone;
                self.details.duration_minutes = r.duration_minutes;
            }
            F::MediaAttached(m) => {
                self.media.insert(m.kind, m);
            }
            F::Published { .. } => self.lifecycle = Lifecycle::Published,
            F::Cancelled { message, .. } => {
                self.lifecycle = Lifecycle::Cancelled;
                self.cancel_message = Some(message);
            }
            F::DraftDeleted { .. } => self.lifecycle = Lifecycle::Deleted,
            F::GuestsInvited { invitations, .. } => {
                for i in invitations {
                    let old = self.invitations.get(&i.invitation_id);
                    let invitation = Invitation {
                        email: i.email,
                        token_hash: i.token_hash,
                        state: GuestState::Invited,
                        paid: old.and_then(|o| o.paid.clone()),
                        name: old.and_then(|o| o.name.clone()),
                    };
                    self.invitations.insert(i.invitation_id, invitation);
                }
            }
            F::InvitationRevoked { invitation_id, .. } => self.set_state(&invitation_id, GuestState::Revoked),
            F::InvitationAccepted { invitation_id, .. } => {
                self.set_state(&invitation_id, GuestState::Attending)
            }
            F::InvitationDeclined { invitation_id, .. } => {
                self.set_state(&invitation_id, GuestState::Declined)
            }
            F::GuestWaitlisted { invitation_id, .. } => {
                self.set_state(&invitation_id, GuestState::Waitlisted)
            }
            F::WaitlistedGuestsPromoted { promotions, .. } => {
                for p in promotions {
                    let state = p
                        .hold_until
                        .map_or(GuestState::Attending, |until| GuestState::SeatHeld { until });
                    self.set_state(&p.invitation_id, state);
                }
            }
            F::SeatHeld {
                invitation_id, until, ..
            } => {
                self.set_state(&invitation_id, GuestState::SeatHeld { until });
            }
            F::SeatHoldsExpired { invitation_ids, .. } => {
                for id in invitation_ids {
                    self.set_state(&id, GuestState::Invited);
                }
            }
            F::TicketPaid {
                invitation_id,
                payment_reference,
                ..
            } => {
                self.set_state(&invitation_id, GuestState::Attending);
                if let Some(i) = self.invitations.get_mut(&invitation_id) {
                    i.paid = Some(payment_reference);
                }
            }
            F::DigestSent { .. } => self.digest_sent = true,
            F::InvitationsClosed { .. } => self.invitations_closed = true,
            F::Archived { .. } => self.lifecycle = Lifecycle::Archived,
            F::GuestNamed {
                invitation_id, name, ..
            } => {
                if let Some(i) = self.invitations.get_mut(&invitation_id) {
                    i.name = Some(name);
                }
            }
            F::RemindersSent { kind, .. } => {
                self.reminders_sent.insert(kind);
            }
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> VirtualEventError {
    let mut errors = ValidationErrors::default();
    errors.add(field, message);
    VirtualEventError::Invalid(errors)
}

/// The fact a valid create records, or every field that fails.
fn validate_create(cmd: &CreateEvent, now: DateTime<Utc>) -> Result<Created, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let event_id = errors.check("event_id", event_id(&cmd.event_id));
    let organizer = errors.check("organizer", non_empty(&cmd.organizer));
    let title = errors.check("title", v::title(&cmd.title));
    let description = errors.check("description", v::description(&cmd.description));
    let starts_at = errors.check("starts_at", v::in_the_future(cmd.starts_at, now));
    let time_zone = errors.check("time_zone", v::time_zone(&cmd.time_zone));
    let duration_minutes = errors.check("duration_minutes", v::duration_minutes(cmd.duration_minutes));
    // A field left out is valid, so `None` keeps meaning "failed" for these as well.
    let capacity = match cmd.capacity {
        None => Some(None),
        Some(c) => errors.check("capacity", v::capacity(c)).map(Some),
    };
    let ticket_price = match &cmd.ticket_price {
        None => Some(None),
        Some(p) => v::ticket_price(&mut errors, "ticket_price", p).map(Some),
    };
    let meeting_url = errors.check("meeting_url", v::meeting_url(&cmd.meeting_url));
    let organizer_contact = match &cmd.organizer_contact {
        None => Some(None),
        Some(c) => errors
            .check("organizer_contact.email", v::email(&c.email))
            .map(|email| {
                Some(Contact {
                    email,
                    name: c.name.as_deref().and_then(display_name),
                })
            }),
    };
    match (
        event_id,
        organizer,
        title,
        description,
        starts_at,
        time_zone,
        duration_minutes,
        capacity,
        ticket_price,
        meeting_url,
        organizer_contact,
    ) {
        (
            Some(event_id),
            Some(organizer),
            Some(title),
            Some(description),
            Some(starts_at),
            Some(time_zone),
            Some(duration_minutes),
            Some(capacity),
            Some(ticket_price),
            Some(meeting_url),
            Some(organizer_contact),
        ) => Ok(Created {
            event_id,
            organizer,
            title,
            description,
            starts_at,
            time_zone,
            duration_minutes,
            capacity,
            ticket_price,
            meeting_url,
            organizer_contact,
            at: now,
        }),
        _ => Err(errors),
    }
}

/// A sign-in's display name as emails may show it: trimmed, without control characters, at
/// most 120 characters; none when nothing is left. It comes from an identity provider, not a
/// form, so it is cleaned rather than refused.
fn display_name(name: &str) -> Option<String> {
    let name: String = name.chars().filter(|c| !c.is_control()).take(120).collect();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// What a valid update changes in `current`: the details that differ, and the new schedule
/// when any part of it moved; or every field that fails.
fn validate_update(
    cmd: &UpdateDetails,
    current: &Details,
    now: DateTime<Utc>,
) -> Result<(DetailsUpdated, Option<Rescheduled>), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut changes = DetailsUpdated::default();
    if let Some(t) = &cmd.title {
        changes.title = errors.check("title", v::title(t)).filter(|t| *t != current.title);
    }
    if let Some(d) = &cmd.description {
        changes.description = errors
            .check("description", v::description(d))
            .filter(|d| *d != current.description);
    }
    if let Some(u) = &cmd.meeting_url {
        changes.meeting_url = errors
            .check("meeting_url", v::meeting_url(u))
            .filter(|u| *u != current.meeting_url);
    }
    if let Some(capacity) = cmd.capacity {
        let checked = match capacity {
            None => Some(None),
            Some(c) => errors.check("capacity", v::capacity(c)).map(Some),
        };
        changes.capacity = checked.filter(|c| *c != current.capacity);
    }
    if let Some(price) = &cmd.ticket_price {
        let checked = match price {
            None => Some(None),
            Some(p) => v::ticket_price(&mut errors, "ticket_price", p).map(Some),
        };
        changes.ticket_price = checked.filter(|p| *p != current.ticket_price);
    }
    let starts_at = match cmd.starts_at {
        Some(s) => errors.check("starts_at", v::in_the_future(s, now)),
        None => Some(current.starts_at),
    };
    let time_zone = match &cmd.time_zone {
        Some(tz) => errors.check("time_zone", v::time_zone(tz)),
        None => Some(current.time_zone.clone()),
    };
    let duration_minutes = match cmd.duration_minutes {
        Some(m) => errors.check("duration_minutes", v::duration_minutes(m)),
        None => Some(current.duration_minutes),
    };
    match (starts_at, time_zone, duration_minutes) {
        // `changes` holds `None` both for a field that failed and for one that did not
        // change, so only the errors tell whether every field passed.
        (Some(starts_at), Some(time_zone), Some(duration_minutes)) if errors.is_empty() => {
            let moved = starts_at != current.starts_at
                || time_zone != current.time_zone
                || duration_minutes != current.duration_minutes;
            let rescheduled = moved.then_some(Rescheduled {
                starts_at,
                time_zone,
                duration_minutes,
                previous_starts_at: current.starts_at,
            });
            Ok((changes, rescheduled))
        }
        _ => Err(errors),
    }
}

/// The fact a valid attachment records, or every field that fails.
fn validate_media(cmd: &AttachMedia) -> Result<MediaAttached, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let object_key = errors.check("object_key", v::object_key(&cmd.object_key));
    let content_type = errors.check("content_type", v::content_type(cmd.kind, &cmd.content_type));
    let size_bytes = errors.check("size_bytes", v::media_size(cmd.kind, cmd.size_bytes));
    match (object_key, content_type, size_bytes) {
        (Some(object_key), Some(content_type), Some(size_bytes)) => Ok(MediaAttached {
            kind: cmd.kind,
            object_key,
            content_type,
            size_bytes,
        }),
        _ => Err(errors),
    }
}

fn non_empty(raw: &str) -> Result<String, String> {
    let t = raw.trim();
    if t.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(t.to_owned())
    }
}

/// Event ids travel in URLs and DynamoDB keys: 1 to 64 of `[A-Za-z0-9_-]`.
fn event_id(raw: &str) -> Result<String, String> {
    let ok = (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("must be 1 to 64 letters, digits, `-` or `_`".into())
    }
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
mod tests;
