//! Invitations: the organizer invites, lists and revokes; a guest reads their invitation and
//! answers it, through the personal link's token or signed in with the invited email.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use slsplay_aggregates::virtual_event::{
    InvitationCredential, RsvpAnswer, VirtualEventCommand, VirtualEventError,
};
use slsplay_commands::CommandError;
use slsplay_projections::read_models::access::{guest_by_credential, meeting_url};
use slsplay_projections::read_models::{EventPage, GuestListEntry, InvitationByEmail};
use utoipa::ToSchema;

use super::body::{ApiQuery, EventId, Fields, JsonObject};
use super::cursor::PageQuery;
use super::problem::{ApiResult, Problem};
use super::views::{Accepted, Event, Guest, InvitationView, MyInvitation, Page};
use super::{ApiState, if_match};
use crate::auth::{Caller, Identity, MaybeCaller};

/// The header carrying the secret of a personal invitation link.
pub const TOKEN_HEADER: &str = "invitation-token";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitations {
    /// 1 to 100 email addresses; already invited ones are skipped.
    #[schema(min_items = 1, max_items = 100, inline)]
    pub emails: Vec<Email>,
}

/// An email address (compared without case).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(value_type = String, format = Email)]
pub struct Email(pub String);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RsvpInput {
    pub answer: Answer,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Accept,
    Decline,
}

