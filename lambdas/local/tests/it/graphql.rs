//! The GraphQL API: in-process for its rules (batching, limits, authorization), and against
//! the running platform for the path a user takes (writes through the REST API, reads from
//! the read models).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::support::{Dev, token};
use serde_json::{Value, json};
use slsplay_api::auth::Identity;
use slsplay_graphql::commands::CommandApi;
use slsplay_graphql::loaders::{self, EventLoader, InvitationLoader};
use slsplay_graphql::{ApiSchema, GraphqlMode, Services, Viewer};
use slsplay_local::blobs::LocalBlobs;
use slsplay_projections::read_models::{EventPage, EventStatus, InvitationByEmail, RsvpStatus};
use slsplay_projections::store::sqlite::{SqliteQueries, SqliteReadStore};
use slsplay_projections::store::{Queries, ReadStore, ReadTx};

struct InProcess {
    schema: ApiSchema,
    queries: Queries,
    _dir: tempfile::TempDir,
}

/// A schema over a read model file holding `events` events, all of them inviting `guest`.
async fn in_process(events: usize, mode: GraphqlMode) -> InProcess {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("read_models.sqlite3");
    let store = SqliteReadStore::open(&path).unwrap();
    let mut tx = store.begin().await.unwrap();
    for i in 0..events {
        let event_id = format!("event-{i:03}");
        tx.put(EventPage {
            event_id: event_id.clone(),
            organizer: "organizer".into(),
            title: format!("Event {i}"),
            status: EventStatus::Published,
            version: 3,
            ..EventPage::default()
        })
        .await
        .unwrap();
        tx.put(InvitationByEmail {
            email: "guest@example.com".into(),
            event_id,
            invitation_id: format!("inv-{i}"),
            title: format!("Event {i}"),
            event_status: EventStatus::Published,
            rsvp: RsvpStatus::Invited,
            ..InvitationByEmail::default()
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let queries = Queries::Sqlite(SqliteQueries::open(&path).unwrap());
    let services = Services {
        queries: queries.clone(),
        blobs: Arc::new(LocalBlobs::new(
            dir.path().join("blobs"),
            vec![7; 32],
            "http://127.0.0.1:9",
            Arc::new(slsplay_aggregates::SystemClock),
        )),
        commands: CommandApi::new("http://127.0.0.1:9/api"),
    };
    InProcess {
        schema: slsplay_graphql::schema(services, mode),
        queries,
        _dir: dir,
    }
}

fn someone(subject: &str, email: &str) -> Option<Identity> {
    Some(Identity {
        subject: subject.into(),
        verified_email: Some(email.into()),
        name: None,
    })
}

impl InProcess {
    /// Runs `query` as `identity`; returns the answer and how many event batches were read.
    async fn run(&self, query: &str, identity: Option<Identity>) -> (Value, usize) {
        let (answer, events, _) = self.run_counting(query, identity).await;
        (answer, events)
    }

    /// Also counts the batches of invitations read.
    async fn run_counting(&self, query: &str, identity: Option<Identity>) -> (Value, usize, usize) {
        let (events, invitations) = (
            EventLoader::new(self.queries.clone()),
            InvitationLoader::new(self.queries.clone()),
        );
        let counts = (events.batches.clone(), invitations.batches.clone());
        let request = loaders::per_request(
            async_graphql::Request::new(query).data(Viewer {
                identity,
                bearer: None,
            }),
            events,
            invitations,
        );
        let response = self.schema.execute(request).await;
        (
            serde_json::to_value(&response).unwrap(),
            counts.0.load(Ordering::SeqCst),
            counts.1.load(Ordering::SeqCst),
        )
    }
}

const DEV: GraphqlMode = GraphqlMode { introspection: true };
const PROD: GraphqlMode = GraphqlMode { introspection: false };

#[tokio::test]
async fn an_event_reads_the_viewers_invitation_once_for_all_its_fields() {
    let api = in_process(1, DEV).await;
    let query = "{ event(eventId: \"event-000\") { title viewerRsvp meetingUrl } }";
    let (answer, _, invitations) = api
        .run_counting(query, someone("guest", "guest@example.com"))
        .await;
    assert_eq!(answer["data"]["event"]["viewerRsvp"], "invited", "{answer}");
    assert_eq!(
        invitations, 1,
        "visibility, the answer and the link read the invitation in {invitations} batches"
    );
}

#[tokio::test]
async fn a_page_of_invitations_reads_its_events_in_one_batch() {
    let api = in_process(30, DEV).await;
    let query = "{ viewer { invitations(first: 25) { edges { node { rsvp event { title meetingUrl } } } pageInfo { hasNextPage endCursor } } } }";
    let (answer, batches) = api.run(query, someone("guest", "guest@example.com")).await;
    let edges = answer["data"]["viewer"]["invitations"]["edges"]
        .as_array()
        .unwrap();
    assert_eq!(edges.len(), 25, "{answer}");
    assert_eq!(edges[24]["node"]["event"]["title"], "Event 24");
    assert_eq!(batches, 1, "25 events were read in {batches} batches");
    assert_eq!(
        answer["data"]["viewer"]["invitations"]["pageInfo"]["hasNextPage"],
        true
    );
    let cursor = answer["data"]["viewer"]["invitations"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap();
    let next = format!(
        "{{ viewer {{ invitations(first: 25, after: \"{cursor}\") {{ edges {{ node {{ event {{ title }} }} }} }} }} }}"
    );
    let (answer, _) = api.run(&next, someone("guest", "guest@example.com")).await;
    assert_eq!(
        answer["data"]["viewer"]["invitations"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[tokio::test]
async fn nodes_are_found_by_global_id_and_only_by_who_may_see_them() {
    let api = in_process(1, DEV).await;
    let (answer, _) = api
        .run(
            "{ event(eventId: \"event-000\") { id title viewerIsOrganizer } }",
            someone("organizer", "o@example.com"),
        )
        .await;
    let id = answer["data"]["event"]["id"].as_str().unwrap().to_owned();
    let node = format!("{{ node(id: \"{id}\") {{ id ... on Event {{ title }} }} }}");
    let (found, _) = api.run(&node, someone("guest", "guest@example.com")).await;
    assert_eq!(found["data"]["node"]["title"], "Event 0");
    let (hidden, _) = api.run(&node, someone("stranger", "stranger@example.com")).await;
    assert_eq!(hidden["data"]["node"], Value::Null);
    let (anonymous, _) = api.run("{ viewer { subject } }", None).await;
    assert_eq!(anonymous["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let (guest_list, _) = api
        .run(
            "{ event(eventId: \"event-000\") { guests { edges { node { email } } } } }",
            someone("guest", "guest@example.com"),
        )
        .await;
    assert_eq!(guest_list["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn expensive_deep_or_alias_heavy_operations_are_refused_before_they_run() {
    let api = in_process(1, DEV).await;
    let who = || someone("guest", "guest@example.com");
    // 11 levels: past the limit of a deployed API (introspection is off there, but depth is
    // checked before anything runs).
    let deep = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } }";
    let (answer, batches) = in_process(1, PROD).await.run(deep, who()).await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nested too deep"),
        "{answer}"
    );
    assert_eq!(batches, 0, "a refused query read nothing");
    let costly = "{ viewer { invitations(first: 100) { edges { node { event { guests(first: 100) { edges { node { email } } } } } } } } }";
    let (answer, _) = api.run(costly, who()).await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex"),
        "{answer}"
    );
    let aliases: String = (0..31).map(|i| format!("a{i}: viewer {{ subject }} ")).collect();
    let (answer, _) = api.run(&format!("{{ {aliases} }}"), who()).await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("aliases"),
        "{answer}"
    );
    let (answer, _) = api.run("{ viewer { emial } }", who()).await;
    assert!(
        !answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{answer}"
    );
}

#[tokio::test]
async fn introspection_is_for_local_development_only() {
    let query = "{ __schema { queryType { name } } }";
    let (answer, _) = in_process(0, DEV).await.run(query, None).await;
    assert_eq!(answer["data"]["__schema"]["queryType"]["name"], "Query");
    let (answer, _) = in_process(0, PROD).await.run(query, None).await;
    assert_eq!(answer["data"]["__schema"], Value::Null, "{answer}");
    // The introspection query of GraphiQL (and schemathesis) nests TypeRef seven deep.
    let full = "{ __schema { types { name fields { name type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } } } }";
    let (answer, _) = in_process(0, DEV).await.run(full, None).await;
    assert!(answer["data"]["__schema"]["types"].is_array(), "{answer}");
}

async fn graphql(port: u16, token: &str, query: &str) -> Value {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_organizer_sees_who_accepted_through_graphql() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start(&data);
    let organizer = token(&data, "olivia@example.com", &[]);
    let guest = token(&data, "gus@example.com", &[]);
    let starts = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let created = graphql(
        dev.port,
        &organizer,
        &format!(
            "mutation {{ createEvent(input: {{ title: \"Tasting\", startsAt: \"{starts}\", timeZone: \"Europe/Rome\", durationMinutes: 45, capacity: 1, meetingUrl: \"https://meet.example/t\" }}) {{ eventId userErrors {{ message }} }} }}"
        ),
    )
    .await;
    let event_id = created["data"]["createEvent"]["eventId"]
        .as_str()
        .expect("created")
        .to_owned();
    // A mutation retried with its idempotency key gets the first answer: no second event.
    let create_once = format!(
        "mutation {{ createEvent(idempotencyKey: \"gala-1\", input: {{ title: \"Gala\", startsAt: \"{starts}\", timeZone: \"UTC\", durationMinutes: 30, meetingUrl: \"https://meet.example/g\" }}) {{ eventId }} }}"
    );
    let first = graphql(dev.port, &organizer, &create_once).await;
    let retry = graphql(dev.port, &organizer, &create_once).await;
    assert_eq!(
        first["data"]["createEvent"]["eventId"], retry["data"]["createEvent"]["eventId"],
        "{retry}"
    );
    let invite = format!(
        "mutation {{ p: publishEvent(eventId: \"{event_id}\") {{ userErrors {{ code }} }} i: inviteGuests(eventId: \"{event_id}\", emails: [\"gus@example.com\", \"zoe@example.com\"]) {{ version userErrors {{ code }} }} }}"
    );
    let invited = graphql(dev.port, &organizer, &invite).await;
    assert_eq!(invited["data"]["i"]["userErrors"], json!([]), "{invited}");

    // A refusal comes back as a user error naming the field, not as a failure.
    let refused = graphql(
        dev.port,
        &guest,
        &format!("mutation {{ cancelEvent(eventId: \"{event_id}\", message: \"\") {{ userErrors {{ field code }} }} }}"),
    )
    .await;
    assert_eq!(
        refused["data"]["cancelEvent"]["userErrors"][0]["field"], "message",
        "{refused}"
    );

    // The guest answers once their invitation shows in their list (read models trail commands).
    let mine = "{ viewer { invitations(first: 5) { edges { node { invitationId } } } } }";
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = graphql(dev.port, &guest, mine).await;
        if answer["data"]["viewer"]["invitations"]["edges"][0]["node"]["invitationId"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "{answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let accepted = graphql(
        dev.port,
        &guest,
        &format!("mutation {{ rsvp(eventId: \"{event_id}\", answer: ACCEPT) {{ userErrors {{ code }} event {{ meetingUrl viewerRsvp }} }} }}"),
    )
    .await;
    assert_eq!(
        accepted["data"]["rsvp"]["event"]["viewerRsvp"], "attending",
        "{accepted}"
    );
    assert_eq!(
        accepted["data"]["rsvp"]["event"]["meetingUrl"],
        "https://meet.example/t"
    );

    let list = format!(
        "{{ event(eventId: \"{event_id}\") {{ attending guests(first: 10) {{ edges {{ node {{ id email rsvp }} }} }} }} }}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let guests = loop {
        let answer = graphql(dev.port, &organizer, &list).await;
        if answer["data"]["event"]["attending"] == 1 {
            break answer["data"]["event"]["guests"]["edges"].clone();
        }
        assert!(Instant::now() < deadline, "{answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let seen: Vec<(String, String)> = guests
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["email"].as_str().unwrap().into(),
                e["node"]["rsvp"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        seen.contains(&("gus@example.com".into(), "attending".into())),
        "{seen:?}"
    );
    assert!(
        seen.contains(&("zoe@example.com".into(), "invited".into())),
        "{seen:?}"
    );
    let bad = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/graphql", dev.port))
        .bearer_auth("forged")
        .json(&json!({ "query": "{ viewer { subject } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    dev.interrupt();
}

#[tokio::test]
async fn the_organizer_uploads_a_cover_photo_through_a_presigned_form_from_graphql() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start(&data);
    let organizer = token(&data, "olivia@example.com", &[]);
    let stranger = token(&data, "sam@example.com", &[]);
    let starts = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let created = graphql(
        dev.port,
        &organizer,
        &format!(
            "mutation {{ createEvent(input: {{ title: \"Cover\", startsAt: \"{starts}\", timeZone: \"UTC\", durationMinutes: 30, meetingUrl: \"https://meet.example/c\" }}) {{ eventId }} }}"
        ),
    )
    .await;
    let event_id = created["data"]["createEvent"]["eventId"]
        .as_str()
        .expect("created")
        .to_owned();
    let presign = |kind: &str, content_type: &str| {
        format!(
            "mutation {{ presignUpload(eventId: \"{event_id}\", kind: {kind}, contentType: \"{content_type}\") {{ upload {{ url fields {{ name value }} objectKey maxBytes }} userErrors {{ field code }} }} }}"
        )
    };

    let wrong_type = graphql(dev.port, &organizer, &presign("PHOTO", "video/mp4")).await;
    assert_eq!(
        wrong_type["data"]["presignUpload"],
        json!({ "upload": null, "userErrors": [{ "field": "contentType", "code": "invalid-request" }] }),
        "{wrong_type}"
    );
    let not_theirs = graphql(dev.port, &stranger, &presign("PHOTO", "image/png")).await;
    assert_eq!(
        not_theirs["data"]["presignUpload"]["upload"],
        Value::Null,
        "{not_theirs}"
    );
    assert_eq!(
        not_theirs["data"]["presignUpload"]["userErrors"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let answer = graphql(dev.port, &organizer, &presign("PHOTO", "image/png")).await;
    let form = &answer["data"]["presignUpload"]["upload"];
    assert_eq!(form["maxBytes"], 10 * 1024 * 1024, "{answer}");
    let mut upload = reqwest::multipart::Form::new();
    for field in form["fields"].as_array().unwrap() {
        upload = upload.text(
            field["name"].as_str().unwrap().to_owned(),
            field["value"].as_str().unwrap().to_owned(),
        );
    }
    let png = b"\x89PNG\r\n\x1a\n a cover".to_vec();
    upload = upload.part(
        "file",
        reqwest::multipart::Part::bytes(png.clone()).file_name("cover.png"),
    );
    let uploaded = reqwest::Client::new()
        .post(form["url"].as_str().unwrap())
        .multipart(upload)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 204);

    let key = form["objectKey"].as_str().unwrap();
    let attach = |kind: &str| {
        format!(
            "mutation {{ attachMedia(eventId: \"{event_id}\", kind: {kind}, objectKey: \"{key}\", expectedVersion: 1) {{ version userErrors {{ field }} }} }}"
        )
    };
    // A photo's key does not attach as the video.
    let as_video = graphql(dev.port, &organizer, &attach("VIDEO")).await;
    assert_eq!(
        as_video["data"]["attachMedia"]["userErrors"][0]["field"], "objectKey",
        "{as_video}"
    );
    let attached = graphql(dev.port, &organizer, &attach("PHOTO")).await;
    assert_eq!(
        attached["data"]["attachMedia"],
        json!({ "version": 2, "userErrors": [] }),
        "{attached}"
    );

    let cover = format!("{{ event(eventId: \"{event_id}\") {{ coverPhotoUrl }} }}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = loop {
        let answer = graphql(dev.port, &organizer, &cover).await;
        if let Some(url) = answer["data"]["event"]["coverPhotoUrl"].as_str() {
            break url.to_owned();
        }
        assert!(Instant::now() < deadline, "{answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let served = reqwest::get(&url).await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), png.as_slice());
    dev.interrupt();
}

#[tokio::test]
async fn a_body_past_the_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start(&data);
    let url = format!("http://127.0.0.1:{}/graphql", dev.port);
    let client = reqwest::Client::new();
    let code = |answer: &Value| answer["errors"][0]["extensions"]["code"].clone();

    // An operation padded to just under the limit is read and answered.
    let padding = " ".repeat(slsplay_graphql::limits::MAX_BODY_BYTES - 200);
    let fits = client
        .post(&url)
        .json(&json!({ "query": format!("{{ __typename{padding} }}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(fits.status(), 200);
    assert_eq!(fits.json::<Value>().await.unwrap()["data"]["__typename"], "Query");

    // Declared too long, with or without a token: 413 from the length alone, the body unread.
    let big = format!("{{\"query\": \"{{ __typename{} }}\"}}", " ".repeat(200 * 1024));
    for bearer in [None, Some(token(&data, "olivia@example.com", &[]))] {
        let mut request = client
            .post(&url)
            .header("content-type", "application/json")
            .body(big.clone());
        if let Some(bearer) = &bearer {
            request = request.bearer_auth(bearer);
        }
        let refused = request.send().await.unwrap();
        assert_eq!(refused.status(), 413, "token: {}", bearer.is_some());
        assert_eq!(refused.headers()["connection"], "close");
        assert_eq!(code(&refused.json().await.unwrap()), "PAYLOAD_TOO_LARGE");
    }

    // Without a declared length (chunked), the read stops at the limit.
    let port = dev.port;
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let half = format!("{:x}\r\n{}\r\n", 34 * 1024, " ".repeat(34 * 1024));
        let request = format!(
            "POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
             transfer-encoding: chunked\r\n\r\n{half}{half}0\r\n\r\n"
        );
        tcp.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("PAYLOAD_TOO_LARGE"), "{answer}");

    // What cannot be parsed is a GraphQL error too.
    let garbled = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"query\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(garbled.status(), 400);
    assert_eq!(code(&garbled.json().await.unwrap()), "BAD_REQUEST");
    dev.interrupt();
}
