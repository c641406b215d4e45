//! `/api/events`: an organizer's events, from creation to cancellation.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use slsplay_aggregates::validation::Money;
use slsplay_aggregates::virtual_event::{Contact, CreateEvent, UpdateDetails, VirtualEventCommand};
use slsplay_projections::read_models::access::meeting_url;
use slsplay_projections::read_models::{DailyInvitationStats, OrganizerEvent};
use utoipa::ToSchema;

use super::body::{ApiQuery, EventId, Fields, JsonObject};
use super::cursor::PageQuery;
use super::problem::{ApiResult, Problem};
use super::views::{Accepted, DayStats, Event, EventSummary, Page};
use super::{ApiState, Relation, etag, if_match};
use crate::auth::Caller;

/// A new event (a draft until published).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// 1 to 120 characters, no control characters.
    #[schema(min_length = 1, max_length = 120, example = "Founders evening")]
    pub title: String,
    /// Up to 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// RFC 3339 with offset; in the future.
    #[schema(format = DateTime, example = "2030-05-01T18:00:00Z")]
    pub starts_at: String,
    /// IANA time zone, like Europe/Paris.
    #[schema(example = "Europe/Paris")]
    pub time_zone: String,
    #[schema(minimum = 5, maximum = 1440)]
    pub duration_minutes: u32,
    /// Seats; absent: no limit.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100000)]
    pub capacity: Option<u32>,
    /// Absent: a free event.
    #[serde(default)]
    pub ticket_price: Option<PriceInput>,
    /// https link of the online meeting; only confirmed attendees see it.
    #[schema(pattern = "^https://", example = "https://meet.example/founders")]
    pub meeting_url: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    /// In minor units (cents); at most 99,999,999.
    #[schema(minimum = 1, maximum = 99999999)]
    pub amount_minor: u64,
    /// ISO 4217, like EUR.
    #[schema(pattern = "^[A-Za-z]{3}$", example = "EUR")]
    pub currency: String,
}

/// A partial update: absent fields stay; `capacity: null` removes the limit and
/// `ticket_price: null` makes a draft free.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventChanges {
    #[schema(min_length = 1, max_length = 120)]
    pub title: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[schema(format = DateTime)]
    pub starts_at: Option<String>,
    pub time_zone: Option<String>,
    #[schema(minimum = 5, maximum = 1440)]
    pub duration_minutes: Option<u32>,
    #[schema(minimum = 1, maximum = 100000)]
    pub capacity: Option<u32>,
    pub ticket_price: Option<PriceInput>,
    #[schema(pattern = "^https://")]
    pub meeting_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancellation {
    /// Sent to every guest.
    #[schema(min_length = 1, max_length = 2000)]
    pub message: String,
}

fn price(f: &mut Fields) -> Option<Money> {
    let amount_minor = f.u64("amount_minor");
    let currency = f.string("currency");
    Some(Money {
        amount_minor: amount_minor?,
        currency: currency?,
    })
}