#[utoipa::path(post, path = "/api/events/{event_id}/invitations", tag = "invitations", operation_id = "invite",
    request_body = NewInvitations,
    params(("event_id" = String, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Accepted),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn invite(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    EventId(event_id): EventId,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Json<Accepted>> {
    let expected = if_match(&headers)?;
    let mut f = Fields::new(body);
    let emails = f.strings("emails");
    let emails = f.finish(emails)?;
    let command = VirtualEventCommand::Invite {
        organizer: caller.subject.clone(),
        emails,
    };
    Ok(Json(state.run(&caller, &event_id, command, expected).await?))
}

#[utoipa::path(get, path = "/api/events/{event_id}/invitations", tag = "invitations", operation_id = "guestList",
    params(("event_id" = String, Path), PageQuery),
    responses((status = 200, description = "The guest list, for the organizer only", body = Page<Guest>),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn guest_list(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    EventId(event_id): EventId,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Guest>>> {
    query.resolve()?;
    state.organizer_page(&caller, &event_id).await?;
    state
        .list(&event_id, &query, |_: &GuestListEntry| true, Guest::from)
        .await
}

#[utoipa::path(delete, path = "/api/events/{event_id}/invitations/{invitation_id}", tag = "invitations",
    operation_id = "revokeInvitation",
    params(("event_id" = String, Path), ("invitation_id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Accepted),
              (status = 409, description = "The guest already answered", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    EventId(event_id): EventId,
    Path((_, invitation_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Json<Accepted>> {
    let expected = if_match(&headers)?;
    let command = VirtualEventCommand::RevokeInvitation {
        organizer: caller.subject.clone(),
        invitation_id,
    };
    Ok(Json(state.run(&caller, &event_id, command, expected).await?))
}

#[utoipa::path(get, path = "/api/invitations", tag = "invitations", operation_id = "listMyInvitations",
    params(PageQuery),
    responses((status = 200, description = "Invitations to the caller's verified email", body = Page<MyInvitation>)),
    security(("bearer" = [])))]
pub async fn list_mine(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<MyInvitation>>> {
    query.resolve()?;
    let Some(email) = &caller.verified_email else {
        return Ok(Json(Page {
            items: Vec::new(),
            next_cursor: None,
        }));
    };
    state
        .list(email, &query, InvitationByEmail::listed, MyInvitation::from)
        .await
}

/// How a guest proves which invitation is theirs: the link's token (then a stale sign-in
/// does not get in the way), else the signed-in user's verified email.
pub(crate) fn credential(
    headers: &HeaderMap,
    caller: Result<MaybeCaller, Problem>,
) -> ApiResult<(InvitationCredential, Option<Identity>)> {
    if let Some(token) = headers.get(TOKEN_HEADER) {
        let token = token.to_str().map_err(|_| {
            Problem::field(
                StatusCode::BAD_REQUEST,
                "invalid-header",
                "Invitation-Token",
                "is not readable",
            )
        })?;
        let caller = caller.ok().and_then(|MaybeCaller(c)| c);
        return Ok((InvitationCredential::Token(token.trim().to_owned()), caller));
    }
    let MaybeCaller(caller) = caller?;
    let credential = match &caller {
        Some(Identity {
            verified_email: Some(email),
            name,
            ..
        }) => InvitationCredential::VerifiedEmail {
            email: email.clone(),
            name: name.clone(),
        },
        Some(_) => {
            return Err(Problem::forbidden(
                "your sign-in has no verified email; open your personal invitation link instead",
            ));
        }
        None => {
            return Err(Problem::unauthorized(
                "send the Invitation-Token of your personal link, or sign in",
            ));
        }
    };
    Ok((credential, caller))
}

pub(crate) fn no_invitation() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "invitation-not-found",
        "no invitation matches",
    )
}

pub(crate) async fn find(
    state: &ApiState,
    event_id: &str,
    credential: &InvitationCredential,
) -> ApiResult<Option<GuestListEntry>> {
    guest_by_credential(&state.queries, event_id, credential)
        .await
        .map_err(|e| ApiState::read_failed(&e))
}

/// The invitation a credential opens and its event's page, as a guest may see them; the same
/// 404 when either is missing.
pub(crate) async fn opened(
    state: &ApiState,
    event_id: &str,
    credential: &InvitationCredential,
) -> ApiResult<(GuestListEntry, EventPage)> {
    let guest = find(state, event_id, credential)
        .await?
        .ok_or_else(no_invitation)?;
    let page = state
        .page(event_id)
        .await?
        .filter(EventPage::open_to_guests)
        .ok_or_else(no_invitation)?;
    Ok((guest, page))
}

#[utoipa::path(get, path = "/api/events/{event_id}/invitation", tag = "invitations", operation_id = "myInvitation",
    params(("event_id" = String, Path),
           ("Invitation-Token" = Option<String>, Header, description = "The secret of the personal link; else sign in")),
    responses((status = 200, description = "The guest's invitation, with the meeting link once confirmed", body = InvitationView),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub async fn mine(
    State(state): State<ApiState>,
    caller: Result<MaybeCaller, Problem>,
    EventId(event_id): EventId,
    headers: HeaderMap,
) -> ApiResult<Json<InvitationView>> {
    let (credential, _) = credential(&headers, caller)?;
    let (guest, page) = opened(&state, &event_id, &credential).await?;
    let link = if page.shows_meeting_link_to(guest.rsvp) {
        meeting_url(&state.queries, &event_id)
            .await
            .map_err(|e| ApiState::read_failed(&e))?
    } else {
        None
    };
    Ok(Json(InvitationView {
        invitation_id: guest.invitation_id,
        rsvp: guest.rsvp.to_string(),
        payment: guest.payment.to_string(),
        hold_until: guest.hold_until,
        event: Event::from_page(page, |k| state.blobs.public_url(k), link),
    }))
}

#[utoipa::path(post, path = "/api/events/{event_id}/rsvp", tag = "invitations", operation_id = "rsvp",
    request_body = RsvpInput,
    params(("event_id" = String, Path),
           ("Invitation-Token" = Option<String>, Header, description = "The secret of the personal link; else sign in"),
           ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, description = "Answered; on a paid event accepting holds a seat until paid", body = Accepted),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub async fn rsvp(
    State(state): State<ApiState>,
    caller: Result<MaybeCaller, Problem>,
    EventId(event_id): EventId,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Json<Accepted>> {
    let (credential, caller) = credential(&headers, caller)?;
    let mut f = Fields::new(body);
    let answer = f.string("answer").and_then(|a| match a.as_str() {
        "accept" => Some(RsvpAnswer::Accept),
        "decline" => Some(RsvpAnswer::Decline),
        _ => None,
    });
    if answer.is_none() && f.errors.is_empty() {
        f.errors.add("answer", "must be accept or decline");
    }
    let answer = f.finish(answer)?;
    // Whether the event exists is only told to who holds an invitation to it.
    if find(&state, &event_id, &credential).await?.is_none() {
        return Err(no_invitation());
    }
    let command = VirtualEventCommand::Rsvp { credential, answer };
    run_for_guest(&state, &event_id, caller.as_ref(), command).await
}

/// Runs a guest's command (an answer, a payment), recorded as the signed-in user's or the
/// link's, and answers once the read models show it.
pub(crate) async fn run_for_guest(
    state: &ApiState,
    event_id: &str,
    caller: Option<&Identity>,
    command: VirtualEventCommand,
) -> ApiResult<Json<Accepted>> {
    let actor = match caller {
        Some(identity) => identity.actor(),
        None => "guest:invitation-link".to_owned(),
    };
    let context = slsplay_commands::CommandContext::new(actor);
    let version = state
        .commands
        .execute(event_id, command, &context, None)
        .await
        .map_err(|e| match e {
            // A draft is invisible to its invitees: its "not published" would tell them it exists.
            CommandError::Rejected(
                VirtualEventError::NotFound
                | VirtualEventError::InvitationNotFound
                | VirtualEventError::NotPublished,
            ) => no_invitation(),
            e => Problem::from_command(e),
        })?;
    Ok(Json(Accepted::after(state, event_id, version).await))
}
