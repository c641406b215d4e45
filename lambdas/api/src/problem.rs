//! Errors as RFC 9457 problem details. Every refusal names what to fix; failures of the
//! platform itself are logged with their cause and shown only as a status and a request id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use slsplay_aggregates::validation::{FieldError, ValidationErrors};
use slsplay_aggregates::virtual_event::VirtualEventError;
use slsplay_commands::CommandError;
use utoipa::ToSchema;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem detail (RFC 9457). `type` names the kind of problem; `errors` lists every
/// failing field of the request at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// Seconds to wait before retrying (also sent as `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Why a credential that came was refused, for a 401's `WWW-Authenticate` (RFC 6750);
    /// none when none came.
    #[serde(skip)]
    #[schema(ignore)]
    pub bearer_error: Option<BearerError>,
}

/// RFC 6750's error codes of a refused bearer credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// Not a bearer token, or not readable.
    InvalidRequest,
    /// A bearer token that does not verify: forged, expired, of another issuer.
    InvalidToken,
}

impl Problem {
    /// The `WWW-Authenticate` of a 401: `Bearer`, with the error and its description when a
    /// credential came and was refused.
    pub fn bearer_challenge(&self) -> String {
        let code = match self.bearer_error {
            None => return r#"Bearer realm="slsplay""#.to_owned(),
            Some(BearerError::InvalidRequest) => "invalid_request",
            Some(BearerError::InvalidToken) => "invalid_token",
        };
        // RFC 6750 allows printable ASCII but `"` and `\` in a description.
        let description: String = self
            .detail
            .chars()
            .map(|c| {
                if (c.is_ascii_graphic() || c == ' ') && c != '"' && c != '\\' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        format!(r#"Bearer realm="slsplay", error="{code}", error_description="{description}""#)
    }
}

/// One failing field: a path into the request body (`emails[3]`, `ticket_price.currency`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

impl From<FieldError> for ProblemField {
    fn from(e: FieldError) -> Self {
        Self {
            field: e.field,
            message: e.message,
        }
    }
}

impl Problem {
    /// `slug` becomes the type `urn:slsplay:problem:{slug}`, stable for clients to match on.
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:slsplay:problem:{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            bearer_error: None,
        }
    }

    pub fn invalid(errors: ValidationErrors) -> Self {
        let mut problem = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-request",
            "some fields are invalid; see errors",
        );
        problem.errors = errors.0.into_iter().map(ProblemField::from).collect();
        problem
    }

    pub fn field(status: StatusCode, slug: &str, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut problem = Self::new(status, slug, format!("{field}: {message}"));
        problem.errors.push(ProblemField {
            field: field.to_owned(),
            message,
        });
        problem
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such resource, or not yours to see",
        )
    }

    /// No credentials came: the challenge names the scheme only.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// A credential came and was refused.
    pub fn refused_credentials(error: BearerError, detail: impl Into<String>) -> Self {
        let mut problem = Self::unauthorized(detail);
        problem.bearer_error = Some(error);
        problem
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// The platform failed; `what` is logged with its cause, the caller sees a 503 to retry.
    /// Our side failed: the cause, with its whole chain of sources, goes to the log, and the
    /// client only learns to retry.
    pub fn unavailable(what: &str, cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %ErrorChain(cause), "{what}");
        let mut problem = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the service could not complete the request; retry shortly",
        );
        problem.retry_after = Some(1);
        problem
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// A command's refusal: the domain says what was wrong; this picks the status.
    pub fn from_domain(error: VirtualEventError) -> Self {
        use VirtualEventError as E;
        let (status, slug) = match &error {
            E::Invalid(errors) => return Self::invalid(errors.clone()),
            E::NotFound => return Self::not_found(),
            E::InvitationNotFound => (StatusCode::NOT_FOUND, "invitation-not-found"),
            E::NotTheOrganizer => (StatusCode::FORBIDDEN, "not-the-organizer"),
            E::AlreadyExists => (StatusCode::CONFLICT, "already-exists"),
            E::NotADraft => (StatusCode::CONFLICT, "not-a-draft"),
            E::NotPublished => (StatusCode::CONFLICT, "not-published"),
            E::Cancelled => (StatusCode::CONFLICT, "cancelled"),
            E::AlreadyStarted => (StatusCode::CONFLICT, "already-started"),
            E::AlreadyEnded => (StatusCode::CONFLICT, "already-ended"),
            E::StartNotInFuture => (StatusCode::CONFLICT, "start-not-in-future"),
            E::InvitationRevoked => (StatusCode::CONFLICT, "invitation-revoked"),
            E::AlreadyAnswered => (StatusCode::CONFLICT, "already-answered"),
            E::CapacityBelowSeatsTaken { .. } => (StatusCode::CONFLICT, "capacity-below-seats-taken"),
            E::PriceLocked => (StatusCode::CONFLICT, "price-locked"),
            E::NotAPaidEvent => (StatusCode::CONFLICT, "not-a-paid-event"),
            E::NoSeatHeld => (StatusCode::CONFLICT, "no-seat-held"),
            E::SeatHoldExpired { .. } => (StatusCode::CONFLICT, "seat-hold-expired"),
            E::SeatHoldStillActive { .. } => (StatusCode::CONFLICT, "seat-hold-still-active"),
            E::WrongAmount { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "wrong-amount"),
            E::AlreadyPaid => (StatusCode::CONFLICT, "already-paid"),
            E::PaymentAlreadyUsed => (StatusCode::CONFLICT, "payment-already-used"),
            E::DigestAlreadySent => (StatusCode::CONFLICT, "digest-already-sent"),
            E::RemindersAlreadySent => (StatusCode::CONFLICT, "reminders-already-sent"),
            E::NotStartedYet => (StatusCode::CONFLICT, "not-started-yet"),
            E::NotEndedYet => (StatusCode::CONFLICT, "not-ended-yet"),
            E::InvitationsAlreadyClosed => (StatusCode::CONFLICT, "invitations-already-closed"),
        };
        Self::new(status, slug, error.to_string())
    }

    pub fn from_command(error: CommandError<VirtualEventError>) -> Self {
        match error {
            CommandError::Rejected(e) => Self::from_domain(e),
            CommandError::StaleVersion { expected, actual } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "stale-version",
                format!(
                    "If-Match asked for version {expected}, the event is at version {actual}; reload and retry"
                ),
            ),
            CommandError::Contended { attempts } => Self::new(
                StatusCode::CONFLICT,
                "contended",
                format!("the event kept changing under {attempts} attempts; retry"),
            )
            .with_retry_after(1),
            CommandError::Store(e) => Self::unavailable("command failed in the event store", &e),
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = self.retry_after;
        let challenge = (self.status == 401).then(|| self.bearer_challenge());
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, Problem>;

/// An error and each of its sources, `outer: inner: innermost`, for the log.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
