//! The REST API as its clients use it: real HTTP against `slsplay dev`, tokens from
//! `slsplay dev-token`, media through the blob store's form upload, links from the mail outbox.

use std::time::{Duration, Instant};

use crate::support::{Dev, token};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub(crate) struct Api {
    base: String,
    client: reqwest::Client,
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    headers: HeaderMap,
    pub(crate) body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A problem's failing field names.
    fn fields(&self) -> Vec<&str> {
        self.body["errors"]
            .as_array()
            .map(|e| e.iter().filter_map(|f| f["field"].as_str()).collect())
            .unwrap_or_default()
    }
}

impl Api {
    pub(crate) fn new(dev: &Dev) -> Self {
        Self {
            base: format!("http://127.0.0.1:{}", dev.port),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            assert_eq!(
                headers.get("content-type").unwrap(),
                "application/problem+json",
                "{path}: every error is a problem: {body}"
            );
            assert_eq!(body["status"], status, "{body}");
        }
        Answer {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None, &[]).await
    }

    pub(crate) async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(&body), &[]).await
    }

    /// Reads until the read models show what `ready` waits for (they trail the commands).
    async fn eventually(&self, path: &str, token: &str, ready: impl Fn(&Answer) -> bool) -> Answer {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let answer = self.get(path, token).await;
            if ready(&answer) {
                return answer;
            }
            assert!(
                Instant::now() < deadline,
                "{path} never got there: {} {}",
                answer.status,
                answer.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub(crate) fn new_event(title: &str) -> Value {
    json!({
        "title": title,
        "description": "An evening with the founders",
        "starts_at": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
        "time_zone": "Europe/Paris",
        "duration_minutes": 90,
        "capacity": 10,
        "meeting_url": "https://meet.example/founders",
    })
}

/// Creates `event`, publishes it and invites `emails`, as `organizer`: the event's id.
pub(crate) async fn published_with_guests(
    api: &Api,
    organizer: &str,
    event: Value,
    emails: &[&str],
) -> String {
    let created = api.post("/api/events", organizer, event).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let event_id = created.body["event_id"].as_str().unwrap().to_owned();
    let published = api
        .post(&format!("/api/events/{event_id}/publish"), organizer, json!({}))
        .await;
    assert_eq!(published.status, 200, "{}", published.body);
    let invited = api
        .post(
            &format!("/api/events/{event_id}/invitations"),
            organizer,
            json!({ "emails": emails }),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.body);
    event_id
}

/// The secret of a guest's personal link, from the invitation email in the outbox.
pub(crate) async fn invitation_token(api: &Api, email: &str, event_id: &str) -> String {
    let link = invitation_link(api, email, event_id).await;
    let marker = format!("#{event_id}.");
    let start = link.find(&marker).expect("the event and token in the fragment") + marker.len();
    link[start..].to_owned()
}

/// A guest's personal link as the invitation email in the outbox has it:
/// `{public url}/e/{share id}#{event id}.{token}`.
pub(crate) async fn invitation_link(api: &Api, email: &str, event_id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let id = loop {
        let list: Value = api
            .client
            .get(format!("{}/dev/mail.json", api.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let found = list
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["recipient"] == email && m["event_id"] == event_id && m["kind"] == "invitation");
        if let Some(m) = found {
            break m["id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no invitation email to {email}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let eml = api
        .client
        .get(format!("{}/dev/mail/{id}", api.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace("=\r\n", "");
    let fragment = eml.find(&format!("#{event_id}.")).expect("a personal link");
    let start = eml[..fragment].rfind("http").expect("an absolute link");
    let link: String = eml[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.:/#".contains(*c))
        .collect();
    assert!(link[..fragment - start].contains("/e/"), "{link}");
    link
}

#[tokio::test]
async fn organizer_creates_uploads_publishes_invites_and_guests_answer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start(&data);
    let api = Api::new(&dev);
    let organizer = token(&data, "olivia@example.com", &[]);
    let guest = token(&data, "gus@example.com", &["--provider", "Apple"]);

    let created = api
        .post("/api/events", &organizer, new_event("Founders evening"))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let event_id = created.body["event_id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location").unwrap(),
        format!("/api/events/{event_id}")
    );
    assert_eq!(created.header("etag"), Some("\"1\""));

    // A cover photo: presigned form, upload straight to the blob store, attach.
    let form = api
        .post(
            &format!("/api/events/{event_id}/media/uploads"),
            &organizer,
            json!({ "kind": "photo", "content_type": "image/png" }),
        )
        .await;
    assert_eq!(form.status, 201, "{}", form.body);
    let png = b"\x89PNG\r\n\x1a\n not really a picture, but bytes".to_vec();
    let mut upload = reqwest::multipart::Form::new();
    for (name, value) in form.body["fields"].as_object().unwrap() {
        upload = upload.text(name.clone(), value.as_str().unwrap().to_owned());
    }
    upload = upload.part(
        "file",
        reqwest::multipart::Part::bytes(png.clone()).file_name("cover.png"),
    );
    let uploaded = api
        .client
        .post(form.body["url"].as_str().unwrap())
        .multipart(upload)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 204, "{}", uploaded.text().await.unwrap());
    let key = form.body["object_key"].as_str().unwrap();
    let attached = api
        .post(
            &format!("/api/events/{event_id}/media"),
            &organizer,
            json!({ "kind": "photo", "object_key": key }),
        )
        .await;
    assert_eq!(attached.status, 200, "{}", attached.body);

    assert_eq!(
        api.post(&format!("/api/events/{event_id}/publish"), &organizer, json!({}))
            .await
            .status,
        200
    );
    let invited = api
        .post(
            &format!("/api/events/{event_id}/invitations"),
            &organizer,
            json!({ "emails": ["gus@example.com", "Hana@Example.com"] }),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.body);

    // The organizer's page shows the photo (served by the blob store) and the meeting link.
    let page = api
        .eventually(&format!("/api/events/{event_id}"), &organizer, |a| {
            a.body["invited"] == 2
        })
        .await;
    assert_eq!(page.body["status"], "published");
    assert_eq!(page.body["meeting_url"], "https://meet.example/founders");
    let photo = api
        .client
        .get(page.body["cover_photo_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(photo.headers()["content-type"], "image/png");
    assert_eq!(photo.bytes().await.unwrap().as_ref(), png.as_slice());

    // The invited guest sees the event but not the link until they accept.
    let before = api.get(&format!("/api/events/{event_id}"), &guest).await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert_eq!(before.body["meeting_url"], Value::Null);
    let mine = api.get("/api/invitations", &guest).await;
    assert_eq!(mine.body["items"][0]["event_id"], event_id.as_str());
    let accepted = api
        .post(
            &format!("/api/events/{event_id}/rsvp"),
            &guest,
            json!({ "answer": "accept" }),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let after = api
        .eventually(&format!("/api/events/{event_id}/invitation"), &guest, |a| {
            a.body["rsvp"] == "attending"
        })
        .await;
    assert_eq!(
        after.body["event"]["meeting_url"],
        "https://meet.example/founders"
    );

    // Hana has no account: her personal link's token is enough to answer.
    let link_token = invitation_token(&api, "hana@example.com", &event_id).await;
    let path = format!("/api/events/{event_id}/invitation");
    let hers = api
        .call(
            Method::GET,
            &path,
            None,
            None,
            &[("invitation-token", &link_token)],
        )
        .await;
    assert_eq!(hers.status, 200, "{}", hers.body);
    assert_eq!(hers.body["rsvp"], "invited");
    assert_eq!(hers.body["event"]["meeting_url"], Value::Null);
    let declined = api
        .call(
            Method::POST,
            &format!("/api/events/{event_id}/rsvp"),
            None,
            Some(&json!({ "answer": "decline" })),
            &[("invitation-token", &link_token)],
        )
        .await;
    assert_eq!(declined.status, 200, "{}", declined.body);
    let forged = api
        .call(Method::GET, &path, None, None, &[("invitation-token", "forged")])
        .await;
    assert_eq!(forged.status, 404);
    // A forged token gets the same answer whether the event exists or not.
    let rsvp_with = |id: String, token: &'static str| {
        let api = &api;
        async move {
            let answer = api
                .call(
                    Method::POST,
                    &format!("/api/events/{id}/rsvp"),
                    None,
                    Some(&json!({ "answer": "accept" })),
                    &[("invitation-token", token)],
                )
                .await;
            (answer.status, answer.body)
        }
    };
    assert_eq!(
        rsvp_with(event_id.clone(), "forged").await,
        rsvp_with("01a2b3c4-0000-7000-8000-000000000000".into(), "forged").await
    );
    // An expired sign-in does not get in the way of a valid link.
    let expired = token(&data, "hana@example.com", &["--ttl-seconds=-300"]);
    let with_both = api
        .call(
            Method::GET,
            &path,
            Some(&expired),
            None,
            &[("invitation-token", &link_token)],
        )
        .await;
    assert_eq!(with_both.status, 200, "{}", with_both.body);

    // The organizer's guest list, one page at a time.
    let list = api
        .eventually(
            &format!("/api/events/{event_id}/invitations?limit=1"),
            &organizer,
            |a| a.body["items"][0]["rsvp"] != "invited",
        )
        .await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let cursor = list.body["next_cursor"].as_str().expect("a second page");
    let rest = api
        .eventually(
            &format!("/api/events/{event_id}/invitations?limit=1&cursor={cursor}"),
            &organizer,
            |a| a.body["items"][0]["rsvp"] != "invited",
        )
        .await;
    assert_eq!(rest.body["next_cursor"], Value::Null);
    let mut answers: Vec<(String, String)> = [&list, &rest]
        .iter()
        .map(|a| {
            let g = &a.body["items"][0];
            (
                g["email"].as_str().unwrap().to_owned(),
                g["rsvp"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    answers.sort();
    assert_eq!(
        answers,
        [
            ("gus@example.com".to_owned(), "attending".to_owned()),
            ("hana@example.com".to_owned(), "declined".to_owned())
        ]
    );

    // The web app's view of the same: the organizer reads it through GraphQL.
    let query = format!(
        "{{ event(eventId: \"{event_id}\") {{ coverPhotoUrl attending declined guests(first: 10) {{ edges {{ node {{ email rsvp }} }} }} }} }}"
    );
    let seen: Value = api
        .client
        .post(format!("{}/graphql", api.base))
        .bearer_auth(&organizer)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = &seen["data"]["event"];
    assert_eq!(
        (event["attending"].clone(), event["declined"].clone()),
        (json!(1), json!(1)),
        "{seen}"
    );
    assert_eq!(event["coverPhotoUrl"], page.body["cover_photo_url"]);
    let mut guests: Vec<(String, String)> = event["guests"]["edges"]
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
    guests.sort();
    assert_eq!(guests, answers);
    dev.interrupt();
}

#[tokio::test]
async fn only_the_organizer_changes_an_event_and_strangers_cannot_tell_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start(&data);
    let api = Api::new(&dev);
    let organizer = token(&data, "olivia@example.com", &[]);
    let guest = token(&data, "gus@example.com", &[]);
    let stranger = token(&data, "mallory@example.com", &["--provider", "Facebook"]);

    let event_id = api
        .post("/api/events", &organizer, new_event("Private dinner"))
        .await
        .body["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(&format!("/api/events/{event_id}/publish"), &organizer, json!({}))
        .await;
    api.post(
        &format!("/api/events/{event_id}/invitations"),
        &organizer,
        json!({ "emails": ["gus@example.com"] }),
    )
    .await;
    api.eventually("/api/invitations", &guest, |a| {
        a.body["items"][0]["event_id"] == event_id.as_str()
    })
    .await;
    let missing = "01a2b3c4-0000-7000-8000-000000000000";

    // Each write an organizer may do, tried by the guest (403) and by a stranger (404, the
    // same answer as for an event that does not exist).
    let writes: Vec<(Method, String, Value)> = vec![
        (
            Method::PATCH,
            "/api/events/{id}".to_owned(),
            json!({ "title": "Mine now" }),
        ),
        (Method::POST, "/api/events/{id}/publish".to_owned(), json!({})),
        (
            Method::POST,
            "/api/events/{id}/cancel".to_owned(),
            json!({ "message": "bye" }),
        ),
        (Method::DELETE, "/api/events/{id}".to_owned(), json!({})),
        (
            Method::POST,
            "/api/events/{id}/invitations".to_owned(),
            json!({ "emails": ["x@example.com"] }),
        ),
        (
            Method::DELETE,
            "/api/events/{id}/invitations/inv_x".to_owned(),
            json!({}),
        ),
        (
            Method::POST,
            "/api/events/{id}/media/uploads".to_owned(),
            json!({ "kind": "photo", "content_type": "image/png" }),
        ),
        (
            Method::POST,
            "/api/events/{id}/media".to_owned(),
            json!({ "kind": "photo", "object_key": "events/{id}/photo/x" }),
        ),
    ];
    for (method, path, body) in &writes {
        let on = |id: &str| path.replace("{id}", id);
        let body_on =
            |id: &str| serde_json::from_str::<Value>(&body.to_string().replace("{id}", id)).unwrap();
        let (path_of_it, body_of_it) = (on(&event_id), body_on(&event_id));
        let as_guest = api
            .call(method.clone(), &path_of_it, Some(&guest), Some(&body_of_it), &[])
            .await;
        assert_eq!(
            as_guest.status, 403,
            "{method} {path} as the guest: {}",
            as_guest.body
        );
        let as_stranger = api
            .call(
                method.clone(),
                &path_of_it,
                Some(&stranger),
                Some(&body_of_it),
                &[],
            )
            .await;
        let nowhere = api
            .call(
                method.clone(),
                &on(missing),
                Some(&stranger),
                Some(&body_on(missing)),
                &[],
            )
            .await;
        assert_eq!(
            as_stranger.status, 404,
            "{method} {path} as a stranger: {}",
            as_stranger.body
        );
        assert_eq!(
            as_stranger.body, nowhere.body,
            "{method} {path} tells a stranger the event exists"
        );
    }
    // A version precondition does not tell strangers more than a missing event does.
    let stale = [("if-match", "\"1\"")];
    let patch = json!({ "title": "Mine now" });
    let path = format!("/api/events/{event_id}");
    let as_stranger = api
        .call(Method::PATCH, &path, Some(&stranger), Some(&patch), &stale)
        .await;
    assert_eq!(as_stranger.status, 404, "{}", as_stranger.body);
    let as_guest = api
        .call(Method::PATCH, &path, Some(&guest), Some(&patch), &stale)
        .await;
    assert_eq!(as_guest.status, 403, "{}", as_guest.body);
    // Reads: the guest list and stats are the organizer's; the page is also the guest's.
    for path in ["/api/events/{id}/invitations", "/api/events/{id}/stats"] {
        let path = path.replace("{id}", &event_id);
        assert_eq!(api.get(&path, &organizer).await.status, 200);
        assert_eq!(api.get(&path, &guest).await.status, 403);
        assert_eq!(api.get(&path, &stranger).await.status, 404);
    }
    let page = format!("/api/events/{event_id}");
    assert_eq!(api.get(&page, &guest).await.status, 200);
    assert_eq!(api.get(&page, &stranger).await.status, 404);
    // A stranger cannot answer for the guest, nor see their invitation.
    let rsvp = api
        .post(
            &format!("/api/events/{event_id}/rsvp"),
            &stranger,
            json!({ "answer": "accept" }),
        )
        .await;
    assert_eq!(rsvp.status, 404, "{}", rsvp.body);
    assert_eq!(
        api.get(&format!("/api/events/{event_id}/invitation"), &stranger)
            .await
            .status,
        404
    );
    // Nothing the others tried changed the event.
    let after = api.get(&page, &organizer).await;
    assert_eq!(after.body["title"], "Private dinner");
    assert_eq!(after.body["status"], "published");
    assert_eq!(api.get("/api/events", &stranger).await.body["items"], json!([]));
    dev.interrupt();
}

#[tokio::test]
async fn stale_writes_get_412_and_retried_posts_get_the_first_answer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start(&data);
    let api = Api::new(&dev);
    let organizer = token(&data, "olivia@example.com", &[]);

    let key = [("idempotency-key", "create-1")];
    let body = new_event("Once only");
    let first = api
        .call(Method::POST, "/api/events", Some(&organizer), Some(&body), &key)
        .await;
    let retry = api
        .call(Method::POST, "/api/events", Some(&organizer), Some(&body), &key)
        .await;
    assert_eq!(first.status, 201);
    assert_eq!((retry.status, &retry.body), (201, &first.body));
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.header("location"), first.header("location"));
    let other = api
        .call(
            Method::POST,
            "/api/events",
            Some(&organizer),
            Some(&new_event("Another")),
            &key,
        )
        .await;
    assert_eq!(other.status, 422);
    assert_eq!(other.fields(), ["Idempotency-Key"]);
    let listed = api
        .eventually("/api/events", &organizer, |a| {
            !a.body["items"].as_array().unwrap().is_empty()
        })
        .await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "the retry created a second event"
    );

    let event_id = first.body["event_id"].as_str().unwrap();
    let path = format!("/api/events/{event_id}");
    let read = api.eventually(&path, &organizer, |a| a.status == 200).await;
    let etag = read.header("etag").unwrap().to_owned();
    let change = json!({ "title": "Renamed" });
    let ok = api
        .call(
            Method::PATCH,
            &path,
            Some(&organizer),
            Some(&change),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let stale = api
        .call(
            Method::PATCH,
            &path,
            Some(&organizer),
            Some(&change),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(stale.status, 412, "{}", stale.body);
    assert_eq!(stale.body["type"], "urn:slsplay:problem:stale-version");
    dev.interrupt();
}

#[tokio::test]
async fn bad_requests_are_problems_naming_every_failing_field() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start(&data);
    let api = Api::new(&dev);
    let organizer = token(&data, "olivia@example.com", &[]);

    // Shape errors, all at once.
    let shape = api
        .post(
            "/api/events",
            &organizer,
            json!({ "title": 7, "starts_at": "tomorrow", "duration_minutes": -5, "ticket_price": { "currency": 1 }, "colour": "red" }),
        )
        .await;
    assert_eq!(shape.status, 422);
    assert_eq!(
        shape.fields(),
        [
            "title",
            "starts_at",
            "time_zone",
            "duration_minutes",
            "ticket_price.amount_minor",
            "ticket_price.currency",
            "meeting_url",
            "colour"
        ]
    );
    // Rule errors from the domain, all at once.
    let mut rules = new_event("");
    rules["time_zone"] = json!("Mars/Olympus");
    rules["meeting_url"] = json!("ftp://nope");
    rules["starts_at"] = json!("2001-01-01T00:00:00Z");
    let rules = api.post("/api/events", &organizer, rules).await;
    assert_eq!(rules.status, 422);
    for field in ["title", "time_zone", "meeting_url", "starts_at"] {
        assert!(
            rules.fields().contains(&field),
            "{field} missing from {}",
            rules.body
        );
    }

    // Numbers past the field's range and control characters in a text are refused by name.
    let mut hostile = new_event("");
    hostile["title"] = json!("Dinner");
    hostile["ticket_price"] = json!({ "amount_minor": 9_223_372_036_854_775_808_u64, "currency": "USD" });
    hostile["description"] = json!("Tea\u{0}time");
    let hostile = api.post("/api/events", &organizer, hostile).await;
    assert_eq!(hostile.status, 422, "{}", hostile.body);
    let mut fields = hostile.fields();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["description", "ticket_price.amount_minor"],
        "{}",
        hostile.body
    );

    let raw = |content_type: &'static str, body: Vec<u8>| {
        api.client
            .post(format!("{}/api/events", api.base))
            .bearer_auth(&organizer)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let not_json = raw("application/json", b"{ nope".to_vec()).await.unwrap();
    assert_eq!(not_json.status(), 400);
    assert_eq!(not_json.headers()["content-type"], "application/problem+json");
    assert_eq!(raw("text/plain", b"{}".to_vec()).await.unwrap().status(), 415);
    let too_large = raw("application/json", vec![b' '; 200 * 1024]).await.unwrap();
    assert_eq!(too_large.status(), 413);
    // The rest of that body was never read: the client must not reuse the connection.
    assert_eq!(too_large.headers()["connection"], "close");
    let refused = api
        .client
        .post(format!("{}/api/events", api.base))
        .bearer_auth("not.a.token")
        .json(&new_event("Unread"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["connection"], "close");
    let created = api.post("/api/events", &organizer, new_event("Read")).await;
    assert_eq!(created.status, 201);
    assert!(created.headers.get("connection").is_none(), "the body was read");

    let bad_limit = api.get("/api/events?limit=0", &organizer).await;
    assert_eq!((bad_limit.status, bad_limit.fields()), (400, vec!["limit"]));
    for cursor in ["zzz", "djE6"] {
        let bad_cursor = api.get(&format!("/api/events?cursor={cursor}"), &organizer).await;
        assert_eq!(
            (bad_cursor.status, bad_cursor.fields()),
            (400, vec!["cursor"]),
            "{cursor}"
        );
    }
    let long_id = "e".repeat(3000);
    assert_eq!(
        api.get(&format!("/api/events/{long_id}"), &organizer)
            .await
            .status,
        404
    );
    assert_eq!(api.get("/api/events?limit=abc", &organizer).await.status, 400);
    assert_eq!(api.get("/api/nowhere", &organizer).await.status, 404);
    assert_eq!(
        api.call(Method::PUT, "/api/events", Some(&organizer), None, &[])
            .await
            .status,
        405
    );
    let bad_match = api
        .call(
            Method::POST,
            "/api/events/x/publish",
            Some(&organizer),
            None,
            &[("if-match", "seven")],
        )
        .await;
    assert_eq!((bad_match.status, bad_match.fields()), (400, vec!["If-Match"]));
    dev.interrupt();
}

#[tokio::test]
async fn tokens_that_are_expired_forged_or_from_another_issuer_get_401() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let other = dir.path().join("other");
    let dev = Dev::start(&data);
    let api = Api::new(&dev);

    let good = token(&data, "olivia@example.com", &[]);
    assert_eq!(api.get("/api/events", &good).await.status, 200);
    let refused = [
        (
            "expired",
            token(&data, "olivia@example.com", &["--ttl-seconds=-300"]),
        ),
        ("another provider's key", token(&other, "olivia@example.com", &[])),
        (
            "another issuer",
            token(
                &data,
                "olivia@example.com",
                &["--public-url", "http://evil.example"],
            ),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    // Each 401 challenges as RFC 6750 asks: the scheme, and the error when a token came.
    let challenge = |answer: &Answer| {
        answer
            .headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    for (case, bad) in refused {
        let answer = api.get("/api/events", &bad).await;
        assert_eq!(answer.status, 401, "{case}: {}", answer.body);
        let said = challenge(&answer).unwrap_or_default();
        assert!(
            said.starts_with(
                r#"Bearer realm="slsplay", error="invalid_token", error_description="the token was refused"#
            ),
            "{case}: {said}"
        );
    }
    let anonymous = api.call(Method::GET, "/api/events", None, None, &[]).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        challenge(&anonymous).as_deref(),
        Some(r#"Bearer realm="slsplay""#)
    );
    let query = json!({ "query": "{ viewer { subject } }" });
    let graphql = api
        .client
        .post(format!("{}/graphql", api.base))
        .bearer_auth("not.a.token")
        .json(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(graphql.status(), 401);
    let said = graphql.headers()["www-authenticate"].to_str().unwrap();
    assert!(said.contains(r#"error="invalid_token""#), "{said}");
    let basic = api
        .call(
            Method::GET,
            "/api/events",
            None,
            None,
            &[("authorization", "Basic b2xpdmlh")],
        )
        .await;
    assert_eq!(basic.status, 401);
    assert!(
        challenge(&basic)
            .unwrap_or_default()
            .contains(r#"error="invalid_request""#)
    );
    dev.interrupt();
}

#[tokio::test]
async fn a_caller_over_the_rate_limit_is_told_when_to_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start_with(&data, &[("SLSPLAY_RATE_LIMIT", "1")]);
    let api = Api::new(&dev);
    let busy = token(&data, "busy@example.com", &[]);
    let calm = token(&data, "calm@example.com", &[]);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(api.get("/api/events", &busy).await.status);
    }
    assert_eq!(&statuses[..3], [200, 200, 200], "a burst of three is allowed");
    assert_eq!(&statuses[3..], [429, 429], "then the caller waits");
    let limited = api.get("/api/events", &busy).await;
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
    assert_eq!(
        api.get("/api/events", &calm).await.status,
        200,
        "other callers are unaffected"
    );
    dev.interrupt();
}

#[tokio::test]
async fn the_development_sign_in_runs_authorization_code_with_pkce() {
    use base64::Engine;
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start(&data);
    let api = Api::new(&dev);
    let verifier = "a-long-random-verifier-string-of-at-least-43-characters";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
    let redirect = "http://127.0.0.1:9/callback";
    let page = api
        .client
        .get(format!(
            "{}/dev/oidc/authorize?response_type=code&client_id=slsplay-web&redirect_uri={redirect}&state=xyz&code_challenge={challenge}&code_challenge_method=S256",
            api.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Development sign-in"));
    let sign_in = |provider: &'static str| {
        api.client
            .post(format!("{}/dev/oidc/authorize", api.base))
            .form(&[
                ("client_id", "slsplay-web"),
                ("redirect_uri", redirect),
                ("state", "xyz"),
                ("code_challenge", challenge.as_str()),
                ("provider", provider),
                ("email", "Pat@Example.com"),
                ("name", "Pat"),
            ])
            .send()
    };
    let code_of = |response: reqwest::Response| {
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(redirect) && location.ends_with("&state=xyz"),
            "{location}"
        );
        location
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned()
    };
    let exchange = |code: String, verifier: &'static str| {
        api.client
            .post(format!("{}/dev/oidc/token", api.base))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect),
                ("client_id", "slsplay-web"),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let elsewhere = api
        .client
        .get(format!(
            "{}/dev/oidc/authorize?response_type=code&client_id=slsplay-web&redirect_uri=https://evil.example/cb&code_challenge={challenge}&code_challenge_method=S256",
            api.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        elsewhere.status(),
        400,
        "codes only go back to the platform or this machine"
    );
    let code = code_of(sign_in("Facebook").await.unwrap());
    let wrong = exchange(code.clone(), "not-the-verifier").await.unwrap();
    assert_eq!(wrong.status(), 400);
    // A code is spent by any exchange, so a failed guess cannot be followed by a right one.
    assert_eq!(exchange(code, verifier).await.unwrap().status(), 400);

    let code = code_of(sign_in("Google").await.unwrap());
    let tokens: Value = exchange(code.clone(), verifier)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(api.get("/api/events", access).await.status, 200);
    assert_eq!(
        exchange(code, verifier).await.unwrap().status(),
        400,
        "codes are single use"
    );
    let discovery: Value = api
        .client
        .get(format!("{}/dev/oidc/.well-known/openid-configuration", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["code_challenge_methods_supported"], json!(["S256"]));
    dev.interrupt();
}

/// The web app's way with a personal link: the email's link carries the token in its fragment
/// (never sent to a server), and the app sends it to GraphQL in the `Invitation-Token` header,
/// with no account and nothing secret in the query.
#[tokio::test]
async fn a_personal_link_opens_and_answers_the_invitation_over_graphql_with_the_token_in_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start(&data);
    let api = Api::new(&dev);
    let organizer = token(&data, "olivia@example.com", &[]);
    let event_id = published_with_guests(
        &api,
        &organizer,
        new_event("Fragment night"),
        &["ines@example.com"],
    )
    .await;
    let link_token = invitation_token(&api, "ines@example.com", &event_id).await;

    let graphql = |query: String, link: &str| {
        let (api, link) = (&api, link.to_owned());
        async move {
            let answer = api
                .call(
                    Method::POST,
                    "/graphql",
                    None,
                    Some(&json!({ "query": query })),
                    &[("invitation-token", &link)],
                )
                .await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            answer.body
        }
    };
    let opened = graphql(
        format!(r#"{{ invitation(eventId: "{event_id}") {{ rsvp event {{ title }} meetingUrl }} }}"#),
        &link_token,
    )
    .await;
    assert_eq!(opened["data"]["invitation"]["rsvp"], "invited", "{opened}");
    assert_eq!(opened["data"]["invitation"]["event"]["title"], "Fragment night");
    assert_eq!(opened["data"]["invitation"]["meetingUrl"], Value::Null);
    let forged = graphql(
        format!(r#"{{ invitation(eventId: "{event_id}") {{ rsvp }} }}"#),
        "forged",
    )
    .await;
    assert_eq!(forged["data"]["invitation"], Value::Null, "{forged}");

    let answered = graphql(
        format!(r#"mutation {{ rsvp(eventId: "{event_id}", answer: ACCEPT) {{ userErrors {{ field message }} }} }}"#),
        &link_token,
    )
    .await;
    assert_eq!(answered["data"]["rsvp"]["userErrors"], json!([]), "{answered}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = graphql(
            format!(r#"{{ invitation(eventId: "{event_id}") {{ rsvp meetingUrl }} }}"#),
            &link_token,
        )
        .await;
        if seen["data"]["invitation"]["rsvp"] == "attending" {
            assert_eq!(
                seen["data"]["invitation"]["meetingUrl"],
                "https://meet.example/founders"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the answer never showed: {seen}");
        // Well under GraphQL's rate limit for one caller.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Signing in with the invited address links the invitation to the account: GraphQL opens it
/// without the link's token, lists it among the viewer's invitations, and takes the answer;
/// someone signed in with another address gets nothing.
#[tokio::test]
async fn signing_in_with_the_invited_email_opens_the_invitation_without_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start(&data);
    let api = Api::new(&dev);
    let organizer = token(&data, "olivia@example.com", &[]);
    let event_id =
        published_with_guests(&api, &organizer, new_event("Linked night"), &["Jude@Example.com"]).await;
    let jude = token(&data, "jude@example.com", &[]);
    let stranger = token(&data, "kim@example.com", &[]);

    let graphql = |query: String, bearer: &str| {
        let (api, bearer) = (&api, bearer.to_owned());
        async move {
            let answer = api
                .call(
                    Method::POST,
                    "/graphql",
                    Some(&bearer),
                    Some(&json!({ "query": query })),
                    &[],
                )
                .await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            answer.body
        }
    };
    let open = format!(r#"{{ invitation(eventId: "{event_id}") {{ rsvp event {{ title }} meetingUrl }} }}"#);
    let deadline = Instant::now() + Duration::from_secs(20);
    let opened = loop {
        let seen = graphql(open.clone(), &jude).await;
        if !seen["data"]["invitation"].is_null() {
            break seen;
        }
        assert!(Instant::now() < deadline, "the invitation never opened: {seen}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(opened["data"]["invitation"]["rsvp"], "invited", "{opened}");
    assert_eq!(opened["data"]["invitation"]["event"]["title"], "Linked night");
    let theirs = graphql(open.clone(), &stranger).await;
    assert_eq!(theirs["data"]["invitation"], Value::Null, "{theirs}");
    let listed = graphql(
        "{ viewer { invitations { nodes { rsvp event { eventId title } } } } }".into(),
        &jude,
    )
    .await;
    assert_eq!(
        listed["data"]["viewer"]["invitations"]["nodes"],
        json!([{ "rsvp": "invited", "event": { "eventId": event_id, "title": "Linked night" } }]),
        "{listed}"
    );

    let answered = graphql(
        format!(r#"mutation {{ rsvp(eventId: "{event_id}", answer: ACCEPT) {{ userErrors {{ field message }} }} }}"#),
        &jude,
    )
    .await;
    assert_eq!(answered["data"]["rsvp"]["userErrors"], json!([]), "{answered}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = graphql(open.clone(), &jude).await;
        if seen["data"]["invitation"]["rsvp"] == "attending" {
            assert_eq!(
                seen["data"]["invitation"]["meetingUrl"],
                "https://meet.example/founders"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the answer never showed: {seen}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let theirs = graphql(open, &stranger).await;
    assert_eq!(theirs["data"]["invitation"], Value::Null, "{theirs}");
}

/// A paid event: accepting holds a seat, the guest pays at the (development) checkout and comes
/// back with a receipt, which the API confirms before the seat is theirs. A receipt pays once,
/// only for its own invitation, and an unpaid checkout proves nothing.
#[tokio::test]
async fn a_guest_pays_for_a_held_seat_through_the_checkout_and_its_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start(&data);
    let api = Api::new(&dev);
    let organizer = token(&data, "olivia@example.com", &[]);
    let mut event = new_event("Gala");
    event["ticket_price"] = json!({ "amount_minor": 2500, "currency": "EUR" });
    let guests = ["pia@example.com", "quinn@example.com"];
    let event_id = published_with_guests(&api, &organizer, event, &guests).await;
    let pia = invitation_token(&api, "pia@example.com", &event_id).await;
    let quinn = invitation_token(&api, "quinn@example.com", &event_id).await;
    let as_guest = |method: Method, path: &str, link: &str, body: Option<Value>| {
        let (api, path, link) = (&api, format!("/api/events/{event_id}{path}"), link.to_owned());
        async move {
            api.call(method, &path, None, body.as_ref(), &[("invitation-token", &link)])
                .await
        }
    };

    // Nothing to pay before a seat is held.
    let early = as_guest(Method::POST, "/checkout", &quinn, None).await;
    assert_eq!(
        (early.status, early.body["type"].as_str()),
        (409, Some("urn:slsplay:problem:no-seat-held")),
        "{}",
        early.body
    );
    let accepted = as_guest(Method::POST, "/rsvp", &pia, Some(json!({ "answer": "accept" }))).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let held = as_guest(Method::GET, "/invitation", &pia, None).await;
    assert_eq!(
        (held.body["rsvp"].as_str(), held.body["payment"].as_str()),
        (Some("seat_held"), Some("due")),
        "{}",
        held.body
    );
    assert_eq!(held.body["event"]["meeting_url"], Value::Null);

    let started = as_guest(Method::POST, "/checkout", &pia, None).await;
    assert_eq!(started.status, 200, "{}", started.body);
    // A second checkout of the same hold (another tab) is the same order: it cannot charge twice.
    let twice = as_guest(Method::POST, "/checkout", &pia, None).await;
    assert_eq!(twice.body["checkout_url"], started.body["checkout_url"]);
    let url = started.body["checkout_url"].as_str().unwrap();
    let path = &url[url.find("/dev/pay/").expect("the development checkout")..];
    let page = api
        .client
        .get(format!("{}{path}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Gala") && page.contains("Pay 25.00 EUR"), "{page}");
    let unpaid = path.trim_start_matches("/dev/pay/");
    let refused = as_guest(Method::POST, "/payment", &pia, Some(json!({ "receipt": unpaid }))).await;
    assert_eq!(
        refused.status, 422,
        "an unpaid checkout is no receipt: {}",
        refused.body
    );

    let paid = api
        .client
        .post(format!("{}{path}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    let back = paid.headers()["location"].to_str().unwrap().to_owned();
    let marker = format!("/events/{event_id}/invitation?receipt=");
    let receipt = &back[back.find(&marker).expect("back to the invitation page") + marker.len()..];
    let theirs = as_guest(
        Method::POST,
        "/payment",
        &quinn,
        Some(json!({ "receipt": receipt })),
    )
    .await;
    assert_eq!(
        theirs.status, 422,
        "a receipt pays only its own invitation: {}",
        theirs.body
    );
    for _ in 0..2 {
        // Sent again (a reload, a retry), it pays once.
        let confirmed = as_guest(
            Method::POST,
            "/payment",
            &pia,
            Some(json!({ "receipt": receipt })),
        )
        .await;
        assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    }
    let seat = as_guest(Method::GET, "/invitation", &pia, None).await;
    assert_eq!(
        (seat.body["rsvp"].as_str(), seat.body["payment"].as_str()),
        (Some("attending"), Some("paid")),
        "{}",
        seat.body
    );
    assert_eq!(seat.body["event"]["meeting_url"], "https://meet.example/founders");
    let again = as_guest(Method::POST, "/checkout", &pia, None).await;
    assert_eq!(again.status, 409, "{}", again.body);
    let stats = api
        .get(&format!("/api/events/{event_id}/stats"), &organizer)
        .await;
    let paid_total: i64 = stats.body["items"]
        .as_array()
        .map_or(0, |d| d.iter().map(|d| d["paid"].as_i64().unwrap_or(0)).sum());
    assert_eq!(paid_total, 1, "{}", stats.body);
}

/// Once the event is cancelled nobody meets there: its attendees no longer see the meeting
/// link, through REST or GraphQL, signed in or with their link.
#[tokio::test]
async fn a_cancelled_event_shows_its_attendees_no_meeting_link() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start(&data);
    let api = Api::new(&dev);
    let organizer = token(&data, "olivia@example.com", &[]);
    let event_id =
        published_with_guests(&api, &organizer, new_event("Called off"), &["rae@example.com"]).await;
    let link = invitation_token(&api, "rae@example.com", &event_id).await;
    let rae = token(&data, "rae@example.com", &[]);
    let by_link = [("invitation-token", link.as_str())];
    let accepted = api
        .call(
            Method::POST,
            &format!("/api/events/{event_id}/rsvp"),
            None,
            Some(&json!({ "answer": "accept" })),
            &by_link,
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let links = || {
        let (api, event_id, rae) = (&api, event_id.clone(), rae.clone());
        async move {
            let mine = api
                .call(
                    Method::GET,
                    &format!("/api/events/{event_id}/invitation"),
                    None,
                    None,
                    &by_link,
                )
                .await;
            let shown = api.get(&format!("/api/events/{event_id}"), &rae).await;
            let query =
                format!(r#"{{ invitation(eventId: "{event_id}") {{ meetingUrl event {{ meetingUrl }} }} }}"#);
            let graphql = api
                .call(
                    Method::POST,
                    "/graphql",
                    None,
                    Some(&json!({ "query": query })),
                    &by_link,
                )
                .await;
            [
                mine.body["event"]["meeting_url"].clone(),
                shown.body["meeting_url"].clone(),
                graphql.body["data"]["invitation"]["meetingUrl"].clone(),
            ]
        }
    };
    let url = json!("https://meet.example/founders");
    assert_eq!(links().await, [url.clone(), url.clone(), url]);

    let cancelled = api
        .post(
            &format!("/api/events/{event_id}/cancel"),
            &organizer,
            json!({ "message": "The venue flooded" }),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(links().await, [Value::Null, Value::Null, Value::Null]);
}

/// A draft is invisible to the people invited to it: until it is published they get the same
/// 404 as a stranger from every route, reads, the organizer's writes and an answer alike.
#[tokio::test]
async fn a_draft_is_a_404_to_its_invitees_until_it_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Dev::start(&data);
    let api = Api::new(&dev);
    let organizer = token(&data, "olivia@example.com", &[]);
    let created = api.post("/api/events", &organizer, new_event("Surprise")).await;
    let event_id = created.body["event_id"].as_str().unwrap().to_owned();
    let invited = api
        .post(
            &format!("/api/events/{event_id}/invitations"),
            &organizer,
            json!({ "emails": ["dora@example.com"] }),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.body);
    let dora = token(&data, "dora@example.com", &[]);
    let tries = |dora: &str| {
        let (api, event_id, dora) = (&api, event_id.clone(), dora.to_owned());
        async move {
            let path = |p: &str| format!("/api/events/{event_id}{p}");
            let answers = [
                api.get(&path(""), &dora).await,
                api.call(
                    Method::PATCH,
                    &path(""),
                    Some(&dora),
                    Some(&json!({ "title": "Mine" })),
                    &[],
                )
                .await,
                api.get(&path("/invitations"), &dora).await,
                api.get(&path("/invitation"), &dora).await,
                api.post(&path("/rsvp"), &dora, json!({ "answer": "accept" }))
                    .await,
            ];
            answers.map(|a| (a.status, a.body["type"].as_str().unwrap_or_default().to_owned()))
        }
    };
    for (status, kind) in tries(&dora).await {
        assert_eq!(status, 404, "{kind}");
    }

    api.post(&format!("/api/events/{event_id}/publish"), &organizer, json!({}))
        .await;
    let published = tries(&dora).await.map(|(status, _)| status);
    assert_eq!(published, [200, 403, 403, 200, 200]);
}
