//! Folds facts into the read models. Each call applies one fact inside the caller's
//! transaction; the builder around it makes that exactly-once per fact.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use cqrs_es::EventEnvelope;
use slsplay_aggregates::virtual_event::{ReminderKind, VirtualEvent, VirtualEventFact as F};

use super::tables::*;
use super::{EventStatus, PaymentStatus, RsvpStatus};
use crate::schema::{Key, ReadModel};
use crate::store::{ReadStoreError, ReadTx};

/// The builder's name: its checkpoints, its queue and its Lambda are named after it.
pub const NAME: &str = "read_models";

pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// When the fact happened: its own time, else when it was recorded.
pub fn fact_time(fact: &EventEnvelope<VirtualEvent>) -> DateTime<Utc> {
    let own = match &fact.payload {
        F::Created(c) => Some(c.at),
        F::Published { at }
        | F::Cancelled { at, .. }
        | F::DraftDeleted { at }
        | F::GuestsInvited { at, .. }
        | F::InvitationRevoked { at, .. }
        | F::InvitationAccepted { at, .. }
        | F::InvitationDeclined { at, .. }
        | F::GuestWaitlisted { at, .. }
        | F::WaitlistedGuestsPromoted { at, .. }
        | F::SeatHeld { at, .. }
        | F::SeatHoldsExpired { at, .. }
        | F::TicketPaid { at, .. }
        | F::DigestSent { at, .. }
        | F::RemindersSent { at, .. }
        | F::GuestNamed { at, .. }
        | F::InvitationsClosed { at, .. }
        | F::Archived { at } => Some(*at),
        F::DetailsUpdated(_) | F::Rescheduled(_) | F::MediaAttached(_) => None,
    };
    own.or_else(|| {
        let recorded = fact.metadata.get("recorded_at")?;
        DateTime::parse_from_rfc3339(recorded)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
    .unwrap_or_default()
}

/// Which count of the page a guest in `rsvp` adds to.
fn counter(page: &mut EventPage, rsvp: RsvpStatus) -> Option<&mut i64> {
    match rsvp {
        RsvpStatus::Attending => Some(&mut page.attending),
        RsvpStatus::SeatHeld => Some(&mut page.seats_held),
        RsvpStatus::Waitlisted => Some(&mut page.waitlisted),
        RsvpStatus::Declined => Some(&mut page.declined),
        RsvpStatus::Invited | RsvpStatus::Revoked | RsvpStatus::NoAnswer => None,
    }
}

pub async fn apply<T: ReadTx + Send>(
    tx: &mut T,
    fact: &EventEnvelope<VirtualEvent>,
) -> Result<(), ReadStoreError> {
    let at = fact_time(fact);
    let now = timestamp(at);
    let event_id = fact.aggregate_id.as_str();
    let mut page = match &fact.payload {
        F::Created(c) => {
            let link = MeetingLink {
                event_id: event_id.into(),
                meeting_url: c.meeting_url.clone(),
                updated_at: now.clone(),
            };
            tx.put(link).await?;
            EventPage {
                event_id: event_id.into(),
                organizer: c.organizer.clone(),
                title: c.title.clone(),
                description: c.description.clone(),
                status: EventStatus::Draft,
                starts_at: timestamp(c.starts_at),
                ends_at: timestamp(c.starts_at + Duration::minutes(i64::from(c.duration_minutes))),
                time_zone: c.time_zone.clone(),
                duration_minutes: i64::from(c.duration_minutes),
                capacity: c.capacity.map(i64::from),
                ticket_price_minor: c
                    .ticket_price
                    .as_ref()
                    .map(|p| i64::try_from(p.amount_minor).unwrap_or(i64::MAX)),
                ticket_currency: c.ticket_price.as_ref().map(|p| p.currency.clone()),
                ..EventPage::default()
            }
        }
        _ => match tx.get::<EventPage>(&Key::new(event_id)).await? {
            Some(page) => page,
            // Facts of one event arrive in order, starting with its creation: a missing page
            // means the builder was handed a history without its start.
            None => {
                tracing::error!(
                    event_id,
                    sequence = fact.sequence,
                    "no page for a fact after creation"
                );
                return Err(ReadStoreError::Storage(
                    format!("event `{event_id}` has no page").into(),
                ));
            }
        },
    };
    if let F::Archived { .. } = fact.payload {
        return archive(tx, &page).await;
    }
    let previous_start = page.starts_at.clone();
    let mut page_level_change = false;
    match &fact.payload {
        F::Created(_) => {}
        F::DetailsUpdated(u) => {
            if let Some(t) = &u.title {
                page.title = t.clone();
                page_level_change = true;
            }
            if let Some(d) = &u.description {
                page.description = d.clone();
            }
            if let Some(c) = u.capacity {
                page.capacity = c.map(i64::from);
            }
            if let Some(p) = &u.ticket_price {
                page.ticket_price_minor = p
                    .as_ref()
                    .map(|p| i64::try_from(p.amount_minor).unwrap_or(i64::MAX));
                page.ticket_currency = p.as_ref().map(|p| p.currency.clone());
            }
            if let Some(url) = &u.meeting_url {
                let link = MeetingLink {
                    event_id: event_id.into(),
                    meeting_url: url.clone(),
                    updated_at: now.clone(),
                };
                tx.put(link).await?;
            }
        }
        F::Rescheduled(r) => {
            page.starts_at = timestamp(r.starts_at);
            page.ends_at = timestamp(r.starts_at + Duration::minutes(i64::from(r.duration_minutes)));
            page.time_zone = r.time_zone.clone();
            page.duration_minutes = i64::from(r.duration_minutes);
            page_level_change = true;
        }
        F::MediaAttached(m) => match m.kind {
            slsplay_aggregates::validation::MediaKind::Photo => {
                page.cover_photo_key = Some(m.object_key.clone())
            }
            slsplay_aggregates::validation::MediaKind::Video => page.video_key = Some(m.object_key.clone()),
        },
        F::Published { .. } => {
            page.status = EventStatus::Published;
            page.published_at = Some(now.clone());
            page_level_change = true;
        }
        F::Cancelled { message, .. } => {
            page.status = EventStatus::Cancelled;
            page.cancel_message = Some(message.clone());
            page_level_change = true;
        }
        F::DraftDeleted { .. } => {
            page.status = EventStatus::Deleted;
            page_level_change = true;
        }
        F::GuestsInvited { invitations, .. } => {
            for i in invitations {
                let guest = GuestListEntry {
                    event_id: event_id.into(),
                    invitation_id: i.invitation_id.clone(),
                    email: i.email.clone(),
                    rsvp: RsvpStatus::Invited,
                    payment: PaymentStatus::None,
                    invited_at: now.clone(),
                    updated_at: now.clone(),
                    token_hash: i.token_hash.clone(),
                    ..GuestListEntry::default()
                };
                tx.put(invitation_row(&page, &guest)).await?;
                tx.put(guest).await?;
                tx.put(InvitationToken {
                    token_hash: i.token_hash.clone(),
                    event_id: event_id.into(),
                    invitation_id: i.invitation_id.clone(),
                })
                .await?;
            }
            let n = i64::try_from(invitations.len()).unwrap_or(i64::MAX);
            page.invited += n;
            bump_stats(tx, event_id, &now, |s| s.invited += n).await?;
        }
        F::InvitationRevoked { invitation_id, .. } => {
            move_guest(tx, &mut page, invitation_id, RsvpStatus::Revoked, &now, |_| {}).await?;
            page.invited -= 1;
        }
        F::InvitationAccepted { invitation_id, .. } => {
            move_guest(tx, &mut page, invitation_id, RsvpStatus::Attending, &now, |g| {
                g.answered_at = Some(now.clone())
            })
            .await?;
            bump_stats(tx, event_id, &now, |s| s.accepted += 1).await?;
        }
        F::InvitationDeclined { invitation_id, .. } => {
            move_guest(tx, &mut page, invitation_id, RsvpStatus::Declined, &now, |g| {
                g.answered_at = Some(now.clone());
                g.hold_until = None;
                if g.payment == PaymentStatus::Due {
                    g.payment = PaymentStatus::None;
                }
            })
            .await?;
            bump_stats(tx, event_id, &now, |s| s.declined += 1).await?;
        }
        F::GuestWaitlisted { invitation_id, .. } => {
            move_guest(tx, &mut page, invitation_id, RsvpStatus::Waitlisted, &now, |g| {
                g.answered_at = Some(now.clone());
                g.waitlisted_at = Some(now.clone());
                g.waitlist_sequence = i64::try_from(fact.sequence).ok();
            })
            .await?;
            bump_stats(tx, event_id, &now, |s| s.waitlisted += 1).await?;
        }
        F::WaitlistedGuestsPromoted { promotions, .. } => {
            for p in promotions {
                let rsvp = if p.hold_until.is_some() {
                    RsvpStatus::SeatHeld
                } else {
                    RsvpStatus::Attending
                };
                move_guest(tx, &mut page, &p.invitation_id, rsvp, &now, |g| {
                    g.hold_until = p.hold_until.map(timestamp);
                    if p.hold_until.is_some() {
                        g.payment = PaymentStatus::Due;
                    }
                })
                .await?;
            }
            let n = i64::try_from(promotions.len()).unwrap_or(i64::MAX);
            bump_stats(tx, event_id, &now, |s| s.promoted += n).await?;
        }
        F::SeatHeld {
            invitation_id, until, ..
        } => {
            move_guest(tx, &mut page, invitation_id, RsvpStatus::SeatHeld, &now, |g| {
                g.answered_at = Some(now.clone());
                g.hold_until = Some(timestamp(*until));
                g.payment = PaymentStatus::Due;
            })
            .await?;
            bump_stats(tx, event_id, &now, |s| s.accepted += 1).await?;
        }
        F::SeatHoldsExpired { invitation_ids, .. } => {
            for invitation_id in invitation_ids {
                move_guest(tx, &mut page, invitation_id, RsvpStatus::Invited, &now, |g| {
                    g.hold_until = None;
                    g.payment = PaymentStatus::None;
                })
                .await?;
            }
        }
        F::TicketPaid {
            invitation_id,
            payment_reference,
            ..
        } => {
            move_guest(tx, &mut page, invitation_id, RsvpStatus::Attending, &now, |g| {
                g.hold_until = None;
                g.payment = PaymentStatus::Paid;
                g.payment_reference = Some(payment_reference.clone());
                g.paid_at = Some(now.clone());
            })
            .await?;
            bump_stats(tx, event_id, &now, |s| s.paid += 1).await?;
        }
        F::InvitationsClosed { invitation_ids, .. } => {
            for invitation_id in invitation_ids {
                move_guest(tx, &mut page, invitation_id, RsvpStatus::NoAnswer, &now, |_| {}).await?;
            }
        }
        // Handled above: the event leaves the tables.
        F::Archived { .. } => {}
        F::GuestNamed {
            invitation_id, name, ..
        } => {
            let key = Key::with_sort(event_id, invitation_id.clone());
            if let Some(mut guest) = tx.get::<GuestListEntry>(&key).await? {
                guest.name = Some(name.clone());
                tx.put(guest).await?;
            }
        }
        F::DigestSent { .. } | F::RemindersSent { .. } => {}
    }
    page.version = i64::try_from(fact.sequence).unwrap_or(i64::MAX);
    page.updated_at = now.clone();
    tx.put(page.clone()).await?;
    sync_event_lists(tx, &page, &previous_start, &fact.payload).await?;
    if page_level_change {
        for guest in tx.list::<GuestListEntry>(&event_id.into()).await? {
            if page.status.is_deleted() || guest.rsvp.is_revoked() {
                tx.delete::<InvitationByEmail>(&Key::with_sort(guest.email.clone(), event_id))
                    .await?;
            } else {
                tx.put(invitation_row(&page, &guest)).await?;
            }
        }
    }
    Ok(())
}

/// The event leaves every table but the daily counts, which analysts keep.
async fn archive<T: ReadTx + Send>(tx: &mut T, page: &EventPage) -> Result<(), ReadStoreError> {
    let event_id = page.event_id.as_str();
    for guest in tx.list::<GuestListEntry>(&event_id.into()).await? {
        tx.delete::<InvitationByEmail>(&Key::with_sort(guest.email.clone(), event_id))
            .await?;
        if !guest.token_hash.is_empty() {
            tx.delete::<InvitationToken>(&Key::new(guest.token_hash.clone()))
                .await?;
        }
        if let Some(until) = held_until(&guest) {
            tx.delete::<SeatHold>(&SeatHold::new(event_id, &guest.invitation_id, &until).key())
                .await?;
        }
        tx.delete::<GuestListEntry>(&guest.key()).await?;
    }
    tx.delete::<EventByStart>(&by_start_key(&page.starts_at, event_id))
        .await?;
    tx.delete::<OrganizerEvent>(&Key::with_sort(page.organizer.clone(), event_id))
        .await?;
    tx.delete::<MeetingLink>(&Key::new(event_id)).await?;
    tx.delete::<EventPage>(&Key::new(event_id)).await
}

fn invitation_row(page: &EventPage, guest: &GuestListEntry) -> InvitationByEmail {
    InvitationByEmail {
        email: guest.email.clone(),
        event_id: page.event_id.clone(),
        invitation_id: guest.invitation_id.clone(),
        title: page.title.clone(),
        starts_at: page.starts_at.clone(),
        time_zone: page.time_zone.clone(),
        event_status: page.status,
        rsvp: guest.rsvp,
        updated_at: guest.updated_at.clone(),
    }
}

/// Moves one guest to `rsvp`, keeping the page's counts and the invitee's own row in step.
async fn move_guest<T: ReadTx + Send>(
    tx: &mut T,
    page: &mut EventPage,
    invitation_id: &str,
    rsvp: RsvpStatus,
    now: &str,
    change: impl FnOnce(&mut GuestListEntry),
) -> Result<(), ReadStoreError> {
    let key = Key::with_sort(page.event_id.clone(), invitation_id);
    let Some(mut guest) = tx.get::<GuestListEntry>(&key).await? else {
        return Err(ReadStoreError::Storage(
            format!("invitation `{invitation_id}` is not on the guest list").into(),
        ));
    };
    if let Some(old) = counter(page, guest.rsvp) {
        *old -= 1;
    }
    if let Some(new) = counter(page, rsvp) {
        *new += 1;
    }
    let held_before = held_until(&guest);
    guest.rsvp = rsvp;
    guest.updated_at = now.into();
    change(&mut guest);
    // The seat holds job's index follows the guest's hold.
    let held_after = held_until(&guest);
    if held_before != held_after {
        if let Some(until) = held_before {
            let hold = SeatHold::new(&page.event_id, invitation_id, &until);
            tx.delete::<SeatHold>(&hold.key()).await?;
        }
        if let Some(until) = held_after {
            tx.put(SeatHold::new(&page.event_id, invitation_id, &until))
                .await?;
        }
    }
    if rsvp.is_revoked() {
        tx.delete::<InvitationByEmail>(&Key::with_sort(guest.email.clone(), page.event_id.clone()))
            .await?;
    } else {
        tx.put(invitation_row(page, &guest)).await?;
    }
    tx.put(guest).await
}

/// When the guest's seat hold runs out, while they hold one.
fn held_until(guest: &GuestListEntry) -> Option<String> {
    (guest.rsvp == RsvpStatus::SeatHeld)
        .then(|| guest.hold_until.clone())
        .flatten()
}

async fn bump_stats<T: ReadTx + Send>(
    tx: &mut T,
    event_id: &str,
    now: &str,
    bump: impl FnOnce(&mut DailyInvitationStats),
) -> Result<(), ReadStoreError> {
    let day = start_day(now);
    let key = Key::with_sort(event_id, day.clone());
    let mut stats = tx
        .get::<DailyInvitationStats>(&key)
        .await?
        .unwrap_or_else(|| DailyInvitationStats {
            event_id: event_id.into(),
            day,
            ..Default::default()
        });
    bump(&mut stats);
    tx.put(stats).await
}

/// The organizer's list and the by-start index follow the page.
async fn sync_event_lists<T: ReadTx + Send>(
    tx: &mut T,
    page: &EventPage,
    previous_start: &str,
    fact: &F,
) -> Result<(), ReadStoreError> {
    let organizer_key = Key::with_sort(page.organizer.clone(), page.event_id.clone());
    let old_start = by_start_key(previous_start, &page.event_id);
    let previous = tx.get::<EventByStart>(&old_start).await?;
    if page.status.is_deleted() {
        tx.delete::<OrganizerEvent>(&organizer_key).await?;
        tx.delete::<EventByStart>(&old_start).await?;
        return Ok(());
    }
    tx.put(OrganizerEvent {
        organizer: page.organizer.clone(),
        event_id: page.event_id.clone(),
        title: page.title.clone(),
        starts_at: page.starts_at.clone(),
        status: page.status,
        invited: page.invited,
        attending: page.attending,
        updated_at: page.updated_at.clone(),
    })
    .await?;
    let moved = previous_start != page.starts_at;
    if moved {
        tx.delete::<EventByStart>(&old_start).await?;
    }
    // The digest and the reminders are of one start time (the aggregate forgets them when
    // the start moves).
    let kept = |flag: fn(&EventByStart) -> i64| !moved && previous.as_ref().is_some_and(|p| flag(p) == 1);
    let reminded = |kind: ReminderKind| matches!(fact, F::RemindersSent { kind: k, .. } if *k == kind);
    let by_start = EventByStart {
        start_day: start_day(&page.starts_at),
        start_key: format!("{}#{}", page.starts_at, page.event_id),
        event_id: page.event_id.clone(),
        starts_at: page.starts_at.clone(),
        organizer: page.organizer.clone(),
        status: page.status,
        invited: page.invited,
        digest_sent: i64::from(matches!(fact, F::DigestSent { .. }) || kept(|p| p.digest_sent)),
        day_reminder_sent: i64::from(reminded(ReminderKind::DayBefore) || kept(|p| p.day_reminder_sent)),
        hour_reminder_sent: i64::from(reminded(ReminderKind::HourBefore) || kept(|p| p.hour_reminder_sent)),
        invitations_closed: i64::from(
            matches!(fact, F::InvitationsClosed { .. })
                || previous.as_ref().is_some_and(|p| p.invitations_closed == 1),
        ),
    };
    // Most facts (the answers) leave it as it is.
    if previous.as_ref() == Some(&by_start) {
        return Ok(());
    }
    tx.put(by_start).await
}

/// The UTC day of an RFC 3339 UTC timestamp, as `YYYY-MM-DD`.
/// The key of an event's `events_by_start` row.
fn by_start_key(starts_at: &str, event_id: &str) -> Key {
    Key::with_sort(start_day(starts_at), format!("{starts_at}#{event_id}"))
}

fn start_day(starts_at: &str) -> String {
    starts_at.get(..10).unwrap_or(starts_at).to_owned()
}
