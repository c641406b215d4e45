//! A development OpenID Connect provider, part of the local platform only: sign in as any test
//! identity of Google, Facebook or Apple (authorization code + PKCE), and a JWKS the API
//! verifies tokens against exactly as it verifies Cognito's. Never deployed.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use slsplay_aggregates::Clock;
use slsplay_api::auth::jwt::{JwksError, JwksSource, OidcSettings, PendingKeys};
use slsplay_projections::email::compose::html_escape;

/// The client id of the web app (and of scripts) at the development provider.
pub const CLIENT_ID: &str = "slsplay-web";
pub const PROVIDERS: [&str; 3] = ["Google", "Facebook", "Apple"];
const CODE_LIFETIME: Duration = Duration::seconds(120);
pub const TOKEN_LIFETIME_SECONDS: i64 = 3600;

pub struct DevOidc {
    issuer: String,
    /// `scheme://host:port` of the platform's public URL: sign-ins return only there (or to
    /// this machine), so the page cannot send codes to another site.
    public_origin: String,
    key: KeyPair,
    kid: String,
    codes: Mutex<HashMap<String, PendingCode>>,
    /// Dates tokens and ages authorization codes.
    clock: Arc<dyn Clock>,
}

struct PendingCode {
    claims: Value,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    issued: DateTime<Utc>,
}

impl PendingCode {
    fn fresh(&self, now: DateTime<Utc>) -> bool {
        now - self.issued < CODE_LIFETIME
    }
}

/// A test identity: who the provider says signed in.
#[derive(Debug, Clone)]
pub struct TestIdentity {
    pub email: String,
    pub name: Option<String>,
    pub provider: String,
}

impl DevOidc {
    /// The provider of the platform whose web app is at `public_url`; its signing key is kept
    /// in the data folder so tokens survive restarts and `slsplay dev-token` signs alike.
    pub fn open(key_file: &Path, public_url: &str, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let der = match fs::read(key_file) {
            Ok(der) => der,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = KeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| anyhow::anyhow!("cannot generate the development signing key"))?;
                let der = key
                    .as_der()
                    .map_err(|_| anyhow::anyhow!("cannot encode the development signing key"))?
                    .as_ref()
                    .to_vec();
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(key_file)
                    .with_context(|| format!("creating {}", key_file.display()))?;
                file.write_all(&der)?;
                file.sync_all()?;
                der
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", key_file.display())),
        };
        let key = KeyPair::from_pkcs8(&der)
            .map_err(|e| anyhow::anyhow!("{} is not a usable key: {e}", key_file.display()))?;
        let kid = hex::encode(&Sha256::digest(key.public_key().as_ref())[..8]);
        Ok(Self {
            issuer: issuer(public_url),
            public_origin: url::Url::parse(public_url)
                .map(|u| u.origin().ascii_serialization())
                .with_context(|| format!("the public URL {public_url} is not a URL"))?,
            key,
            kid,
            codes: Mutex::new(HashMap::new()),
            clock,
        })
    }

    pub fn settings(&self) -> OidcSettings {
        OidcSettings {
            issuer: self.issuer.clone(),
            audiences: vec![CLIENT_ID.to_owned()],
        }
    }

    pub fn jwks(&self) -> Value {
        let public = self.key.public_key();
        json!({ "keys": [{
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        }]})
    }

    /// The claims the provider vouches for about `who`, valid for `lifetime_seconds`.
    pub fn claims(&self, who: &TestIdentity, lifetime_seconds: i64) -> Value {
        let now = self.clock.now().timestamp();
        let email = who.email.trim().to_lowercase();
        let subject = hex::encode(&Sha256::digest(format!("{}:{email}", who.provider).as_bytes())[..12]);
        json!({
            "iss": self.issuer,
            "sub": format!("dev-{subject}"),
            "aud": CLIENT_ID,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_seconds,
            "email": email,
            "email_verified": true,
            "name": who.name.clone().unwrap_or_else(|| email.clone()),
            "identity_provider": who.provider,
        })
    }

    /// A compact RS256 JWT of `claims`, signed with this provider's key.
    pub fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("signing failed"))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    pub fn token_for(&self, who: &TestIdentity, lifetime_seconds: i64) -> anyhow::Result<String> {
        self.sign(&self.claims(who, lifetime_seconds))
    }
}

