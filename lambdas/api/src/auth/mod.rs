//! Who is calling: bearer JWTs from an OpenID Connect provider (Cognito federating Google,
//! Facebook and Apple on AWS; the local platform's development provider), verified against the
//! issuer's published keys.

pub mod jwt;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::problem::{BearerError, Problem};
pub use jwt::{JwksSource, JwtVerifier, OidcSettings, VerifyError};

/// A signed-in user as the identity provider vouches for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's stable id of the user: events are organized by it.
    pub subject: String,
    /// Present only when the provider verified it: it is what matches invitations.
    pub verified_email: Option<String>,
    pub name: Option<String>,
}

impl Identity {
    /// The actor recorded with the facts this user causes.
    pub fn actor(&self) -> String {
        format!("user:{}", self.subject)
    }
}

/// The state an API router needs to authenticate callers.
pub trait HasVerifier {
    fn verifier(&self) -> &Arc<JwtVerifier>;
}

/// A required signed-in caller: a missing or bad token is a 401 before the handler runs.
pub struct Caller(pub Identity);

/// An optional signed-in caller: no Authorization header is fine, a bad one is still a 401.
pub struct MaybeCaller(pub Option<Identity>);

/// The outcome of authentication, put on the request by [`authenticate`] for the layers
/// after it (rate limit, idempotency) and the handlers. `None`: no Authorization header.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Option<Result<Identity, Problem>>);

impl Authenticated {
    pub fn identity(&self) -> Option<&Identity> {
        self.0.as_ref().and_then(|r| r.as_ref().ok())
    }
}

/// The bearer token of the Authorization header, if any; a header of another form is a 401.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Problem> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| {
        Problem::refused_credentials(
            BearerError::InvalidRequest,
            "the Authorization header is not readable",
        )
    })?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim()))
        }
        _ => Err(Problem::refused_credentials(
            BearerError::InvalidRequest,
            "use Authorization: Bearer <token>",
        )),
    }
}

/// Verifies the bearer token, if any; a refusal only becomes a 401 where a handler needs the
/// caller (an invitation link works without signing in).
pub async fn check(verifier: &JwtVerifier, headers: &HeaderMap) -> Authenticated {
    let token = match bearer(headers) {
        Ok(None) => return Authenticated(None),
        Ok(Some(token)) => token,
        Err(problem) => return Authenticated(Some(Err(problem))),
    };
    Authenticated(Some(verifier.verify(token).await.map_err(|e| match e {
        VerifyError::Refused(reason) => Problem::refused_credentials(
            BearerError::InvalidToken,
            format!("the token was refused: {reason}"),
        ),
        VerifyError::KeysUnavailable => Problem::unavailable("cannot verify tokens", &e),
    })))
}

/// Middleware: authenticates once, before the rate limit and idempotency, which then know the
/// verified caller.
pub async fn authenticate(
    State(verifier): State<Arc<JwtVerifier>>,
    mut request: Request,
    next: Next,
) -> Response {
    let outcome = check(&verifier, request.headers()).await;
    request.extensions_mut().insert(outcome);
    next.run(request).await
}

async fn identify<S: HasVerifier>(parts: &Parts, state: &S) -> Result<Option<Identity>, Problem> {
    let outcome = match parts.extensions.get::<Authenticated>() {
        Some(outcome) => outcome.clone(),
        None => check(state.verifier(), &parts.headers).await,
    };
    outcome.0.transpose()
}

impl<S: HasVerifier + Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match identify(parts, state).await? {
            Some(identity) => Ok(Self(identity)),
            None => Err(Problem::unauthorized(
                "sign in: send Authorization: Bearer <token>",
            )),
        }
    }
}

impl<S: HasVerifier + Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        identify(parts, state).await.map(Self)
    }
}
