//! Request bodies read field by field, so a request with several wrong fields hears about all
//! of them at once, not only the first one serde would stop at.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use slsplay_aggregates::validation::ValidationErrors;

use super::problem::Problem;

/// A JSON object body. Anything else is a 400/415 problem before a handler runs.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status();
            Problem::new(status, "unreadable-body", e.body_text())
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "the body must be a JSON object",
            )),
            Err(e) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                format!("the body is not valid JSON: {e}"),
            )),
        }
    }
}

/// Reads typed fields out of a JSON object, collecting every failure. Each field read is
/// taken out, so what is left at the end is unknown.
pub struct Fields {
    map: Map<String, Value>,
    pub errors: ValidationErrors,
}

impl Fields {
    pub fn new(JsonObject(map): JsonObject) -> Self {
        Self {
            map,
            errors: ValidationErrors::default(),
        }
    }

    fn take(&mut self, name: &'static str) -> Option<Value> {
        self.map.remove(name)
    }

    /// Present and not null.
    fn present(&mut self, name: &'static str, required: bool) -> Option<Value> {
        match self.take(name) {
            Some(Value::Null) | None => {
                if required {
                    self.errors.add(name, "is required");
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    fn typed<T>(
        &mut self,
        name: &'static str,
        value: Value,
        parse: impl FnOnce(Value) -> Option<T>,
        what: &str,
    ) -> Option<T> {
        let parsed = parse(value);
        if parsed.is_none() {
            self.errors.add(name, format!("must be {what}"));
        }
        parsed
    }

    pub fn string(&mut self, name: &'static str) -> Option<String> {
        let v = self.present(name, true)?;
        self.typed(name, v, as_string, "a string")
    }

    pub fn opt_string(&mut self, name: &'static str) -> Option<String> {
        let v = self.present(name, false)?;
        self.typed(name, v, as_string, "a string")
    }

    pub fn u32(&mut self, name: &'static str) -> Option<u32> {
        let v = self.present(name, true)?;
        self.typed(name, v, as_u32, "a whole number from 0 to 4294967295")
    }

    pub fn opt_u32(&mut self, name: &'static str) -> Option<u32> {
        let v = self.present(name, false)?;
        self.typed(name, v, as_u32, "a whole number from 0 to 4294967295")
    }

    pub fn u64(&mut self, name: &'static str) -> Option<u64> {
        let v = self.present(name, true)?;
        self.typed(name, v, |v| v.as_u64(), "a whole number of at least 0")
    }

    /// Absent: `None`; `null`: `Some(None)` (a removal); a value: `Some(Some(_))`.
    pub fn nullable_u32(&mut self, name: &'static str) -> Option<Option<u32>> {
        match self.take(name)? {
            Value::Null => Some(None),
            v => self.typed(name, v, as_u32, "a whole number or null").map(Some),
        }
    }

    pub fn time(&mut self, name: &'static str) -> Option<DateTime<Utc>> {
        let v = self.present(name, true)?;
        self.typed(
            name,
            v,
            as_time,
            "an RFC 3339 date-time with offset, like 2030-05-01T18:00:00Z",
        )
    }

    pub fn opt_time(&mut self, name: &'static str) -> Option<DateTime<Utc>> {
        let v = self.present(name, false)?;
        self.typed(
            name,
            v,
            as_time,
            "an RFC 3339 date-time with offset, like 2030-05-01T18:00:00Z",
        )
    }

    pub fn strings(&mut self, name: &'static str) -> Option<Vec<String>> {
        let v = self.present(name, true)?;
        self.typed(
            name,
            v,
            |v| match v {
                Value::Array(items) => items.into_iter().map(as_string).collect(),
                _ => None,
            },
            "an array of strings",
        )
    }

    /// A nested object, read by `read` with its own field names prefixed by `name.`.
    pub fn object<T>(
        &mut self,
        name: &'static str,
        required: bool,
        read: impl FnOnce(&mut Fields) -> Option<T>,
    ) -> Option<T> {
        let v = self.present(name, required)?;
        let Value::Object(map) = v else {
            self.errors.add(name, "must be an object");
            return None;
        };
        let mut inner = Fields::new(JsonObject(map));
        let value = read(&mut inner);
        inner.reject_unknown();
        for e in inner.errors.0 {
            self.errors.add(format!("{name}.{}", e.field), e.message);
        }
        value
    }

    /// Present in the body (even as null).
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    fn reject_unknown(&mut self) {
        for (k, _) in std::mem::take(&mut self.map) {
            self.errors.add(k, "is not a field of this request");
        }
    }

    /// The value when every field was readable; else a 422 naming each failing field.
    pub fn finish<T>(mut self, value: Option<T>) -> Result<T, Problem> {
        self.reject_unknown();
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(Problem::invalid(self.errors)),
        }
    }
}

fn as_string(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn as_u32(v: Value) -> Option<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok())
}

fn as_time(v: Value) -> Option<DateTime<Utc>> {
    let s = as_string(v)?;
    DateTime::parse_from_rfc3339(&s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Query parameters, with a problem+json 400 naming the parameter when they do not parse.
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query).map(Self).map_err(|e| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                format!("the query string is not valid: {e}"),
            )
        })
    }
}

/// The `{event_id}` of a route. Ids the API could never have made are the 404 of a missing
/// event at once, before they reach a store that would refuse them (DynamoDB keys have
/// limits of their own).
pub struct EventId(pub String);

/// What an event or invitation id may be: 1 to 64 letters, digits, `-` or `_` (events get
/// UUIDs; invitations `inv_` and a hash).
pub fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for EventId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Problem> {
        let axum::extract::Path(params) =
            axum::extract::Path::<std::collections::HashMap<String, String>>::from_request_parts(
                parts, state,
            )
            .await
            .map_err(|_| Problem::not_found())?;
        let id = params.get("event_id").cloned().unwrap_or_default();
        let other_ids_plausible = params.values().all(|v| plausible_id(v));
        if plausible_id(&id) && other_ids_plausible {
            Ok(Self(id))
        } else {
            Err(Problem::not_found())
        }
    }
}
