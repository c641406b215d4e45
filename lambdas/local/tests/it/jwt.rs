//! JWT verification (`slsplay_api::auth::jwt`) against tokens of the development provider:
//! what the API accepts and refuses, and how often it asks the issuer for its keys. The
//! verifier and the provider share a clock the tests move.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use slsplay_aggregates::{Clock, FixedClock};
use slsplay_api::auth::jwt::{JwksError, JwksSource, JwtVerifier, PendingKeys, VerifyError};
use slsplay_local::dev_oidc::{CLIENT_ID, DevOidc, TestIdentity};

/// The provider's keys, counting how often the verifier asked for them.
struct CountingJwks {
    provider: Arc<DevOidc>,
    fetches: Arc<AtomicUsize>,
}

impl JwksSource for CountingJwks {
    fn fetch(&self) -> PendingKeys<'_> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let set = serde_json::from_value(self.provider.jwks()).map_err(|e| JwksError::Malformed(Box::new(e)));
        Box::pin(async move { set })
    }
}

struct Setup {
    provider: Arc<DevOidc>,
    verifier: JwtVerifier,
    fetches: Arc<AtomicUsize>,
    /// The provider's and the verifier's clock.
    clock: FixedClock,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let clock = FixedClock::at(slsplay_tests::fixtures::now());
    let provider = Arc::new(
        DevOidc::open(
            &dir.path().join("key"),
            "http://localhost:3000",
            Arc::new(clock.clone()),
        )
        .unwrap(),
    );
    let fetches = Arc::new(AtomicUsize::new(0));
    let source = CountingJwks {
        provider: provider.clone(),
        fetches: fetches.clone(),
    };
    let verifier = JwtVerifier::new(provider.settings(), Box::new(source), Arc::new(clock.clone()));
    Setup {
        provider,
        verifier,
        fetches,
        clock,
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
    let now = s.clock.now().timestamp();
    let cases: [(&str, Value); 8] = [
        ("expired", json!({ "exp": now - 120 })),
        ("not yet valid", json!({ "nbf": now + 600 })),
        ("wrong issuer", json!({ "iss": "https://evil.example" })),
        ("wrong audience", json!({ "aud": "another-client" })),
        ("no audience at all", json!({ "aud": null })),
        ("no subject", json!({ "sub": null })),
        ("an empty subject", json!({ "sub": "" })),
        ("a blank subject", json!({ "sub": "  " })),
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
    fn fetch(&self) -> PendingKeys<'_> {
        Box::pin(async {
            Err(JwksError::Malformed(
                std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into(),
            ))
        })
    }
}

#[tokio::test]
async fn keys_that_cannot_be_fetched_are_an_outage_not_a_bad_token() {
    let s = setup();
    let verifier = JwtVerifier::new(
        s.provider.settings(),
        Box::new(DownJwks),
        Arc::new(s.clock.clone()),
    );
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

#[tokio::test]
async fn a_token_is_refused_once_the_clock_passes_its_expiry_and_leeway() {
    let s = setup();
    let token = s.provider.token_for(&someone(), 60).unwrap();
    s.clock.advance(Duration::seconds(60 + 30));
    assert!(
        s.verifier.verify(&token).await.is_ok(),
        "refused within the leeway"
    );
    s.clock.advance(Duration::seconds(1));
    let refused = s.verifier.verify(&token).await.unwrap_err().to_string();
    assert!(refused.contains("expired"), "{refused}");
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_keys_again_once_a_minute_has_passed() {
    let s = setup();
    s.verifier
        .verify(&s.provider.token_for(&someone(), 3600).unwrap())
        .await
        .unwrap();
    let mut parts: Vec<String> = s
        .provider
        .sign(&claims(&s))
        .unwrap()
        .split('.')
        .map(str::to_owned)
        .collect();
    parts[0] = part(&json!({ "alg": "RS256", "typ": "JWT", "kid": "rotated" }));
    let rotated = parts.join(".");
    assert!(s.verifier.verify(&rotated).await.is_err());
    assert_eq!(s.fetches.load(Ordering::SeqCst), 1);
    s.clock.advance(Duration::seconds(61));
    assert!(s.verifier.verify(&rotated).await.is_err());
    assert_eq!(
        s.fetches.load(Ordering::SeqCst),
        2,
        "the keys were not fetched again"
    );
}
