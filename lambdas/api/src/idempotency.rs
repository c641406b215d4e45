//! `Idempotency-Key` on POST: a retried request gets the first answer back, and the command
//! behind it runs once. Keys are scoped to the caller and kept for a day.

use std::sync::Arc;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use slsplay_aggregates::Clock;

use super::problem::Problem;
use crate::auth::Authenticated;

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_CHARS: usize = 255;
/// Answers bigger than this are not kept, so that one fits a DynamoDB item (400 KB); no
/// answer to a POST comes close.
const MAX_STORED_BODY: usize = 256 * 1024;

/// The first answer to a key, or the mark that it is being worked on.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    InFlight {
        fingerprint: String,
    },
    Done {
        fingerprint: String,
        answer: StoredAnswer,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why the store of keys could not answer: our side's failure, so the request is answered 503
/// and a retry with the same key is safe.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// Handling: log it, answer 503; the store may come back.
    #[error("the idempotency store failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Handling: log it, answer 503; the recorded answer cannot be replayed as it was.
    #[error("the idempotency record of {key:?} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
}

impl IdempotencyError {
    pub fn store(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Store(Box::new(e))
    }
}

pub type Pending<'a, T> = std::pin::Pin<Box<dyn Future<Output = Result<T, IdempotencyError>> + Send + 'a>>;

/// Where keys live: SQLite locally, a DynamoDB table with a TTL on AWS.
pub trait IdempotencyKeys: Send + Sync {
    /// Claims the key for a first request (`None`), or tells what an earlier one left.
    fn begin<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        fingerprint: &'a str,
        now: i64,
    ) -> Pending<'a, Option<Recorded>>;
    fn finish<'a>(&'a self, scope: &'a str, key: &'a str, answer: &'a StoredAnswer) -> Pending<'a, ()>;
    /// Forgets a claim whose request failed on our side, so that a retry runs again.
    fn abandon<'a>(&'a self, scope: &'a str, key: &'a str) -> Pending<'a, ()>;
}

/// A first request still running after this long is presumed dead; its key can be retried.
pub const IN_FLIGHT_SECONDS: i64 = 60;
/// How long keys are kept.
pub const KEEP_SECONDS: i64 = 24 * 3600;

/// The stored form of an answer's replayed headers (JSON pairs), shared by every store.
pub fn encode_headers(headers: &[(String, String)]) -> String {
    serde_json::Value::from(
        headers
            .iter()
            .map(|(name, value)| serde_json::json!([name, value]))
            .collect::<Vec<_>>(),
    )
    .to_string()
}

pub fn decode_headers(key: &str, stored: &str) -> Result<Vec<(String, String)>, IdempotencyError> {
    serde_json::from_str(stored).map_err(|e| IdempotencyError::Corrupt {
        key: key.to_owned(),
        reason: format!("headers: {e}"),
    })
}

/// Headers of the first answer that a replay repeats.
const REPLAYED_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

fn unavailable(e: &(dyn std::error::Error + 'static)) -> Response {
    Problem::unavailable("idempotency store failed", e).into_response()
}

/// The middleware's state: the store and the body size the API accepts.
#[derive(Clone)]
pub struct Idempotency {
    pub store: Arc<dyn IdempotencyKeys>,
    pub max_body: usize,
    /// Dates claims, so that keys expire and a stuck claim frees its key.
    pub clock: Arc<dyn Clock>,
}

pub async fn middleware(
    State(Idempotency {
        store,
        max_body,
        clock,
    }): State<Idempotency>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let Some(scope) = scope(&request) else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= MAX_KEY_CHARS && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_owned()
        }
        _ => {
            return Problem::field(
                StatusCode::BAD_REQUEST,
                "invalid-idempotency-key",
                "Idempotency-Key",
                format!("must be 1 to {MAX_KEY_CHARS} visible ASCII characters, without spaces"),
            )
            .into_response();
        }
    };
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, max_body).await {
        Ok(b) => b,
        Err(_) => {
            return Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                format!("the body is larger than {max_body} bytes"),
            )
            .into_response();
        }
    };
    let fingerprint = fingerprint(&parts.method, parts.uri.path(), &body);
    let now = clock.now().timestamp();
    match store.begin(&scope, &key, &fingerprint, now).await {
        Err(e) => return unavailable(&e),
        Ok(Some(Recorded::Done {
            fingerprint: f,
            answer,
        })) if f == fingerprint => {
            return replay(&key, answer).unwrap_or_else(|e| unavailable(&e));
        }
        Ok(Some(Recorded::InFlight { fingerprint: f })) if f == fingerprint => {
            return Problem::new(
                StatusCode::CONFLICT,
                "idempotency-key-in-flight",
                "the first request with this Idempotency-Key is still running; retry shortly",
            )
            .with_retry_after(1)
            .into_response();
        }
        Ok(Some(_)) => {
            return Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key",
                "was already used for a different request; use a new key for a new request",
            )
            .into_response();
        }
        Ok(None) => {}
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = response.into_parts();
    // The API's own answers are small and complete; reading one cannot fail short of a bug.
    let body = match to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return unavailable(&e),
    };
    // Only a decision is worth repeating: a failure on our side must run again on retry.
    if parts.status.is_server_error() || body.len() > MAX_STORED_BODY {
        if let Err(e) = store.abandon(&scope, &key).await {
            tracing::error!(error = %e, "cannot release an idempotency key");
        }
        return Response::from_parts(parts, Body::from(body));
    }
    let answer = StoredAnswer {
        status: parts.status.as_u16(),
        headers: stored_headers(&parts.headers),
        body: body.to_vec(),
    };
    if let Err(e) = store.finish(&scope, &key, &answer).await {
        tracing::error!(error = %e, "cannot keep the answer of an idempotent request");
    }
    Response::from_parts(parts, Body::from(body))
}

/// Keys belong to the caller: the signed-in user, or the holder of an invitation link. A
/// request with neither (or with a token that does not verify) is refused later and keeps no
/// key.
fn scope(request: &Request) -> Option<String> {
    match request.extensions().get::<Authenticated>().map(|a| &a.0) {
        Some(Some(Ok(identity))) => return Some(format!("user:{}", identity.subject)),
        Some(Some(Err(_))) => return None,
        _ => {}
    }
    let token = request.headers().get(super::invitations::TOKEN_HEADER)?;
    Some(format!("link:{}", hex::encode(Sha256::digest(token.as_bytes()))))
}

fn fingerprint(method: &Method, path: &str, body: &Bytes) -> String {
    let mut h = Sha256::new();
    h.update(method.as_str());
    h.update([0]);
    h.update(path);
    h.update([0]);
    h.update(body);
    hex::encode(h.finalize())
}

fn stored_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    REPLAYED_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), value.to_owned()))
        })
        .collect()
}

fn replay(key: &str, answer: StoredAnswer) -> Result<Response, IdempotencyError> {
    let corrupt = |reason: String| IdempotencyError::Corrupt {
        key: key.to_owned(),
        reason,
    };
    let status = StatusCode::from_u16(answer.status).map_err(|e| corrupt(format!("status: {e}")))?;
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        let name = HeaderName::try_from(name).map_err(|e| corrupt(format!("header name: {e}")))?;
        let value = HeaderValue::try_from(value).map_err(|e| corrupt(format!("header {name}: {e}")))?;
        headers.insert(name, value);
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(response)
}
