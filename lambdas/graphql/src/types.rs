//! The GraphQL types the web app reads: Relay nodes with global ids, connections with cursors.

use async_graphql::connection::CursorType;
use async_graphql::{Context, Enum, ErrorExtensions, ID, Interface, Object, Result, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use slsplay_projections::read_models::access::meeting_url;
use slsplay_projections::read_models::{DailyInvitationStats, EventPage, GuestListEntry, RsvpStatus};
use slsplay_projections::store::ReadQueries;

use super::{Services, Viewer, connection};

/// A global id: the type and the key, so `node(id:)` can find any object.
pub fn global_id(kind: &str, key: &str) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{kind}:{key}")))
}

/// The type and key of a global id, if it is one of ours.
pub fn parse_global_id(id: &ID) -> Option<(String, String)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(id.as_str()).ok()?).ok()?;
    let (kind, key) = raw.split_once(':')?;
    Some((kind.to_owned(), key.to_owned()))
}

/// The opaque cursor of a connection: the same form as the REST API's.
pub struct PageCursor(pub String);

impl CursorType for PageCursor {
    type Error = String;

    fn decode_cursor(s: &str) -> Result<Self, String> {
        slsplay_api::cursor::decode(s)
            .map(PageCursor)
            .map_err(|p| p.detail)
    }

    fn encode_cursor(&self) -> String {
        slsplay_api::cursor::encode(&self.0)
    }
}

pub fn unauthenticated(message: &str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", "UNAUTHENTICATED"))
}

pub fn forbidden(message: &str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", "FORBIDDEN"))
}

pub fn unavailable(cause: impl std::fmt::Display) -> async_graphql::Error {
    tracing::error!(error = %cause, "a GraphQL read failed");
    async_graphql::Error::new("the service could not answer; retry shortly")
        .extend_with(|_, e| e.set("code", "UNAVAILABLE"))
}

