//! The OpenSearch adapter at the HTTP level (no OpenSearch server can run here): the requests
//! it signs and sends, and how it reads the answers, against a fake domain.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde_json::{Value, json};
use slsplay_aggregates::virtual_event::{
    Created, InvitationIssued, VirtualEvent, VirtualEventFact as F, invitation_id,
};
use slsplay_aws::opensearch::OpenSearchIndex;
use slsplay_projections::search::{SearchEngine, Viewer};

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    authorization: String,
    body: Value,
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn domain(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let seen = Seen {
        method: method.clone(),
        path: uri.path().to_owned(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let creates_before = log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.method == Method::PUT && !s.path.contains("_doc"))
        .count();
    log.lock().unwrap().push(seen.clone());
    let (status, answer) = match (method, seen.path.as_str()) {
        (Method::PUT, p) if !p.contains("_doc") && creates_before == 0 => {
            (StatusCode::OK, json!({ "acknowledged": true }))
        }
        (Method::PUT, p) if !p.contains("_doc") => (
            StatusCode::BAD_REQUEST,
            json!({ "error": { "type": "resource_already_exists_exception" }, "status": 400 }),
        ),
        (Method::PUT | Method::POST, p) if p.contains("/_doc/") => {
            (StatusCode::CREATED, json!({ "result": "created" }))
        }
        (Method::DELETE, _) => (StatusCode::NOT_FOUND, json!({ "result": "not_found" })),
        (Method::POST, p) if p.ends_with("/_search") => (
            StatusCode::OK,
            json!({ "hits": { "hits": [
                { "_id": "ev-wine", "_score": 2.0, "_source": { "title": "Natural wine", "starts_at": "2030-05-15T09:00:00Z", "status": "published" } }
            ]}}),
        ),
        _ => (StatusCode::NOT_FOUND, json!({})),
    };
    (status, [("content-type", "application/json")], answer.to_string())
}

async fn fake_domain() -> (String, Log) {
    let log: Log = Arc::default();
    let app = Router::new().fallback(domain).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), log)
}

fn index(endpoint: &str) -> OpenSearchIndex {
    let credentials = aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
    let provider = aws_credential_types::provider::SharedCredentialsProvider::new(credentials);
    OpenSearchIndex::new(
        endpoint,
        "events",
        provider,
        aws_types::region::Region::new("us-east-1"),
        "es",
    )
    .unwrap()
}

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-05-01T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn event(facts: Vec<F>) -> VirtualEvent {
    let mut event = VirtualEvent::default();
    let created = F::Created(Created {
        event_id: "ev-wine".into(),
        organizer: "cleo".into(),
        title: "Natural wine".into(),
        description: "Orange wines".into(),
        starts_at: at() + chrono::Duration::days(14),
        time_zone: "Europe/Paris".into(),
        duration_minutes: 60,
        capacity: None,
        ticket_price: None,
        meeting_url: "https://meet.example.com/w".into(),
        organizer_contact: None,
        at: at(),
    });
    let issued = |email: &str| InvitationIssued {
        invitation_id: invitation_id("ev-wine", email),
        email: email.into(),
        token_hash: "h".into(),
    };
    let invited = F::GuestsInvited {
        invitations: vec![issued("bob@example.com"), issued("eve@example.com")],
        at: at(),
    };
    for fact in [created, invited].into_iter().chain(facts) {
        event.apply(fact);
    }
    event
}

#[tokio::test]
async fn documents_carry_who_may_see_them_and_requests_are_signed() {
    let (endpoint, log) = fake_domain().await;
    let index = index(&endpoint);
    index.ensure_index().await.unwrap();
    index.ensure_index().await.unwrap(); // already there: fine

    let revoked = F::InvitationRevoked {
        invitation_id: invitation_id("ev-wine", "eve@example.com"),
        at: at(),
    };
    index
        .put(&event(vec![F::Published { at: at() }, revoked]))
        .await
        .unwrap();
    index.put(&event(vec![])).await.unwrap(); // a draft
    index
        .put(&event(vec![F::DraftDeleted { at: at() }]))
        .await
        .unwrap();

    let seen = log.lock().unwrap().clone();
    let paths: Vec<String> = seen.iter().map(|s| format!("{} {}", s.method, s.path)).collect();
    assert_eq!(
        paths,
        [
            "PUT /events",
            "PUT /events",
            "POST /events/_doc/ev-wine",
            "POST /events/_doc/ev-wine",
            "DELETE /events/_doc/ev-wine"
        ]
    );
    assert_eq!(
        seen[0].body.pointer("/mappings/properties/invitees/type"),
        Some(&json!("keyword"))
    );
    let published = &seen[2].body;
    assert_eq!(
        published["invitees"],
        json!(["bob@example.com"]),
        "a revoked guest no longer finds it"
    );
    assert_eq!(
        (published["organizer"].as_str(), published["status"].as_str()),
        (Some("cleo"), Some("published"))
    );
    assert_eq!(seen[3].body["invitees"], json!([]), "guests never find a draft");
    for request in &seen {
        assert!(
            request
                .authorization
                .starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{request:?}"
        );
        assert!(
            request.authorization.contains("/us-east-1/es/aws4_request"),
            "{request:?}"
        );
    }
}