impl DevOidc {
    fn may_redirect_to(&self, uri: &str) -> bool {
        let Ok(url) = url::Url::parse(uri) else {
            return false;
        };
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        matches!(url.scheme(), "http" | "https")
            && (loopback || url.origin().ascii_serialization() == self.public_origin)
    }
}

pub fn issuer(public_url: &str) -> String {
    format!("{}/dev/oidc", public_url.trim_end_matches('/'))
}

/// The verifier of the local platform reads the keys in-process: same checks, no HTTP hop.
pub struct LocalJwks(pub Arc<DevOidc>);

impl JwksSource for LocalJwks {
    fn fetch(&self) -> PendingKeys<'_> {
        let set = serde_json::from_value(self.0.jwks()).map_err(|e| JwksError::Malformed(Box::new(e)));
        Box::pin(async move { set })
    }
}

pub fn routes<S: Clone + Send + Sync + 'static>(provider: Arc<DevOidc>) -> Router<S> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks.json", get(jwks))
        .route("/authorize", get(authorize_page).post(authorize))
        .route("/token", post(token))
        .with_state(provider)
}

async fn discovery(State(p): State<Arc<DevOidc>>) -> Json<Value> {
    Json(json!({
        "issuer": p.issuer,
        "authorization_endpoint": format!("{}/authorize", p.issuer),
        "token_endpoint": format!("{}/token", p.issuer),
        "jwks_uri": format!("{}/jwks.json", p.issuer),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": ["openid", "email", "profile"],
        "claims_supported": ["sub", "email", "email_verified", "name"],
    }))
}

async fn jwks(State(p): State<Arc<DevOidc>>) -> Json<Value> {
    Json(p.jwks())
}

#[derive(Debug, Deserialize)]
struct AuthorizeRequest {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    /// Cognito's name for the provider a button asked for; the page preselects it.
    identity_provider: Option<String>,
}

/// What the sign-in form posts back: the authorization request plus the chosen identity.
#[derive(Debug, Deserialize)]
struct SignIn {
    client_id: String,
    redirect_uri: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    nonce: String,
    code_challenge: String,
    provider: String,
    email: String,
    #[serde(default)]
    name: String,
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><meta charset=utf-8><title>Sign-in error</title><p>{}</p>",
            html_escape(message)
        )),
    )
        .into_response()
}

fn check_request(p: &DevOidc, req: &AuthorizeRequest) -> Result<(), &'static str> {
    if req.response_type.as_deref() != Some("code") {
        return Err("response_type must be code");
    }
    if req.client_id.as_deref() != Some(CLIENT_ID) {
        return Err("unknown client_id");
    }
    if req.redirect_uri.as_deref().is_none_or(|u| !p.may_redirect_to(u)) {
        return Err("redirect_uri must be a URL of the platform's own origin or of this machine");
    }
    if req.code_challenge_method.as_deref() != Some("S256")
        || req.code_challenge.as_deref().is_none_or(str::is_empty)
    {
        return Err("PKCE is required: code_challenge with code_challenge_method=S256");
    }
    Ok(())
}