#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    Event(Event),
    Guest(Guest),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum EventStatus {
    Draft,
    Published,
    Cancelled,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Price {
    /// In minor units (cents).
    pub amount_minor: i64,
    pub currency: String,
}

/// An online event, as its organizer or an invited guest sees it.
#[derive(Debug, Clone)]
pub struct Event {
    pub page: EventPage,
}

impl connection::Keyed for Event {
    fn sort_key(&self) -> String {
        self.page.event_id.clone()
    }
}

impl Event {
    pub fn new(page: EventPage) -> Self {
        Self { page }
    }

    fn is_organizer(&self, viewer: &Viewer) -> bool {
        viewer
            .identity
            .as_ref()
            .is_some_and(|i| i.subject == self.page.organizer)
    }

    /// The viewer's invitation to this event, if they have one (batched across events).
    async fn viewer_invitation(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<slsplay_projections::read_models::InvitationByEmail>> {
        let viewer = ctx.data::<Viewer>()?;
        let Some(email) = viewer.identity.as_ref().and_then(|i| i.verified_email.clone()) else {
            return Ok(None);
        };
        ctx.data::<super::loaders::Invitations>()?
            .load_one((email, self.page.event_id.clone()))
            .await
            .map_err(|e| unavailable(&*e))
    }

    /// Whether the viewer may see this event at all: its organizer, or an invited guest once
    /// it is published.
    pub async fn visible_to(&self, ctx: &Context<'_>) -> Result<bool> {
        if self.is_organizer(ctx.data::<Viewer>()?) {
            return Ok(true);
        }
        Ok(self.page.open_to_guests() && self.viewer_invitation(ctx).await?.is_some())
    }
}

#[Object]
impl Event {
    async fn id(&self) -> ID {
        global_id("Event", &self.page.event_id)
    }

    /// The id the REST API and links use.
    async fn event_id(&self) -> &str {
        &self.page.event_id
    }

    async fn title(&self) -> &str {
        &self.page.title
    }

    async fn description(&self) -> &str {
        &self.page.description
    }

    async fn status(&self) -> EventStatus {
        use slsplay_projections::read_models::EventStatus as Stored;
        match self.page.status {
            Stored::Published => EventStatus::Published,
            Stored::Cancelled => EventStatus::Cancelled,
            Stored::Draft | Stored::Deleted => EventStatus::Draft,
        }
    }

    /// RFC 3339, UTC.
    async fn starts_at(&self) -> &str {
        &self.page.starts_at
    }

    async fn ends_at(&self) -> &str {
        &self.page.ends_at
    }

    /// The organizer's IANA time zone, for showing local times.
    async fn time_zone(&self) -> &str {
        &self.page.time_zone
    }

    async fn duration_minutes(&self) -> i64 {
        self.page.duration_minutes
    }

    async fn capacity(&self) -> Option<i64> {
        self.page.capacity
    }

    async fn ticket_price(&self) -> Option<Price> {
        Some(Price {
            amount_minor: self.page.ticket_price_minor?,
            currency: self.page.ticket_currency.clone()?,
        })
    }

    async fn cover_photo_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let services = ctx.data::<Services>()?;
        Ok(self
            .page
            .cover_photo_key
            .as_deref()
            .map(|k| services.blobs.public_url(k)))
    }

    async fn video_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let services = ctx.data::<Services>()?;
        Ok(self
            .page
            .video_key
            .as_deref()
            .map(|k| services.blobs.public_url(k)))
    }

    async fn invited(&self) -> i64 {
        self.page.invited
    }

    async fn attending(&self) -> i64 {
        self.page.attending
    }

    async fn seats_held(&self) -> i64 {
        self.page.seats_held
    }

    async fn waitlisted(&self) -> i64 {
        self.page.waitlisted
    }

    async fn declined(&self) -> i64 {
        self.page.declined
    }

    async fn cancel_message(&self) -> Option<&str> {
        self.page.cancel_message.as_deref()
    }

    async fn published_at(&self) -> Option<&str> {
        self.page.published_at.as_deref()
    }

    /// The version of the event this shows (an If-Match for the REST API).
    async fn version(&self) -> i64 {
        self.page.version
    }

    async fn viewer_is_organizer(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.is_organizer(ctx.data::<Viewer>()?))
    }

    /// The viewer's answer, when they are invited: invited, attending, seat_held, waitlisted
    /// or declined.
    async fn viewer_rsvp(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.viewer_invitation(ctx).await?.map(|i| i.rsvp.to_string()))
    }

    /// Only for the organizer and confirmed attendees.
    async fn meeting_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let may = self.is_organizer(ctx.data::<Viewer>()?)
            || self
                .viewer_invitation(ctx)
                .await?
                .is_some_and(|i| self.page.shows_meeting_link_to(i.rsvp));
        if !may {
            return Ok(None);
        }
        let services = ctx.data::<Services>()?;
        meeting_url(&services.queries, &self.page.event_id)
            .await
            .map_err(unavailable)
    }

    /// The guest list: the organizer's only.
    #[graphql(complexity = "first.unwrap_or(25).max(0) as usize * child_complexity")]
    async fn guests(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(minimum = 1, maximum = 100))] first: Option<i32>,
        after: Option<String>,
    ) -> Result<connection::Connection<Guest>> {
        if !self.is_organizer(ctx.data::<Viewer>()?) {
            return Err(forbidden("only the organizer sees the guest list"));
        }
        let services = ctx.data::<Services>()?;
        let event_id = self.page.event_id.clone();
        connection::page(first, after, |after, limit| async move {
            services
                .queries
                .page::<GuestListEntry>(&event_id, after.as_deref(), limit)
                .await
                .map(|p| (p.items.into_iter().map(Guest::from).collect(), p.last_sort_key))
        })
        .await
    }

    /// Invitations per UTC day: the organizer's only.
    async fn daily_stats(&self, ctx: &Context<'_>) -> Result<Vec<DayStats>> {
        if !self.is_organizer(ctx.data::<Viewer>()?) {
            return Err(forbidden("only the organizer sees the statistics"));
        }
        let services = ctx.data::<Services>()?;
        let page = services
            .queries
            .page::<DailyInvitationStats>(&self.page.event_id, None, 366)
            .await
            .map_err(unavailable)?;
        Ok(page.items.into_iter().map(DayStats::from).collect())
    }
}

/// One UTC day of an event's invitations (REST and GraphQL alike).
#[derive(Debug, Clone, SimpleObject)]
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

/// One invitee, as the organizer sees them.
#[derive(Debug, Clone)]
pub struct Guest {
    pub row: GuestListEntry,
}

impl From<GuestListEntry> for Guest {
    fn from(row: GuestListEntry) -> Self {
        Self { row }
    }
}

impl connection::Keyed for Guest {
    fn sort_key(&self) -> String {
        self.row.invitation_id.clone()
    }
}

#[Object]
impl Guest {
    async fn id(&self) -> ID {
        global_id(
            "Guest",
            &format!("{}/{}", self.row.event_id, self.row.invitation_id),
        )
    }

