//! Writes from GraphQL go to the REST command API over HTTP with the caller's credentials:
//! the UI layer composes, the service layer decides (validation, authorization, idempotency).

use reqwest::Method;
use serde_json::Value;

/// The command API as GraphQL reaches it.
#[derive(Clone)]
pub struct CommandApi {
    /// Where `/api` answers, like `http://127.0.0.1:3000/api` or the API Gateway stage URL.
    pub base_url: String,
    pub http: reqwest::Client,
}

/// Why the command API gave no answer a mutation can show.
#[derive(Debug, thiserror::Error)]
pub enum CommandApiError {
    /// Handling: the API is unreachable or timed out; answer UNAVAILABLE, the client retries
    /// (the command may have been applied: a retry with the same idempotency key is safe).
    #[error("the command API could not be reached")]
    Unreachable(#[source] reqwest::Error),
    /// Handling: as `Unreachable`; the answer broke off or is no JSON.
    #[error("the command API answered {status} unreadably")]
    Unreadable {
        status: u16,
        #[source]
        source: reqwest::Error,
    },
    /// Handling: the API failed (5xx, or a status it never answers); answer UNAVAILABLE.
    #[error("the command API failed with {status}")]
    Failed { status: u16 },
}

/// What the command API answered.
pub enum CommandAnswer {
    Done(Value),
    /// A problem+json body: the caller's to fix (4xx).
    Refused {
        status: u16,
        problem: Value,
    },
}

impl CommandApi {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Sends one command request; an Err is a failure to reach the API, an unreadable answer
    /// or a 5xx from it.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        bearer: Option<&str>,
        headers: &[(&str, String)],
    ) -> Result<CommandAnswer, CommandApiError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .timeout(std::time::Duration::from_secs(10));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(CommandApiError::Unreachable)?;
        let status = response.status().as_u16();
        let body: Value = response
            .json()
            .await
            .map_err(|source| CommandApiError::Unreadable { status, source })?;
        match status {
            200..=299 => Ok(CommandAnswer::Done(body)),
            400..=499 => Ok(CommandAnswer::Refused {
                status,
                problem: body,
            }),
            _ => Err(CommandApiError::Failed { status }),
        }
    }
}
