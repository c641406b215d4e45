//! Verifies bearer JWTs: RS256 only, signed by a key of the issuer's JWKS (looked up by `kid`,
//! re-fetched when an unknown `kid` shows up, at most once a minute), with `iss`, `aud` (or
//! Cognito's `client_id`), `exp` and `nbf` checked.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use slsplay_aggregates::Clock;
use tokio::sync::{Mutex, RwLock};

use super::Identity;
use crate::problem::ErrorChain;

/// What the API trusts.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    /// App client ids whose tokens are accepted (`aud`, or `client_id` on access tokens).
    pub audiences: Vec<String>,
}

/// Why the issuer's keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// Handling: nothing can be verified until a later fetch works (503, retried).
    #[error("fetching {url}")]
    Fetch {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("fetching {url}: {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    /// Handling: the issuer published something that is not a JWKS; as above.
    #[error("reading the key set")]
    Malformed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type PendingKeys<'a> = std::pin::Pin<Box<dyn Future<Output = Result<JwkSet, JwksError>> + Send + 'a>>;

/// Where the issuer's public keys come from.
pub trait JwksSource: Send + Sync {
    fn fetch(&self) -> PendingKeys<'_>;
}

/// Which OpenID issuer to trust, and where it publishes its keys.
#[derive(Debug, Clone)]
pub struct Trust {
    pub oidc: OidcSettings,
    pub jwks_url: String,
}

impl Trust {
    /// Tokens of `issuer` for one of `audiences`; its keys at `jwks_url`, else where Cognito
    /// publishes them (`{issuer}/.well-known/jwks.json`).
    pub fn new(issuer: &str, audiences: Vec<String>, jwks_url: Option<String>) -> Self {
        let issuer = issuer.trim_end_matches('/').to_owned();
        let jwks_url = jwks_url.unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json"));
        Self {
            oidc: OidcSettings { issuer, audiences },
            jwks_url,
        }
    }

    pub fn verifier(&self, clock: Arc<dyn Clock>) -> JwtVerifier {
        let source = HttpJwks {
            url: self.jwks_url.clone(),
            client: reqwest::Client::new(),
        };
        JwtVerifier::new(self.oidc.clone(), Box::new(source), clock)
    }
}

/// The JWKS document at a URL (Cognito: `{issuer}/.well-known/jwks.json`).
pub struct HttpJwks {
    pub url: String,
    pub client: reqwest::Client,
}

impl JwksSource for HttpJwks {
    fn fetch(&self) -> PendingKeys<'_> {
        Box::pin(async move {
            let fetch = |source| JwksError::Fetch {
                url: self.url.clone(),
                source,
            };
            let response = self
                .client
                .get(&self.url)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map_err(fetch)?;
            if !response.status().is_success() {
                return Err(JwksError::Status {
                    url: self.url.clone(),
                    status: response.status(),
                });
            }
            let body = response.bytes().await.map_err(fetch)?;
            serde_json::from_slice(&body).map_err(|e| JwksError::Malformed(Box::new(e)))
        })
    }
}

/// Unknown key ids trigger at most one JWKS fetch per this interval, so a flood of tokens
/// with made-up `kid`s cannot turn the API into a load generator against the issuer.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: i64 = 30;

/// After a failed fetch, the next attempt waits this long (a flood of requests during an
/// outage of the issuer makes one fetch every few seconds, not one each).
const RETRY_FAILED_FETCH: Duration = Duration::from_secs(5);

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Handling: 401; the token is bad, expired or not for us.
    #[error("{0}")]
    Refused(String),
    /// Handling: 503; the issuer's keys could not be fetched, so nothing can be verified.
    #[error("the issuer's keys are unavailable")]
    KeysUnavailable,
}

impl From<String> for VerifyError {
    fn from(reason: String) -> Self {
        Self::Refused(reason)
    }
}

impl From<&str> for VerifyError {
    fn from(reason: &str) -> Self {
        Self::Refused(reason.to_owned())
    }
}

pub struct JwtVerifier {
    settings: OidcSettings,
    source: Box<dyn JwksSource>,
    keys: RwLock<Keys>,
    fetches: Mutex<Fetches>,
    /// Judges `exp` and `nbf`, and paces fetches of the keys.
    clock: Arc<dyn Clock>,
}

/// The issuer's keys by id; and the ids of keys it published that cannot be used (a token
/// signed with one is our failure to verify, not a forgery).
#[derive(Default)]
struct Keys {
    usable: HashMap<String, DecodingKey>,
    unusable: HashSet<String>,
}

