//! Verifies bearer JWTs: RS256 only, signed by a key of the issuer's JWKS (looked up by `kid`,
//! re-fetched when an unknown `kid` shows up, at most once a minute), with `iss`, `aud` (or
//! Cognito's `client_id`), `exp` and `nbf` checked.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use super::Identity;

/// What the API trusts.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    /// App client ids whose tokens are accepted (`aud`, or `client_id` on access tokens).
    pub audiences: Vec<String>,
}

/// Where the issuer's public keys come from.
pub trait JwksSource: Send + Sync {
    fn fetch(&self) -> std::pin::Pin<Box<dyn Future<Output = Result<JwkSet, String>> + Send + '_>>;
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

    pub fn verifier(&self) -> JwtVerifier {
        let source = HttpJwks {
            url: self.jwks_url.clone(),
            client: reqwest::Client::new(),
        };
        JwtVerifier::new(self.oidc.clone(), Box::new(source))
    }
}

/// The JWKS document at a URL (Cognito: `{issuer}/.well-known/jwks.json`).
pub struct HttpJwks {
    pub url: String,
    pub client: reqwest::Client,
}

impl JwksSource for HttpJwks {
    fn fetch(&self) -> std::pin::Pin<Box<dyn Future<Output = Result<JwkSet, String>> + Send + '_>> {
        Box::pin(async move {
            let response = self
                .client
                .get(&self.url)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map_err(|e| format!("fetching {}: {e}", self.url))?;
            if !response.status().is_success() {
                return Err(format!("fetching {}: {}", self.url, response.status()));
            }
            response
                .json::<JwkSet>()
                .await
                .map_err(|e| format!("reading {}: {e}", self.url))
        })
    }
}

/// Unknown key ids trigger at most one JWKS fetch per this interval, so a flood of tokens
/// with made-up `kid`s cannot turn the API into a load generator against the issuer.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

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
    keys: RwLock<HashMap<String, DecodingKey>>,
    fetches: Mutex<Fetches>,
}

