//! The HTTP Lambdas' composition against moto: the same API and GraphQL routers as the local
//! platform, over DynamoDB (events, read models, idempotency keys) and S3, trusting an OpenID
//! issuer whose keys are fetched over HTTP as Cognito's are.

use std::sync::Arc;

use cqrs_es::persist::PersistedEventRepository;
use serde_json::{Value, json};
use slsplay_aggregates::SystemClock;
use slsplay_aggregates::history::RecordedFact;
use slsplay_aggregates::virtual_event::{VirtualEvent, upcasters};
use slsplay_aws::http_api::{ApiConfig, GraphqlConfig, Trust, api_router, graphql_router};
use slsplay_aws::idempotency::DynamoIdempotency;
use slsplay_commands::store::{DynamoTables, create_tables, dynamo_repository};
use slsplay_local::dev_oidc::{DevOidc, TestIdentity};
use slsplay_projections::builder::{Builder, ReadModels};
use slsplay_projections::read_models::TABLES;
use slsplay_projections::store::dynamo::DynamoReadStore;
use slsplay_tests::moto::moto;

/// Serves `router` on a free port; its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> (u16, Value) {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_api_and_graphql_lambdas_run_on_dynamodb_s3_and_an_oidc_issuer() {
    let sdk = moto().sdk_config();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (event_prefix, read_prefix) = (format!("http{suffix}"), format!("http{suffix}-"));
    let tables = DynamoTables::with_prefix(&event_prefix);
    create_tables(&dynamodb, &tables).await.unwrap();
    let read_models = DynamoReadStore::new(dynamodb.clone(), read_prefix.as_str(), TABLES);
    read_models.create_tables().await.unwrap();
    let idempotency_table = format!("idempotency-{suffix}");
    DynamoIdempotency::new(dynamodb.clone(), &idempotency_table)
        .create_table()
        .await
        .unwrap();
    let bucket = format!("media-{suffix}");
    let http = reqwest::Client::new();
    let made = http
        .put(format!("{}/{bucket}", moto().endpoint))
        .send()
        .await
        .unwrap();
    assert!(
        made.status().is_success(),
        "creating the bucket: {}",
        made.status()
    );

    // The issuer: its JWKS served over HTTP, like Cognito's.
    let dir = tempfile::tempdir().unwrap();
    let issuer = Arc::new(
        DevOidc::open(
            &dir.path().join("key"),
            "https://cognito.example",
            Arc::new(SystemClock),
        )
        .unwrap(),
    );
    let jwks = issuer.jwks();
    let jwks_url = serve(axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || async move { axum::Json(jwks) }),
    ))
    .await;
    let trust = Trust {
        oidc: issuer.settings(),
        jwks_url: format!("{jwks_url}/jwks.json"),
    };
    let token = issuer
        .token_for(
            &TestIdentity {
                email: "olivia@example.com".into(),
                name: None,
                provider: "Google".into(),
            },
            600,
        )
        .unwrap();

    let api_config = ApiConfig {
        event_table_prefix: event_prefix,
        read_model_table_prefix: read_prefix.clone(),
        idempotency_table,
        invitation_secret: vec![9; 32],
        media_bucket: bucket.clone(),
        media_base_url: "https://media.example".into(),
        s3_endpoint: Some(moto().endpoint.clone()),
        trust: trust.clone(),
    };
    let api = serve(api_router(&sdk, &api_config).unwrap()).await;
    let new_event = json!({
        "title": "On AWS",
        "starts_at": (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339(),
        "time_zone": "America/New_York",
        "duration_minutes": 30,
        "meeting_url": "https://meet.example/aws",
    });
    let post = reqwest::Method::POST;
    let (status, created) = call(
        &http,
        post.clone(),
        &format!("{api}/api/events"),
        &token,
        Some(new_event.clone()),
        Some("k1"),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, again) = call(
        &http,
        post.clone(),
        &format!("{api}/api/events"),
        &token,
        Some(new_event),
        Some("k1"),
    )
    .await;
    assert_eq!(
        (status, &again),
        (201, &created),
        "the retry got the first answer from DynamoDB"
    );
    let event_id = created["event_id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &http,
        post.clone(),
        &format!("{api}/api/events"),
        "forged",
        Some(json!({})),
        None,
    )
    .await;
    assert_eq!(status, 401);

    // Media: the presigned POST goes to S3 (moto), the attach reads the object back.
    let (status, form) = call(
        &http,
        post.clone(),
        &format!("{api}/api/events/{event_id}/media/uploads"),
        &token,
        Some(json!({ "kind": "photo", "content_type": "image/webp" })),
        None,
    )
    .await;
    assert_eq!(status, 201, "{form}");
    assert_eq!(form["url"], format!("{}/{bucket}", moto().endpoint));
    let mut upload = reqwest::multipart::Form::new();
    for (name, value) in form["fields"].as_object().unwrap() {
        upload = upload.text(name.clone(), value.as_str().unwrap().to_owned());
    }
    let photo = vec![7u8; 2048];
    upload = upload.part(
        "file",
        reqwest::multipart::Part::bytes(photo).file_name("cover.webp"),
    );
    let uploaded = http
        .post(form["url"].as_str().unwrap())
        .multipart(upload)
        .send()
        .await
        .unwrap();
    assert!(uploaded.status().is_success(), "S3 upload: {}", uploaded.status());
    let key = form["object_key"].as_str().unwrap();
    let (status, attached) = call(
        &http,
        post.clone(),
        &format!("{api}/api/events/{event_id}/media"),
        &token,
        Some(json!({ "kind": "photo", "object_key": key })),
        None,
    )
    .await;
    assert_eq!(status, 200, "{attached}");
    let missing = format!("events/{event_id}/photo/never-uploaded");
    let (status, _) = call(
        &http,
        post,
        &format!("{api}/api/events/{event_id}/media"),
        &token,
        Some(json!({ "kind": "photo", "object_key": missing })),
        None,
    )
    .await;
    assert_eq!(status, 422);

    // The read model builder (the projection Lambda's work) catches up from the event store.
    let events = dynamo_repository(dynamodb.clone(), &tables);
    let builder = Builder::new(
        ReadModels,
        read_models,
        dynamo_repository(dynamodb.clone(), &tables),
        upcasters(),
    );
    for fact in events.get_events::<VirtualEvent>(&event_id).await.unwrap() {
        builder.handle(RecordedFact::new(None, fact)).await.unwrap();
    }
    let (status, page) = call(
        &http,
        reqwest::Method::GET,
        &format!("{api}/api/events/{event_id}"),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["cover_photo_url"], format!("https://media.example/{key}"));
    assert_eq!(page["version"], 2);

    // GraphQL reads the same read models and writes through the API.
    let graphql_config = GraphqlConfig {
        read_model_table_prefix: read_prefix,
        media_base_url: "https://media.example".into(),
        command_api_url: format!("{api}/api"),
        trust,
    };
    let graphql = serve(graphql_router(&sdk, &graphql_config)).await;
    let query = |q: String| {
        let (http, graphql, token) = (http.clone(), graphql.clone(), token.clone());
        async move {
            http.post(format!("{graphql}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": q }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let mine = query("{ viewer { events { edges { node { title coverPhotoUrl } } } } }".into()).await;
    assert_eq!(
        mine["data"]["viewer"]["events"]["edges"][0]["node"]["title"], "On AWS",
        "{mine}"
    );
    let published = query(format!(
        "mutation {{ publishEvent(eventId: \"{event_id}\") {{ version userErrors {{ code }} }} }}"
    ))
    .await;
    assert_eq!(published["data"]["publishEvent"]["version"], 3, "{published}");
    let introspection = query("{ __schema { queryType { name } } }".into()).await;
    assert_eq!(
        introspection["data"]["__schema"],
        Value::Null,
        "introspection is off on AWS"
    );
}

/// The web cache's pages on S3 (moto): put with the type and caching CloudFront passes on,
/// replaced whole, removed, and removing a missing page succeeds.
#[tokio::test]
async fn the_web_caches_pages_are_put_replaced_and_removed_on_s3() {
    use slsplay_projections::web_cache::WebPages;

    let sdk = moto().sdk_config();
    let bucket = format!("web-{}", uuid::Uuid::new_v4().simple());
    let http = reqwest::Client::new();
    let made = http
        .put(format!("{}/{bucket}", moto().endpoint))
        .send()
        .await
        .unwrap();
    assert!(
        made.status().is_success(),
        "creating the bucket: {}",
        made.status()
    );
    // Readable by anyone, as CloudFront reads it (through its origin access on AWS).
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                        "Resource": format!("arn:aws:s3:::{bucket}/*") }],
    });
    let public = http
        .put(format!("{}/{bucket}?policy", moto().endpoint))
        .body(policy.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        public.status().is_success(),
        "the bucket policy: {}",
        public.status()
    );
    let pages = slsplay_aws::s3::S3Pages {
        bucket: bucket.clone(),
        region: sdk.region().unwrap().to_string(),
        endpoint: Some(moto().endpoint.clone()),
        credentials: sdk.credentials_provider().unwrap(),
        http: http.clone(),
        clock: Arc::new(SystemClock),
    };
    let url = format!("{}/{bucket}/e/share1", moto().endpoint);

    pages
        .put("e/share1", "<!doctype html><title>first</title>")
        .await
        .unwrap();
    pages
        .put("e/share1", "<!doctype html><title>Gala</title>")
        .await
        .unwrap();
    let served = http.get(&url).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(served.headers()["cache-control"], "no-cache");
    assert_eq!(served.text().await.unwrap(), "<!doctype html><title>Gala</title>");

    pages.remove("e/share1").await.unwrap();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 404);
    pages.remove("e/share1").await.unwrap();
    assert!(pages.put("../escape", "x").await.is_err(), "paths are checked");
}
