//! The search index on AWS: one OpenSearch document per event, with the same visibility rules
//! as the local tantivy index (the organizer's own events; invitees of published and cancelled
//! events). Requests are signed with SigV4 for the domain.

use opensearch::auth::Credentials;
use opensearch::http::StatusCode;
use opensearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use opensearch::indices::IndicesCreateParts;
use opensearch::{DeleteParts, IndexParts, OpenSearch, SearchParts};
use serde_json::{Value, json};
use slsplay_aggregates::virtual_event::VirtualEvent;
use slsplay_projections::read_models::projector::timestamp;
use slsplay_projections::search::{
    Hit, SearchEngine, SearchError, Viewer, invitees_who_see, searchable_status,
};

pub struct OpenSearchIndex {
    client: OpenSearch,
    index: String,
}

fn service(e: impl std::fmt::Display) -> SearchError {
    SearchError::Service(e.to_string())
}

impl OpenSearchIndex {
    /// `service` is `es` for a managed domain, `aoss` for OpenSearch Serverless.
    pub fn new(
        endpoint: &str,
        index: impl Into<String>,
        credentials: aws_credential_types::provider::SharedCredentialsProvider,
        region: aws_types::region::Region,
        service_name: &str,
    ) -> Result<Self, SearchError> {
        let url = opensearch::http::Url::parse(endpoint).map_err(service)?;
        let transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .auth(Credentials::AwsSigV4(credentials, region))
            .service_name(service_name)
            .build()
            .map_err(service)?;
        Ok(Self {
            client: OpenSearch::new(transport),
            index: index.into(),
        })
    }

    /// Creates the index with its mapping unless it exists: ids, people and status are
    /// keywords (matched exactly), title and description are text.
    pub async fn ensure_index(&self) -> Result<(), SearchError> {
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
            .map_err(service)?;
        let status = response.status_code();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let exists =
            body.pointer("/error/type").and_then(Value::as_str) == Some("resource_already_exists_exception");
        if status.is_success() || exists {
            Ok(())
        } else {
            Err(service(format!("creating the index: {status} {body}")))
        }
    }
}

impl SearchEngine for OpenSearchIndex {
    async fn put(&self, event: &VirtualEvent) -> Result<(), SearchError> {
        let Some(status) = searchable_status(event) else {
            let response = self
                .client
                .delete(DeleteParts::IndexId(&self.index, &event.id))
                .send()
                .await
                .map_err(service)?;
            let code = response.status_code();
            return if code.is_success() || code == StatusCode::NOT_FOUND {
                Ok(())
            } else {
                Err(service(format!("delete: {code}")))
            };
        };
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
            .map_err(service)?;
        let code = response.status_code();
        if code.is_success() {
            Ok(())
        } else {
            Err(service(format!("index: {code}")))
        }
    }

    async fn search(&self, text: &str, viewer: &Viewer, limit: usize) -> Result<Vec<Hit>, SearchError> {
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
            .map_err(service)?;
        let code = response.status_code();
        let body: Value = response.json().await.map_err(service)?;
        if !code.is_success() {
            return Err(service(format!("search: {code} {body}")));
        }
        let hits = body
            .pointer("/hits/hits")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(hits
            .iter()
            .map(|hit| {
                let field = |name: &str| {
                    hit.pointer(&format!("/_source/{name}"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                Hit {
                    event_id: hit
                        .get("_id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    title: field("title"),
                    starts_at: field("starts_at"),
                    status: field("status"),
                }
            })
            .collect())
    }
}
