//! The REST-ish command API under `/api`: writes become commands, reads come from the read
//! models. The same router runs in the local platform and (through lambda_http) in a Lambda.

pub mod auth;
pub mod blobs;
pub mod body;
pub mod commands;
pub mod cursor;
pub mod events;
pub mod idempotency;
pub mod invitations;
pub mod media;
pub mod payments;
pub mod problem;
pub mod rate_limit;
pub mod spec;
pub mod views;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use slsplay_aggregates::Clock;
use slsplay_aggregates::virtual_event::{VirtualEventCommand, VirtualEventError};
use slsplay_commands::{CommandContext, CommandError};
use slsplay_projections::read_models::{EventPage, InvitationByEmail, RsvpStatus};
use slsplay_projections::schema::{Key, ReadModel};
use slsplay_projections::store::{Queries, ReadQueries};

use crate::auth::{HasVerifier, Identity, JwtVerifier};
use blobs::BlobStore;
use commands::Commands;
use problem::{ApiResult, Problem};

#[derive(Clone)]
pub struct ApiState {
    pub commands: Arc<dyn Commands>,
    pub queries: Queries,
    pub verifier: Arc<JwtVerifier>,
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Arc<dyn Clock>,
    pub progress: ReadProgress,
    /// The payment provider's checkout; without one, paid events take no payments.
    pub payments: Option<Arc<dyn payments::PaymentGateway>>,
}

/// How a command's answer learns that the read models may have moved on, to look again.
#[derive(Clone)]
pub enum ReadProgress {
    /// The local platform's read model builder signals every batch it has applied.
    Signalled(Arc<tokio::sync::Notify>),
    /// Nothing signals (AWS: another Lambda builds the read models): look again this often,
    /// with consistent reads.
    Polled(std::time::Duration),
}

impl HasVerifier for ApiState {
    fn verifier(&self) -> &Arc<JwtVerifier> {
        &self.verifier
    }
}

/// How long a command's answer waits for the read models to show it.
pub const READ_YOUR_WRITES_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
pub struct ApiLimits {
    /// Largest request body accepted (media goes to the blob store, not through the API).
    pub body_bytes: usize,
    pub rate: rate_limit::RateLimit,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            body_bytes: 64 * 1024,
            rate: rate_limit::RateLimit {
                per_second: 20.0,
                burst: 60.0,
            },
        }
    }
}

/// The routes under `/api`.
pub fn router<S: Clone + Send + Sync + 'static>(
    state: ApiState,
    limits: ApiLimits,
    idempotency: Arc<dyn idempotency::IdempotencyKeys>,
) -> Router<S> {
    let limiter = rate_limit::RateLimiter::new(limits.rate);
    let idempotency = idempotency::Idempotency {
        store: idempotency,
        max_body: limits.body_bytes,
        clock: state.clock.clone(),
    };
    Router::new()
        .route("/events", post(events::create).get(events::list_mine))
        .route(
            "/events/{event_id}",
            get(events::show)
                .patch(events::update)
                .delete(events::delete_draft),
        )
        .route("/events/{event_id}/publish", post(events::publish))
        .route("/events/{event_id}/cancel", post(events::cancel))
        .route("/events/{event_id}/stats", get(events::stats))
        .route("/events/{event_id}/media/uploads", post(media::presign))
        .route("/events/{event_id}/media", post(media::attach))
        .route(
            "/events/{event_id}/invitations",
            post(invitations::invite).get(invitations::guest_list),
        )
        .route(
            "/events/{event_id}/invitations/{invitation_id}",
            delete(invitations::revoke),
        )
        .route("/events/{event_id}/invitation", get(invitations::mine))
        .route("/events/{event_id}/rsvp", post(invitations::rsvp))
        .route("/events/{event_id}/checkout", post(payments::checkout))
        .route("/events/{event_id}/payment", post(payments::pay))
        .route("/invitations", get(invitations::list_mine))
        .route("/openapi.json", get(|| async { Json(spec::openapi()) }))
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "not-found", "no such route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "this route does not take that method",
            )
        })
        .layer(middleware::from_fn_with_state(
            idempotency,
            idempotency::middleware,
        ))
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(middleware::from_fn_with_state(limiter, rate_limit::limit))
        .layer(middleware::from_fn_with_state(
            state.verifier.clone(),
            crate::auth::authenticate,
        ))
        .with_state(state)
}

