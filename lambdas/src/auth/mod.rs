//! Who is calling: bearer JWTs from an OpenID Connect provider (Cognito federating Google,
//! Facebook and Apple on AWS; the development provider locally), verified against the
//! issuer's published keys.

pub mod dev_oidc;
pub mod jwt;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::api::problem::Problem;
pub use jwt::{JwksSource, JwtVerifier, OidcSettings};

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

fn bearer(parts: &Parts) -> Result<Option<&str>, Problem> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Problem::unauthorized("the Authorization header is not readable"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim()))
        }
        _ => Err(Problem::unauthorized("use Authorization: Bearer <token>")),
    }
}

async fn identify<S: HasVerifier>(parts: &Parts, state: &S) -> Result<Option<Identity>, Problem> {
    let Some(token) = bearer(parts)? else {
        return Ok(None);
    };
    state
        .verifier()
        .verify(token)
        .await
        .map(Some)
        .map_err(|reason| Problem::unauthorized(format!("the token was refused: {reason}")))
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