/// When the keys were last fetched, and when the last attempt failed.
#[derive(Default)]
struct Fetches {
    succeeded: Option<Instant>,
    failed: Option<Instant>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
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
    pub fn new(settings: OidcSettings, source: Box<dyn JwksSource>) -> Self {
        Self {
            settings,
            source,
            keys: RwLock::new(HashMap::new()),
            fetches: Mutex::new(Fetches::default()),
        }
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, VerifyError> {
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(key.clone());
        }
        let mut fetches = self.fetches.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(key.clone());
        }
        if fetches.failed.is_some_and(|at| at.elapsed() < RETRY_FAILED_FETCH) {
            return Err(VerifyError::KeysUnavailable);
        }
        if fetches
            .succeeded
            .is_some_and(|at| at.elapsed() < REFETCH_INTERVAL)
        {
            return Err(format!("unknown key id {kid:?}").into());
        }
        let set = match self.source.fetch().await {
            Ok(set) => set,
            Err(e) => {
                tracing::warn!(error = %e, "cannot fetch the issuer's keys");
                fetches.failed = Some(Instant::now());
                return Err(VerifyError::KeysUnavailable);
            }
        };
        fetches.succeeded = Some(Instant::now());
        fetches.failed = None;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if let (Some(id), Ok(key)) = (&jwk.common.key_id, DecodingKey::from_jwk(jwk)) {
                keys.insert(id.clone(), key);
            }
        }
        let found = keys.get(kid).cloned();
        // Keys dropped from the set are no longer trusted.
        *self.keys.write().await = keys;
        found.ok_or_else(|| format!("unknown key id {kid:?}").into())
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
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        // Cognito access tokens carry `client_id` instead of `aud`: both are checked below.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let claims = decode::<Claims>(token, &key, &validation)
            .map_err(|e| VerifyError::Refused(e.to_string()))?
            .claims;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, KeyInit, Mac};
    use serde_json::{Value, json};

    use super::*;
    use crate::auth::dev_oidc::{CLIENT_ID, DevOidc, TestIdentity};

    /// The provider's keys, counting how often the verifier asked for them.
    struct CountingJwks {
        provider: Arc<DevOidc>,
        fetches: Arc<AtomicUsize>,
    }

    impl JwksSource for CountingJwks {
        fn fetch(&self) -> std::pin::Pin<Box<dyn Future<Output = Result<JwkSet, String>> + Send + '_>> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let set = serde_json::from_value(self.provider.jwks()).map_err(|e| e.to_string());
            Box::pin(async move { set })
        }
    }

    struct Setup {
        provider: Arc<DevOidc>,
        verifier: JwtVerifier,
        fetches: Arc<AtomicUsize>,
        _dir: tempfile::TempDir,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let provider = Arc::new(DevOidc::open(&dir.path().join("key"), "http://localhost:3000").unwrap());
        let fetches = Arc::new(AtomicUsize::new(0));
        let source = CountingJwks {
            provider: provider.clone(),
            fetches: fetches.clone(),
        };
        let verifier = JwtVerifier::new(provider.settings(), Box::new(source));
        Setup {
            provider,
            verifier,
            fetches,
            _dir: dir,
        }
    }

    fn someone() -> TestIdentity {
        TestIdentity {
            email: "Ada@Example.com".into(),
            name: None,
            provider: "Google".into(),
        }
    }

    fn claims(s: &Setup) -> Value {
        s.provider.claims(&someone(), 3600)
    }

    fn part(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn kid(s: &Setup) -> String {
        s.provider.jwks()["keys"][0]["kid"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn a_token_of_the_provider_names_the_user_and_their_verified_email() {
        let s = setup();
        let token = s.provider.token_for(&someone(), 60).unwrap();
        let who = s.verifier.verify(&token).await.unwrap();
        assert!(who.subject.starts_with("dev-"));
        assert_eq!(who.verified_email.as_deref(), Some("ada@example.com"));
        // Keys are fetched once, then reused.
        s.verifier.verify(&token).await.unwrap();
        assert_eq!(s.fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn expired_not_yet_valid_foreign_and_misaddressed_tokens_are_refused() {
        let s = setup();
        let now = chrono::Utc::now().timestamp();
        let cases: [(&str, Value); 6] = [
            ("expired", json!({ "exp": now - 120 })),
            ("not yet valid", json!({ "nbf": now + 600 })),
            ("wrong issuer", json!({ "iss": "https://evil.example" })),
            ("wrong audience", json!({ "aud": "another-client" })),
            ("no audience at all", json!({ "aud": null })),
            ("no subject", json!({ "sub": null })),
        ];
        for (case, change) in cases {
            let mut c = claims(&s);
            for (k, v) in change.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            let token = s.provider.sign(&c).unwrap();
            assert!(s.verifier.verify(&token).await.is_err(), "{case} was accepted");
        }
    }

    #[tokio::test]
    async fn a_cognito_access_token_is_matched_by_client_id_and_unverified_emails_are_dropped() {
        let s = setup();
        let mut c = claims(&s);
        c.as_object_mut().unwrap().remove("aud");
        c["client_id"] = json!(CLIENT_ID);
        c["email_verified"] = json!("false");
        let who = s.verifier.verify(&s.provider.sign(&c).unwrap()).await.unwrap();
        assert_eq!(who.verified_email, None);
    }

    #[tokio::test]
    async fn alg_none_and_hs256_keyed_with_the_public_key_are_refused() {
        let s = setup();
        let payload = part(&claims(&s));
        let none = format!("{}.{payload}.", part(&json!({ "alg": "none", "kid": kid(&s) })));
        assert!(s.verifier.verify(&none).await.is_err());
        // The classic confusion: HMAC keyed with the RSA public key the attacker knows.
        let header = part(&json!({ "alg": "HS256", "typ": "JWT", "kid": kid(&s) }));
        let n = s.provider.jwks()["keys"][0]["n"].as_str().unwrap().to_owned();
        for key in [n.as_bytes().to_vec(), URL_SAFE_NO_PAD.decode(&n).unwrap()] {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
            mac.update(format!("{header}.{payload}").as_bytes());
            let forged = format!(
                "{header}.{payload}.{}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            );
            let refused = s.verifier.verify(&forged).await.unwrap_err().to_string();
            assert!(refused.contains("not accepted"), "{refused}");
        }
    }

    /// An issuer whose keys cannot be fetched.
    struct DownJwks;

    impl JwksSource for DownJwks {
        fn fetch(&self) -> std::pin::Pin<Box<dyn Future<Output = Result<JwkSet, String>> + Send + '_>> {
            Box::pin(async { Err("connection refused".to_owned()) })
        }
    }

    #[tokio::test]
    async fn keys_that_cannot_be_fetched_are_an_outage_not_a_bad_token() {
        let s = setup();
        let verifier = JwtVerifier::new(s.provider.settings(), Box::new(DownJwks));
        let token = s.provider.token_for(&someone(), 60).unwrap();
        assert_eq!(verifier.verify(&token).await, Err(VerifyError::KeysUnavailable));
    }

    #[tokio::test]
    async fn a_tampered_payload_breaks_the_signature() {
        let s = setup();
        let token = s.provider.token_for(&someone(), 60).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut c = claims(&s);
        c["email"] = json!("ceo@example.com");
        parts[1] = part(&c);
        assert!(s.verifier.verify(&parts.join(".")).await.is_err());
    }

    #[tokio::test]
    async fn an_unknown_kid_refetches_the_keys_at_most_once_a_minute() {
        let s = setup();
        let c = claims(&s);
        let forged_kid = |k: &str| {
            let token = s.provider.sign(&c).unwrap();
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            parts[0] = part(&json!({ "alg": "RS256", "typ": "JWT", "kid": k }));
            parts.join(".")
        };
        for i in 0..20 {
            let err = s
                .verifier
                .verify(&forged_kid(&format!("rotated-{i}")))
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("unknown key id"), "{err}");
        }
        assert_eq!(
            s.fetches.load(Ordering::SeqCst),
            1,
            "a flood of unknown kids fetched the JWKS again"
        );
        // Known keys still verify without another fetch.
        s.verifier
            .verify(&s.provider.token_for(&someone(), 60).unwrap())
            .await
            .unwrap();
        assert_eq!(s.fetches.load(Ordering::SeqCst), 1);
    }
}