    async fn invitation_id(&self) -> &str {
        &self.row.invitation_id
    }

    async fn email(&self) -> &str {
        &self.row.email
    }

    /// As the guest's sign-in gave it, once they answered signed in.
    async fn name(&self) -> Option<&str> {
        self.row.name.as_deref()
    }

    /// invited, attending, seat_held, waitlisted, declined, revoked or no_answer (never
    /// answered by the start).
    async fn rsvp(&self) -> &str {
        self.row.rsvp.as_str()
    }

    /// none, due (a seat is held) or paid.
    async fn payment(&self) -> &str {
        self.row.payment.as_str()
    }

    async fn hold_until(&self) -> Option<&str> {
        self.row.hold_until.as_deref()
    }

    async fn invited_at(&self) -> &str {
        &self.row.invited_at
    }

    async fn answered_at(&self) -> Option<&str> {
        self.row.answered_at.as_deref()
    }
}

/// One of the viewer's invitations.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub row: slsplay_projections::read_models::InvitationByEmail,
}

impl connection::Keyed for Invitation {
    fn sort_key(&self) -> String {
        self.row.event_id.clone()
    }
}

#[Object]
impl Invitation {
    async fn invitation_id(&self) -> &str {
        &self.row.invitation_id
    }

    /// invited, attending, seat_held, waitlisted or declined.
    async fn rsvp(&self) -> &str {
        self.row.rsvp.as_str()
    }

    /// The event, loaded in one batch with the other invitations' events.
    async fn event(&self, ctx: &Context<'_>) -> Result<Option<Event>> {
        let page = ctx
            .data::<super::loaders::Events>()?
            .load_one(self.row.event_id.clone())
            .await
            .map_err(|e| unavailable(&*e))?;
        Ok(page.filter(EventPage::open_to_guests).map(Event::new))
    }
}

/// Pages of 100 guests read at most to find a waitlist position.
const MAX_GUEST_PAGES: usize = 100;

/// A waitlisted guest's place in the queue: the waitlist is served in the order guests joined
/// it. Rows written before `waitlist_sequence` existed have none and joined before any that do.
fn waitlist_place(row: &GuestListEntry) -> Option<(Option<i64>, &str, &str)> {
    if row.rsvp != RsvpStatus::Waitlisted {
        return None;
    }
    Some((
        row.waitlist_sequence,
        row.waitlisted_at.as_deref().unwrap_or_default(),
        row.invitation_id.as_str(),
    ))
}

/// An invitation opened with its personal link's token (no sign-in needed).
#[derive(Debug, Clone)]
pub struct LinkInvitation {
    pub row: GuestListEntry,
    pub page: EventPage,
}

#[Object]
impl LinkInvitation {
    async fn invitation_id(&self) -> &str {
        &self.row.invitation_id
    }

    async fn rsvp(&self) -> &str {
        self.row.rsvp.as_str()
    }

    async fn payment(&self) -> &str {
        self.row.payment.as_str()
    }

    async fn hold_until(&self) -> Option<&str> {
        self.row.hold_until.as_deref()
    }

    async fn event(&self) -> Event {
        Event::new(self.page.clone())
    }

    /// Where the guest stands on the waitlist (1 is next for a freed seat); null unless
    /// waitlisted.
    async fn waitlist_position(&self, ctx: &Context<'_>) -> Result<Option<i64>> {
        let Some(mine) = waitlist_place(&self.row) else {
            return Ok(None);
        };
        let queries = &ctx.data::<Services>()?.queries;
        let mut ahead = 0;
        let mut after = None;
        // Waitlists of private events are short; the guest list is read whole to count them.
        for _ in 0..MAX_GUEST_PAGES {
            let page = queries
                .page::<GuestListEntry>(&self.row.event_id, after.as_deref(), 100)
                .await
                .map_err(unavailable)?;
            ahead += page
                .items
                .iter()
                .filter_map(waitlist_place)
                .filter(|place| *place < mine)
                .count() as i64;
            match page.last_sort_key {
                Some(key) => after = Some(key),
                None => return Ok(Some(ahead + 1)),
            }
        }
        Err(unavailable(
            "the guest list is too long to place a guest on its waitlist",
        ))
    }

    /// Once the guest is confirmed.
    async fn meeting_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        if !self.page.shows_meeting_link_to(self.row.rsvp) {
            return Ok(None);
        }
        meeting_url(&ctx.data::<Services>()?.queries, &self.page.event_id)
            .await
            .map_err(unavailable)
    }
}