#[tokio::test]
async fn a_search_is_scoped_to_the_viewer_and_its_hits_are_read() {
    let (endpoint, log) = fake_domain().await;
    let viewer = Viewer {
        user_id: "bob-id".into(),
        email: Some(" Bob@Example.com ".into()),
    };
    let hits = index(&endpoint).search("orange wine", &viewer, 5).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(
        (
            hits[0].event_id.as_str(),
            hits[0].title.as_str(),
            hits[0].status.as_str()
        ),
        ("ev-wine", "Natural wine", "published")
    );

    let request = log.lock().unwrap()[0].clone();
    assert_eq!(
        (request.method, request.path.as_str()),
        (Method::POST, "/events/_search")
    );
    let body = request.body;
    assert_eq!(body["size"], 5);
    assert_eq!(
        body.pointer("/query/bool/must/0/simple_query_string/query"),
        Some(&json!("orange wine"))
    );
    let visible = body.pointer("/query/bool/filter/0/bool/should").unwrap();
    assert_eq!(
        visible,
        &json!([{ "term": { "organizer": "bob-id" } }, { "term": { "invitees": "bob@example.com" } }])
    );
}

/// A domain whose every search answers `status` with `body`.
async fn searching_answers(status: StatusCode, body: &'static str) -> String {
    let app =
        Router::new().fallback(move || async move { (status, [("content-type", "application/json")], body) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

async fn search_error(status: StatusCode, body: &'static str) -> String {
    let viewer = Viewer {
        user_id: "bob-id".into(),
        email: None,
    };
    let endpoint = searching_answers(status, body).await;
    match index(&endpoint).search("wine", &viewer, 5).await {
        Ok(hits) => panic!("{body} read as {} hits", hits.len()),
        // The whole chain, as the edge logs it: the port's error keeps OpenSearch's as source.
        Err(e) => slsplay_api::problem::ErrorChain(&e).to_string(),
    }
}

#[tokio::test]
async fn a_malformed_search_answer_is_an_error_not_an_empty_or_blank_result() {
    let cases = [
        (r#"{"took": 1}"#, "no hits.hits array"),
        (r#"{"hits": {"total": 0}}"#, "no hits.hits array"),
        (
            r#"{"hits": {"hits": [{"_source": {"title": "t", "starts_at": "s", "status": "published"}}]}}"#,
            "hit #0 without a text _id",
        ),
        (
            r#"{"hits": {"hits": [{"_id": "ev-1", "_source": {"starts_at": "s", "status": "published"}}]}}"#,
            "hit ev-1 without a text _source.title",
        ),
        (
            r#"{"hits": {"hits": [{"_id": "ev-1"}]}}"#,
            "hit ev-1 without a text _source.title",
        ),
        (
            r#"{"hits": {"hits": [{"_id": "ev-1", "_source": {"title": "t", "starts_at": "s", "status": 3}}]}}"#,
            "hit ev-1 without a text _source.status",
        ),
        ("<html>a proxy</html>", "with no JSON"),
    ];
    for (body, expected) in cases {
        let error = search_error(StatusCode::OK, body).await;
        assert!(error.contains(expected), "{body}: {error}");
    }
}

#[tokio::test]
async fn a_failed_search_names_its_status_and_body_even_when_it_is_no_json() {
    let error = search_error(StatusCode::BAD_GATEWAY, "upstream timed out").await;
    assert!(
        error.contains("OpenSearch answered search with 502 Bad Gateway: upstream timed out"),
        "{error}"
    );
}

#[tokio::test]
async fn an_empty_hits_array_is_no_hits() {
    let endpoint = searching_answers(StatusCode::OK, r#"{"hits": {"hits": []}}"#).await;
    let viewer = Viewer {
        user_id: "bob-id".into(),
        email: None,
    };
    assert!(index(&endpoint).search("", &viewer, 5).await.unwrap().is_empty());
}