/// How a caller stands to one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Relation {
    Organizer,
    /// Invited (and not revoked), through the caller's verified email; their answer so far.
    Guest {
        rsvp: RsvpStatus,
    },
    Stranger,
}

impl ApiState {
    pub fn read_failed(e: &(dyn std::error::Error + 'static)) -> Problem {
        Problem::unavailable("reading a read model failed", e)
    }

    pub async fn page(&self, event_id: &str) -> ApiResult<Option<EventPage>> {
        let page: Option<EventPage> = self
            .queries
            .get(&Key::new(event_id))
            .await
            .map_err(|e| Self::read_failed(&e))?;
        Ok(page.filter(EventPage::exists))
    }

    /// The caller's invitation to the event, once guests may see it: an invitee of a draft is
    /// a stranger to it (404 everywhere), so nothing tells them the draft exists.
    pub async fn invitation_of(
        &self,
        caller: &Identity,
        event_id: &str,
    ) -> ApiResult<Option<InvitationByEmail>> {
        let Some(email) = &caller.verified_email else {
            return Ok(None);
        };
        let row: Option<InvitationByEmail> = self
            .queries
            .get(&Key::with_sort(email.as_str(), event_id))
            .await
            .map_err(|e| Self::read_failed(&e))?;
        Ok(row.filter(InvitationByEmail::listed))
    }

    pub async fn relation(
        &self,
        caller: &Identity,
        page: Option<&EventPage>,
        event_id: &str,
    ) -> ApiResult<Relation> {
        if page.is_some_and(|p| p.organizer == caller.subject) {
            return Ok(Relation::Organizer);
        }
        Ok(match self.invitation_of(caller, event_id).await? {
            Some(invitation) => Relation::Guest {
                rsvp: invitation.rsvp,
            },
            None => Relation::Stranger,
        })
    }

    /// The event page for its organizer; 403 for its guests, 404 for anyone else, so that
    /// strangers cannot tell whether an event exists.
    pub async fn organizer_page(&self, caller: &Identity, event_id: &str) -> ApiResult<EventPage> {
        let page = self.page(event_id).await?;
        match self.relation(caller, page.as_ref(), event_id).await? {
            Relation::Organizer => Ok(page.expect("an organizer has a page")),
            Relation::Guest { .. } => Err(Problem::forbidden("only the organizer can see or do this")),
            Relation::Stranger => Err(Problem::not_found()),
        }
    }

    /// Waits (briefly) until the read models show `version` of the event, so that a client
    /// reading right after its own write sees it. The command is committed either way; false
    /// when the read models are still behind after the wait.
    pub async fn caught_up(&self, event_id: &str, version: usize) -> bool {
        let deadline = tokio::time::Instant::now() + READ_YOUR_WRITES_WAIT;
        loop {
            // Listening before looking, so a batch applied in between still wakes us.
            let signalled = match &self.progress {
                ReadProgress::Signalled(applied) => Some(applied.notified()),
                ReadProgress::Polled(_) => None,
            };
            tokio::pin!(signalled);
            if let Some(signalled) = signalled.as_mut().as_pin_mut() {
                signalled.enable();
            }
            match self.queries.get::<EventPage>(&Key::new(event_id)).await {
                Ok(Some(page)) if usize::try_from(page.version).unwrap_or(0) >= version => return true,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the event page to wait for it");
                    return false;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            match (signalled.as_mut().as_pin_mut(), &self.progress) {
                // Woken or timed out, the next look decides.
                (Some(signalled), _) => drop(tokio::time::timeout_at(deadline, signalled).await),
                (None, ReadProgress::Polled(every)) => {
                    tokio::time::sleep_until((tokio::time::Instant::now() + *every).min(deadline)).await;
                }
                (None, ReadProgress::Signalled(_)) => {}
            }
        }
    }

    /// One page of a read model partition as an answer; `keep` leaves out rows clients must
    /// not see (so a page may hold fewer than `limit` items and still have a next one).
    pub async fn list<M: ReadModel + Send, V>(
        &self,
        partition: &str,
        query: &cursor::PageQuery,
        keep: impl Fn(&M) -> bool,
        into: impl Fn(M) -> V,
    ) -> ApiResult<axum::Json<views::Page<V>>> {
        let (limit, after) = query.resolve()?;
        let page = self
            .queries
            .page::<M>(partition, after.as_deref(), limit)
            .await
            .map_err(|e| Self::read_failed(&e))?;
        Ok(axum::Json(views::Page {
            items: page.items.into_iter().filter(|m| keep(m)).map(into).collect(),
            next_cursor: page.last_sort_key.as_deref().map(cursor::encode),
        }))
    }

    /// The answer to someone who is not the organizer: 403 for a guest, else the 404 of an
    /// event that does not exist.
    pub async fn not_organizer(&self, caller: &Identity, event_id: &str) -> Problem {
        match self.invitation_of(caller, event_id).await {
            Ok(Some(_)) => Problem::forbidden("only the organizer can do this"),
            Ok(None) => Problem::not_found(),
            Err(problem) => problem,
        }
    }

    /// The organizer alone passes. The write side decides, since a just-created event may not
    /// be in the read models yet; guests get a 403, anyone else the 404 of a missing event.
    pub async fn ensure_organizer(&self, caller: &Identity, event_id: &str) -> ApiResult<()> {
        let organizer = self
            .commands
            .organizer(event_id)
            .await
            .map_err(Problem::from_command)?;
        if organizer.as_deref() == Some(caller.subject.as_str()) {
            return Ok(());
        }
        Err(self.not_organizer(caller, event_id).await)
    }

    /// Runs an organizer's command for `caller` and answers once the read models show it; a
    /// refusal because they are not the organizer becomes a 404 unless they are a guest of
    /// the event.
    pub async fn run(
        &self,
        caller: &Identity,
        event_id: &str,
        command: VirtualEventCommand,
        expected_version: Option<usize>,
    ) -> ApiResult<views::Accepted> {
        // Input that can never succeed is a 422 before a stale If-Match is a 412.
        let errors = command.field_errors(self.clock.now());
        if !errors.is_empty() {
            return Err(Problem::invalid(errors));
        }
        // The version check comes before the aggregate's own checks: without this, a 412
        // would tell anyone that the event exists and at which version.
        if expected_version.is_some() {
            self.ensure_organizer(caller, event_id).await?;
        }
        let context = CommandContext::new(caller.actor());
        match self
            .commands
            .execute(event_id, command, &context, expected_version)
            .await
        {
            Ok(version) => Ok(views::Accepted::after(self, event_id, version).await),
            Err(CommandError::Rejected(VirtualEventError::NotTheOrganizer)) => {
                Err(self.not_organizer(caller, event_id).await)
            }
            Err(e) => Err(Problem::from_command(e)),
        }
    }
}

/// `If-Match: "7"` (the ETag of a read) as an expected version; `*` or none: any version.
pub fn if_match(headers: &HeaderMap) -> ApiResult<Option<usize>> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || {
        Problem::field(
            StatusCode::BAD_REQUEST,
            "invalid-header",
            "If-Match",
            "must be the ETag of the event, like \"7\"",
        )
    };
    let value = value.to_str().map_err(|_| bad())?.trim();
    if value == "*" {
        return Ok(None);
    }
    let value = value.strip_prefix("W/").unwrap_or(value);
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<usize>().ok())
        .map(Some)
        .ok_or_else(bad)
}

pub fn etag(version: usize) -> String {
    format!("\"{version}\"")
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn if_match_reads_strong_and_weak_etags() {
        let mut h = HeaderMap::new();
        assert_eq!(if_match(&h).unwrap(), None);
        for (value, expected) in [("\"7\"", Some(7)), ("W/\"7\"", Some(7)), ("*", None)] {
            h.insert(header::IF_MATCH, HeaderValue::from_static(value));
            assert_eq!(if_match(&h).unwrap(), expected);
        }
        for bad in ["7", "\"x\"", "\"-1\""] {
            h.insert(header::IF_MATCH, HeaderValue::from_static(bad));
            assert_eq!(if_match(&h).unwrap_err().status, 400);
        }
    }
}