/// When the keys were last fetched, and when the last attempt failed.
#[derive(Default)]
struct Fetches {
    succeeded: Option<DateTime<Utc>>,
    failed: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<BoolOrString>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Cognito sends `email_verified` as a string in some tokens.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum BoolOrString {
    Bool(bool),
    Text(String),
}

impl JwtVerifier {
    pub fn new(settings: OidcSettings, source: Box<dyn JwksSource>, clock: Arc<dyn Clock>) -> Self {
        Self {
            settings,
            source,
            keys: RwLock::new(Keys::default()),
            fetches: Mutex::new(Fetches::default()),
            clock,
        }
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The key `kid` as the keys last fetched know it.
    fn known(keys: &Keys, kid: &str) -> Option<Result<DecodingKey, VerifyError>> {
        if let Some(key) = keys.usable.get(kid) {
            return Some(Ok(key.clone()));
        }
        keys.unusable
            .contains(kid)
            .then_some(Err(VerifyError::KeysUnavailable))
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, VerifyError> {
        if let Some(known) = Self::known(&*self.keys.read().await, kid) {
            return known;
        }
        let mut fetches = self.fetches.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(known) = Self::known(&*self.keys.read().await, kid) {
            return known;
        }
        let now = self.clock.now();
        let within = |at: Option<DateTime<Utc>>, interval: Duration| {
            at.is_some_and(|at| (now - at).to_std().is_ok_and(|elapsed| elapsed < interval))
        };
        if within(fetches.failed, RETRY_FAILED_FETCH) {
            return Err(VerifyError::KeysUnavailable);
        }
        if within(fetches.succeeded, REFETCH_INTERVAL) {
            return Err(format!("unknown key id {kid:?}").into());
        }
        let set = match self.source.fetch().await {
            Ok(set) => set,
            Err(e) => {
                tracing::warn!(error = %ErrorChain(&e), "cannot fetch the issuer's keys");
                fetches.failed = Some(now);
                return Err(VerifyError::KeysUnavailable);
            }
        };
        fetches.succeeded = Some(now);
        fetches.failed = None;
        let mut keys = Keys::default();
        for jwk in &set.keys {
            let Some(id) = &jwk.common.key_id else {
                tracing::warn!("the issuer published a key without a key id (kid); it is ignored");
                continue;
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.usable.insert(id.clone(), key);
                }
                Err(e) => {
                    tracing::error!(kid = %id, error = %e, "the issuer published a key that cannot be used");
                    keys.unusable.insert(id.clone());
                }
            }
        }
        let found = Self::known(&keys, kid);
        // Keys dropped from the set are no longer trusted.
        *self.keys.write().await = keys;
        found.unwrap_or_else(|| Err(format!("unknown key id {kid:?}").into()))
    }

    pub async fn verify(&self, token: &str) -> Result<Identity, VerifyError> {
        let header =
            decode_header(token).map_err(|e| VerifyError::Refused(format!("malformed token: {e}")))?;
        if header.alg != Algorithm::RS256 {
            return Err(format!("algorithm {:?} is not accepted (RS256 only)", header.alg).into());
        }
        let kid = header.kid.ok_or("the token names no key id (kid)")?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.settings.issuer]);
        // Times are judged below against our clock, not the library's reading of the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        // Cognito access tokens carry `client_id` instead of `aud`: both are checked below.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let claims = decode::<Claims>(token, &key, &validation)
            .map_err(|e| VerifyError::Refused(e.to_string()))?
            .claims;
        // The subject is who the caller is: a present but blank one names nobody.
        if claims.sub.trim().is_empty() {
            return Err("the token names no subject (sub)".into());
        }
        let now = self.clock.now().timestamp();
        if claims.exp < now - LEEWAY_SECONDS {
            return Err("the token has expired (exp)".into());
        }
        if claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECONDS) {
            return Err("the token is not valid yet (nbf)".into());
        }
        let audiences: Vec<&str> = match &claims.aud {
            Some(Audience::One(a)) => vec![a.as_str()],
            Some(Audience::Many(a)) => a.iter().map(String::as_str).collect(),
            None => claims.client_id.iter().map(String::as_str).collect(),
        };
        if !audiences
            .iter()
            .any(|a| self.settings.audiences.iter().any(|ours| ours == a))
        {
            return Err("the token was issued to another client (aud)".into());
        }
        let verified = matches!(claims.email_verified, Some(BoolOrString::Bool(true)))
            || matches!(&claims.email_verified, Some(BoolOrString::Text(t)) if t == "true");
        Ok(Identity {
            subject: claims.sub,
            verified_email: claims.email.filter(|_| verified).map(|e| e.trim().to_lowercase()),
            name: claims.name,
        })
    }
}
