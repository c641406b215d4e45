//! The search index on AWS: one OpenSearch document per event, with the same visibility rules
//! as the local tantivy index (the organizer's own events; invitees of published and cancelled
//! events). Requests are signed with SigV4 for the domain.

use opensearch::auth::Credentials;
use opensearch::http::StatusCode;
use opensearch::http::response::Response;
use opensearch::http::transport::{BuildError, SingleNodeConnectionPool, TransportBuilder};
use opensearch::indices::IndicesCreateParts;
use opensearch::{DeleteParts, IndexParts, OpenSearch, SearchParts};
use serde_json::{Value, json};
use slsplay_aggregates::virtual_event::VirtualEvent;
use slsplay_projections::read_models::projector::timestamp;
use slsplay_projections::search::{
    Hit, SearchEngine, SearchError, Viewer, invitees_who_see, searchable_status,
};

/// Why the OpenSearch domain could not be reached, or what it answered is not usable.
#[derive(Debug, thiserror::Error)]
pub enum OpenSearchError {
    /// Handling: a configuration mistake (`OPENSEARCH_ENDPOINT`); fatal at start-up.
    #[error("the OpenSearch endpoint {endpoint:?} is not a URL")]
    Endpoint {
        endpoint: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Handling: fatal at start-up (the HTTP client cannot be built).
    #[error("building the OpenSearch transport")]
    Transport(#[source] BuildError),
    /// Handling: the domain is unreachable or the connection broke; retry.
    #[error("OpenSearch {what} request failed")]
    Request {
        what: &'static str,
        #[source]
        source: opensearch::Error,
    },
    /// Handling: the domain refused; retry if 5xx or 429, else a bug or a misconfiguration
    /// (signing, permissions, mapping) to look at.
    #[error("OpenSearch answered {what} with {status}: {body}")]
    Status {
        what: &'static str,
        status: StatusCode,
        body: String,
    },
    /// Handling: the connection broke while the answer was read; retry.
    #[error("reading OpenSearch's {status} answer to {what}")]
    Unreadable {
        what: &'static str,
        status: StatusCode,
        #[source]
        source: opensearch::Error,
    },
    /// Handling: the domain answered something a search never answers (a proxy's page, an
    /// incompatible version); retrying does not help, a person must look.
    #[error("OpenSearch answered {what} with no JSON: {body}")]
    NotJson {
        what: &'static str,
        body: String,
        #[source]
        source: serde_json::Error,
    },
    /// Handling: as `NotJson`.
    #[error("OpenSearch answered {what} with {problem}: {body}")]
    Malformed {
        what: &'static str,
        problem: String,
        body: String,
    },
}

impl OpenSearchError {
    fn request(what: &'static str) -> impl FnOnce(opensearch::Error) -> Self {
        move |source| Self::Request { what, source }
    }
}

/// The builder and the APIs see the port's error, with this one as its source.
impl From<OpenSearchError> for SearchError {
    fn from(e: OpenSearchError) -> Self {
        SearchError::Service(Box::new(e))
    }
}

/// The status and body of an answer (the body read whole, whatever the status).
async fn read(what: &'static str, response: Response) -> Result<(StatusCode, String), OpenSearchError> {
    let status = response.status_code();
    let body = response
        .text()
        .await
        .map_err(|source| OpenSearchError::Unreadable { what, status, source })?;
    Ok((status, body))
}

pub struct OpenSearchIndex {
    client: OpenSearch,
    index: String,
}

impl OpenSearchIndex {
    /// `service` is `es` for a managed domain, `aoss` for OpenSearch Serverless.
    pub fn new(
        endpoint: &str,
        index: impl Into<String>,
        credentials: aws_credential_types::provider::SharedCredentialsProvider,
        region: aws_types::region::Region,
        service_name: &str,
    ) -> Result<Self, OpenSearchError> {
        let url = opensearch::http::Url::parse(endpoint).map_err(|e| OpenSearchError::Endpoint {
            endpoint: endpoint.to_owned(),
            source: e.into(),
        })?;
        let transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .auth(Credentials::AwsSigV4(credentials, region))
            .service_name(service_name)
            .build()
            .map_err(OpenSearchError::Transport)?;
        Ok(Self {
            client: OpenSearch::new(transport),
            index: index.into(),
        })
    }

    /// Creates the index with its mapping unless it exists: ids, people and status are
    /// keywords (matched exactly), title and description are text.
    pub async fn ensure_index(&self) -> Result<(), OpenSearchError> {
        const WHAT: &str = "creating the index";
        let mapping = json!({ "mappings": { "properties": {
            "organizer": { "type": "keyword" },
            "invitees": { "type": "keyword" },
            "status": { "type": "keyword" },
            "starts_at": { "type": "date" },
            "title": { "type": "text" },
            "description": { "type": "text" }
        }}});
        let response = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(&self.index))
            .body(mapping)
            .send()
            .await
            .map_err(OpenSearchError::request(WHAT))?;
        let (status, body) = read(WHAT, response).await?;
        if status.is_success() {
            return Ok(());
        }
        // An error answer that is no JSON is no "already exists": it is reported as it came.
        let exists = serde_json::from_str::<Value>(&body).is_ok_and(|error| {
            error.pointer("/error/type").and_then(Value::as_str) == Some("resource_already_exists_exception")
        });
        if exists {
            Ok(())
        } else {
            Err(OpenSearchError::Status {
                what: WHAT,
                status,
                body,
            })
        }
    }

    async fn put_document(&self, event: &VirtualEvent) -> Result<(), OpenSearchError> {
        let Some(status) = searchable_status(event) else {
            const WHAT: &str = "delete";
            let response = self
                .client
                .delete(DeleteParts::IndexId(&self.index, &event.id))
                .send()
                .await
                .map_err(OpenSearchError::request(WHAT))?;
            let code = response.status_code();
            if code.is_success() || code == StatusCode::NOT_FOUND {
                return Ok(());
            }
            let (status, body) = read(WHAT, response).await?;
            return Err(OpenSearchError::Status {
                what: WHAT,
                status,
                body,
            });
        };
        const WHAT: &str = "index";
        let document = json!({
            "organizer": event.organizer,
            "invitees": invitees_who_see(event),
            "title": event.details.title,
            "description": event.details.description,
            "starts_at": timestamp(event.details.starts_at),
            "status": status,
        });
        let response = self
            .client
            .index(IndexParts::IndexId(&self.index, &event.id))
            .body(document)
            .send()
            .await
            .map_err(OpenSearchError::request(WHAT))?;
        if response.status_code().is_success() {
            return Ok(());
        }
        let (status, body) = read(WHAT, response).await?;
        Err(OpenSearchError::Status {
            what: WHAT,
            status,
            body,
        })
    }

    async fn search_documents(
        &self,
        text: &str,
        viewer: &Viewer,
        limit: usize,
    ) -> Result<Vec<Hit>, OpenSearchError> {
        const WHAT: &str = "search";
        let matching = if text.trim().is_empty() {
            json!({ "match_all": {} })
        } else {
            // simple_query_string never fails on what people type.
            json!({ "simple_query_string": { "query": text, "fields": ["title^2", "description"], "default_operator": "and" } })
        };
        let mut visible = vec![json!({ "term": { "organizer": viewer.user_id } })];
        if let Some(email) = &viewer.email {
            visible.push(json!({ "term": { "invitees": email.trim().to_lowercase() } }));
        }
        let query = json!({
            "size": limit.max(1),
            "query": { "bool": {
                "must": [matching],
                "filter": [{ "bool": { "should": visible, "minimum_should_match": 1 } }]
            }},
            "_source": ["title", "starts_at", "status"]
        });
        let response = self
            .client
            .search(SearchParts::Index(&[&self.index]))
            .body(query)
            .send()
            .await
            .map_err(OpenSearchError::request(WHAT))?;
        let (status, body) = read(WHAT, response).await?;
        if !status.is_success() {
            return Err(OpenSearchError::Status {
                what: WHAT,
                status,
                body,
            });
        }
        hits(&body)
    }
}

/// The hits of a search answer; every hit has its `_id` and every field the search asked for
/// (each document has them all), so a missing one is a malformed answer, not an empty field.
fn hits(body: &str) -> Result<Vec<Hit>, OpenSearchError> {
    const WHAT: &str = "search";
    let malformed = |problem: String| OpenSearchError::Malformed {
        what: WHAT,
        problem,
        body: body.to_owned(),
    };
    let answer: Value = serde_json::from_str(body).map_err(|source| OpenSearchError::NotJson {
        what: WHAT,
        body: body.to_owned(),
        source,
    })?;
    let hits = answer
        .pointer("/hits/hits")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no hits.hits array".to_owned()))?;
    hits.iter()
        .enumerate()
        .map(|(i, hit)| {
            let event_id = hit
                .get("_id")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed(format!("hit #{i} without a text _id")))?;
            let field = |name: &str| {
                hit.pointer(&format!("/_source/{name}"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| malformed(format!("hit {event_id} without a text _source.{name}")))
            };
            Ok(Hit {
                event_id: event_id.to_owned(),
                title: field("title")?,
                starts_at: field("starts_at")?,
                status: field("status")?,
            })
        })
        .collect()
}

impl SearchEngine for OpenSearchIndex {
    async fn put(&self, event: &VirtualEvent) -> Result<(), SearchError> {
        Ok(self.put_document(event).await?)
    }

    async fn search(&self, text: &str, viewer: &Viewer, limit: usize) -> Result<Vec<Hit>, SearchError> {
        Ok(self.search_documents(text, viewer, limit).await?)
    }
}