#[utoipa::path(post, path = "/api/events", tag = "events", operation_id = "createEvent",
    request_body = NewEvent,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key get the first answer")),
    responses(
        (status = 201, description = "Created as a draft", body = Accepted,
            headers(("Location" = String), ("ETag" = String))),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    body: JsonObject,
) -> ApiResult<Response> {
    let mut f = Fields::new(body);
    let title = f.string("title");
    let description = f.opt_string("description");
    let starts_at = f.time("starts_at");
    let time_zone = f.string("time_zone");
    let duration_minutes = f.u32("duration_minutes");
    let capacity = f.opt_u32("capacity");
    let ticket_price = f.object("ticket_price", false, price);
    let meeting_url = f.string("meeting_url");
    let event_id = uuid::Uuid::now_v7().to_string();
    let command = (|| {
        Some(CreateEvent {
            event_id: event_id.clone(),
            organizer: caller.subject.clone(),
            title: title?,
            description: description.unwrap_or_default(),
            starts_at: starts_at?,
            time_zone: time_zone?,
            duration_minutes: duration_minutes?,
            capacity,
            ticket_price,
            meeting_url: meeting_url?,
            // The digest goes to the address the sign-in vouches for, never to one typed in.
            organizer_contact: caller.verified_email.clone().map(|email| Contact {
                email,
                name: caller.name.clone(),
            }),
        })
    })();
    let command = f.finish(command)?;
    let accepted = state
        .run(
            &caller,
            &event_id,
            VirtualEventCommand::CreateEvent(command),
            None,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        [
            (header::LOCATION, format!("/api/events/{event_id}")),
            (header::ETAG, etag(accepted.version as usize)),
        ],
        Json(accepted),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/events", tag = "events", operation_id = "listMyEvents",
    params(PageQuery),
    responses((status = 200, description = "The caller's events, by id (creation order)", body = Page<EventSummary>),
              (status = 400, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_mine(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<EventSummary>>> {
    let keep = OrganizerEvent::exists;
    state
        .list(&caller.subject, &query, keep, EventSummary::from)
        .await
}

#[utoipa::path(get, path = "/api/events/{event_id}", tag = "events", operation_id = "getEvent",
    params(("event_id" = String, Path)),
    responses((status = 200, description = "The event, for its organizer or an invited guest", body = Event, headers(("ETag" = String))),
              (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    EventId(event_id): EventId,
) -> ApiResult<Response> {
    let page = state.page(&event_id).await?;
    let relation = state.relation(&caller, page.as_ref(), &event_id).await?;
    let Some(page) = page else {
        return Err(Problem::not_found());
    };
    let sees_link = match &relation {
        Relation::Organizer => true,
        Relation::Guest { rsvp } if page.open_to_guests() => page.shows_meeting_link_to(*rsvp),
        _ => return Err(Problem::not_found()),
    };
    let meeting_url = if sees_link {
        meeting_url(&state.queries, &event_id)
            .await
            .map_err(|e| ApiState::read_failed(&e))?
    } else {
        None
    };
    let version = usize::try_from(page.version).unwrap_or_default();
    let event = Event::from_page(page, |k| state.blobs.public_url(k), meeting_url);
    Ok(([(header::ETAG, etag(version))], Json(event)).into_response())
}

#[utoipa::path(patch, path = "/api/events/{event_id}", tag = "events", operation_id = "updateEvent",
    request_body = EventChanges,
    params(("event_id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 if the event changed since")),
    responses((status = 200, body = Accepted),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    EventId(event_id): EventId,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Json<Accepted>> {
    let expected = if_match(&headers)?;
    let mut f = Fields::new(body);
    let mut changes = UpdateDetails {
        organizer: caller.subject.clone(),
        title: f.opt_string("title"),
        description: f.opt_string("description"),
        starts_at: f.opt_time("starts_at"),
        time_zone: f.opt_string("time_zone"),
        duration_minutes: f.opt_u32("duration_minutes"),
        capacity: f.nullable_u32("capacity"),
        ticket_price: None,
        meeting_url: f.opt_string("meeting_url"),
    };
    if f.has("ticket_price") {
        changes.ticket_price = Some(f.object("ticket_price", false, price));
    }
    let changes = f.finish(Some(changes))?;
    let command = VirtualEventCommand::UpdateDetails(changes);
    Ok(Json(state.run(&caller, &event_id, command, expected).await?))
}

/// Commands with no body but the organizer.
async fn organizer_command(
    state: &ApiState,
    caller: &crate::auth::Identity,
    event_id: &str,
    headers: &HeaderMap,
    command: VirtualEventCommand,
) -> ApiResult<Json<Accepted>> {
    let expected = if_match(headers)?;
    Ok(Json(state.run(caller, event_id, command, expected).await?))
}

#[utoipa::path(post, path = "/api/events/{event_id}/publish", tag = "events", operation_id = "publishEvent",
    params(("event_id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Accepted), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn publish(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    EventId(event_id): EventId,
    headers: HeaderMap,
) -> ApiResult<Json<Accepted>> {
    let command = VirtualEventCommand::Publish {
        organizer: caller.subject.clone(),
    };
    organizer_command(&state, &caller, &event_id, &headers, command).await
}

#[utoipa::path(post, path = "/api/events/{event_id}/cancel", tag = "events", operation_id = "cancelEvent",
    request_body = Cancellation,
    params(("event_id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Accepted), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    EventId(event_id): EventId,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Json<Accepted>> {
    let mut f = Fields::new(body);
    let message = f.string("message");
    let message = f.finish(message)?;
    let command = VirtualEventCommand::Cancel {
        organizer: caller.subject.clone(),
        message,
    };
    organizer_command(&state, &caller, &event_id, &headers, command).await
}

#[utoipa::path(delete, path = "/api/events/{event_id}", tag = "events", operation_id = "deleteDraft",
    params(("event_id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "The draft is deleted", body = Accepted),
              (status = 409, description = "Not a draft", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn delete_draft(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    EventId(event_id): EventId,
    headers: HeaderMap,
) -> ApiResult<Json<Accepted>> {
    let command = VirtualEventCommand::DeleteDraft {
        organizer: caller.subject.clone(),
    };
    organizer_command(&state, &caller, &event_id, &headers, command).await
}

#[utoipa::path(get, path = "/api/events/{event_id}/stats", tag = "events", operation_id = "eventStats",
    params(("event_id" = String, Path), PageQuery),
    responses((status = 200, description = "Invitations per UTC day", body = Page<DayStats>),
              (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn stats(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    EventId(event_id): EventId,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<DayStats>>> {
    query.resolve()?;
    state.organizer_page(&caller, &event_id).await?;
    state
        .list(&event_id, &query, |_: &DailyInvitationStats| true, DayStats::from)
        .await
}