async fn authorize_page(State(p): State<Arc<DevOidc>>, Query(req): Query<AuthorizeRequest>) -> Response {
    if let Err(message) = check_request(&p, &req) {
        return bad_request(message);
    }
    let hidden: String = [
        ("client_id", req.client_id.as_deref()),
        ("redirect_uri", req.redirect_uri.as_deref()),
        ("state", req.state.as_deref()),
        ("nonce", req.nonce.as_deref()),
        ("code_challenge", req.code_challenge.as_deref()),
    ]
    .iter()
    .map(|(name, value)| {
        format!(
            "<input type=hidden name={name} value=\"{}\">",
            html_escape(value.unwrap_or_default())
        )
    })
    .collect();
    let asked = req
        .identity_provider
        .as_deref()
        .filter(|asked| PROVIDERS.contains(asked))
        .unwrap_or(PROVIDERS[0]);
    let providers: String = PROVIDERS
        .iter()
        .map(|p| {
            format!(
                "<label><input type=radio name=provider value={p}{}> {p}</label> ",
                if *p == asked { " checked" } else { "" }
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>Sign in (development)</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:1rem;max-width:28rem}}\
         .dev{{background:#fff3cd;border:1px solid #e0c36c;padding:.5rem}}\
         label,input,button{{font-size:1rem}}input[type=email],input[type=text]{{width:100%;padding:.4rem;margin:.2rem 0 .8rem}}\
         button{{padding:.5rem 1rem}}</style></head><body>\
         <p class=dev><strong>Development sign-in.</strong> This page stands in for Google, Facebook and \
         Apple on the local platform only; it trusts whatever identity you type.</p>\
         <form method=post action=\"/dev/oidc/authorize\">{hidden}\
         <p>Sign in with: {providers}</p>\
         <label for=email>Email</label><input id=email type=email name=email required autocomplete=email>\
         <label for=name>Name</label><input id=name type=text name=name autocomplete=name>\
         <button type=submit>Sign in</button></form></body></html>",
    ))
    .into_response()
}

async fn authorize(State(p): State<Arc<DevOidc>>, Form(form): Form<SignIn>) -> Response {
    let request = AuthorizeRequest {
        response_type: Some("code".into()),
        client_id: Some(form.client_id.clone()),
        redirect_uri: Some(form.redirect_uri.clone()),
        state: None,
        nonce: None,
        code_challenge: Some(form.code_challenge.clone()),
        code_challenge_method: Some("S256".into()),
        identity_provider: None,
    };
    if let Err(message) = check_request(&p, &request) {
        return bad_request(message);
    }
    if !PROVIDERS.contains(&form.provider.as_str()) {
        return bad_request("unknown provider");
    }
    let email = match slsplay_aggregates::validation::email(&form.email) {
        Ok(e) => e,
        Err(message) => return bad_request(&format!("email {message}")),
    };
    let who = TestIdentity {
        email,
        name: Some(form.name.trim().to_owned()).filter(|n| !n.is_empty()),
        provider: form.provider.clone(),
    };
    let mut claims = p.claims(&who, TOKEN_LIFETIME_SECONDS);
    if !form.nonce.is_empty() {
        claims["nonce"] = Value::String(form.nonce.clone());
    }
    let mut code = [0u8; 24];
    if getrandom::fill(&mut code).is_err() {
        return bad_request("no randomness available");
    }
    let code = URL_SAFE_NO_PAD.encode(code);
    {
        let now = p.clock.now();
        let mut codes = p.codes.lock().expect("codes poisoned");
        codes.retain(|_, c| c.fresh(now));
        codes.insert(
            code.clone(),
            PendingCode {
                claims,
                client_id: form.client_id,
                redirect_uri: form.redirect_uri.clone(),
                challenge: form.code_challenge,
                issued: now,
            },
        );
    }
    let Ok(mut target) = url::Url::parse(&form.redirect_uri) else {
        return bad_request("redirect_uri is not a URL");
    };
    target.query_pairs_mut().append_pair("code", &code);
    if !form.state.is_empty() {
        target.query_pairs_mut().append_pair("state", &form.state);
    }
    Redirect::to(target.as_str()).into_response()
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    grant_type: String,
    code: String,
    redirect_uri: String,
    client_id: String,
    code_verifier: String,
}

fn token_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn token(State(p): State<Arc<DevOidc>>, Form(req): Form<TokenRequest>) -> Response {
    if req.grant_type != "authorization_code" {
        return token_error("unsupported_grant_type", "only authorization_code");
    }
    // A code is good for one exchange, even a failed one.
    let pending = p.codes.lock().expect("codes poisoned").remove(&req.code);
    let Some(pending) = pending.filter(|c| c.fresh(p.clock.now())) else {
        return token_error("invalid_grant", "unknown, used or expired code");
    };
    if pending.client_id != req.client_id || pending.redirect_uri != req.redirect_uri {
        return token_error(
            "invalid_grant",
            "client_id or redirect_uri differ from the authorization request",
        );
    }
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(req.code_verifier.as_bytes()));
    if challenge != pending.challenge {
        return token_error("invalid_grant", "code_verifier does not match code_challenge");
    }
    let Ok(token) = p.sign(&pending.claims) else {
        return token_error("server_error", "signing failed");
    };
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "access_token": token,
            "id_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
        })),
    )
        .into_response()
}
