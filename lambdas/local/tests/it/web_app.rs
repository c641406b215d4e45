//! The web app's files as `slsplay dev` serves them: what a browser and its cache see.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::support::Dev;

/// One HTTP/1.0 exchange: status, lower-cased header block, body.
fn exchange(dev: &Dev, request_line: &str, headers: &[&str]) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", dev.port)).unwrap();
    let mut request = format!("{request_line} HTTP/1.0\r\nHost: localhost\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(response[..split].to_vec())
        .unwrap()
        .to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, response[split + 4..].to_vec())
}

const GLUE: &str = "app-0123456789abcdef.js";

fn built_app(dir: &std::path::Path) {
    std::fs::write(dir.join("index.html"), "<!doctype html><title>slsplay</title>").unwrap();
    std::fs::write(dir.join(GLUE), "export default 1;").unwrap();
    std::fs::write(dir.join(format!("{GLUE}.br")), b"brotli bytes").unwrap();
    std::fs::write(dir.join(format!("{GLUE}.gz")), b"gzip bytes").unwrap();
}

#[test]
fn the_app_answers_its_routes_with_cache_rules_and_compressed_copies_and_leaves_api_errors_alone() {
    let data = tempfile::tempdir().unwrap();
    let web = tempfile::tempdir().unwrap();
    built_app(web.path());
    let dev = Dev::start_with(data.path(), &[("SLSPLAY_WEB_DIR", web.path().to_str().unwrap())]);

    for route in ["/", "/events/ev-1", "/invitations/inv-1?x=1"] {
        let (status, head, body) = exchange(&dev, &format!("GET {route}"), &[]);
        assert_eq!(status, 200, "{route}");
        assert_eq!(body, b"<!doctype html><title>slsplay</title>", "{route}");
        assert!(head.contains("content-type: text/html; charset=utf-8"), "{head}");
        assert!(head.contains("cache-control: no-cache"), "{head}");
        assert!(head.contains("referrer-policy: no-referrer"), "{head}");
        assert!(
            head.contains("content-security-policy: default-src 'self'"),
            "{head}"
        );
    }

    let (status, head, body) = exchange(
        &dev,
        &format!("GET /{GLUE}"),
        &["Accept-Encoding: gzip, deflate, br"],
    );
    assert_eq!(status, 200);
    assert_eq!(body, b"brotli bytes");
    assert!(head.contains("content-encoding: br"), "{head}");
    assert!(
        head.contains("cache-control: public, max-age=31536000, immutable"),
        "{head}"
    );
    assert!(head.contains("content-type: text/javascript"), "{head}");
    assert!(head.contains("vary: accept-encoding"), "{head}");
    let (_, head, body) = exchange(&dev, &format!("GET /{GLUE}"), &["Accept-Encoding: gzip"]);
    assert_eq!(
        (body.as_slice(), head.contains("content-encoding: gzip")),
        (&b"gzip bytes"[..], true)
    );
    let (_, head, body) = exchange(&dev, &format!("GET /{GLUE}"), &[]);
    assert_eq!(body, b"export default 1;");
    assert!(!head.contains("content-encoding"), "{head}");

    // A missing file is not answered with the app's HTML, nor is anything outside the folder.
    assert_eq!(exchange(&dev, "GET /app-ffffffffffffffff.js", &[]).0, 404);
    assert_eq!(exchange(&dev, "GET /../index.html", &[]).0, 404);
    // The API's own errors stay API errors.
    let (status, head, _) = exchange(&dev, "GET /api/nowhere", &[]);
    assert_eq!(status, 404);
    assert!(head.contains("application/problem+json"), "{head}");
    let (status, head, _) = exchange(&dev, "GET /dev/nowhere", &[]);
    assert_eq!(status, 404);
    assert!(head.contains("application/problem+json"), "{head}");
    assert_eq!(exchange(&dev, "POST /events", &["Content-Length: 0"]).0, 405);
}

#[test]
fn without_a_built_app_the_platform_says_how_to_build_it() {
    let data = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let dev = Dev::start_with(
        data.path(),
        &[("SLSPLAY_WEB_DIR", empty.path().to_str().unwrap())],
    );
    let (status, _, body) = exchange(&dev, "GET /", &[]);
    assert_eq!(status, 503);
    assert!(String::from_utf8(body).unwrap().contains(".ci/build-web"));
    // The API is up all the same.
    assert_eq!(dev.get("/health").0, 200);
}

/// The web cache: a published event gets a preview page at its link's address, rewritten when
/// it changes and gone when it is cancelled; the link opens the app all the same.
#[tokio::test]
async fn a_published_event_has_a_preview_page_that_follows_its_changes_and_goes_when_cancelled() {
    let data = tempfile::tempdir().unwrap();
    let web = tempfile::tempdir().unwrap();
    built_app(web.path());
    let dev = Dev::start_with(data.path(), &[("SLSPLAY_WEB_DIR", web.path().to_str().unwrap())]);
    let api = crate::api::Api::new(&dev);
    let organizer = crate::support::token(data.path(), "olivia@example.com", &[]);
    let created = api
        .post(
            "/api/events",
            &organizer,
            crate::api::new_event("Founders <evening>"),
        )
        .await;
    let event_id = created.body["event_id"].as_str().unwrap().to_owned();
    let publish = api
        .post(
            &format!("/api/events/{event_id}/publish"),
            &organizer,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(publish.status, 200);
    let emails = serde_json::json!({ "emails": ["hana@example.com"] });
    let invited = api
        .post(&format!("/api/events/{event_id}/invitations"), &organizer, emails)
        .await;
    assert_eq!(invited.status, 200);
    let link = crate::api::invitation_link(&api, "hana@example.com", &event_id).await;
    let page_path = &link[link.find("/e/").unwrap()..link.find('#').unwrap()];
    assert_eq!(page_path.len(), "/e/".len() + 22, "{link}");

    let page = |ready: fn(&str) -> bool| {
        let url = format!("http://127.0.0.1:{}{page_path}", dev.port);
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                let response = reqwest::get(&url).await.unwrap();
                let headers = response.headers().clone();
                let body = response.text().await.unwrap();
                if ready(&body) {
                    return (headers, body);
                }
                assert!(std::time::Instant::now() < deadline, "{url}: {body}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    let (headers, body) = page(|b| b.contains("og:title")).await;
    assert!(
        body.contains(r#"<meta property="og:title" content="Founders &lt;evening&gt;">"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<script type="module" src="/boot.js"></script>"#),
        "{body}"
    );
    assert!(
        !body.contains("meet.example") && !body.contains("hana"),
        "nothing private: {body}"
    );
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(headers.contains_key("content-security-policy"));

    let renamed = api
        .call(
            reqwest::Method::PATCH,
            &format!("/api/events/{event_id}"),
            Some(&organizer),
            Some(&serde_json::json!({ "title": "Founders night" })),
            &[],
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    page(|b| b.contains(r#"content="Founders night""#)).await;

    let cancel = serde_json::json!({ "message": "Sorry, moved to spring" });
    let cancelled = api
        .post(&format!("/api/events/{event_id}/cancel"), &organizer, cancel)
        .await;
    assert_eq!(cancelled.status, 200);
    // Gone: the address answers with the app, which opens the link from its fragment.
    page(|b| b == "<!doctype html><title>slsplay</title>").await;
}

/// The built app and the browser tools the browser tests need (the README's test command
/// makes both).
fn browser_tools() -> (std::path::PathBuf, std::path::PathBuf) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dist = root.join("web/dist");
    assert!(
        dist.join("index.html").is_file(),
        "the web app is not built: run .ci/build-web (the README's test command does)"
    );
    assert!(
        root.join(".e2e-tools/node_modules/playwright-core").is_dir(),
        "no browser tools: run .ci/setup (the README's test command does)"
    );
    (root, dist)
}

/// Runs `web/e2e/SCRIPT ARG ARTIFACTS` in node; screenshots land in
/// TARGET_DIR/tmp/e2e-artifacts.
fn run_in_browser(root: &std::path::Path, script: &str, arg: &str) -> std::path::PathBuf {
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let run = std::process::Command::new("node")
        .arg(root.join("web/e2e").join(script))
        .arg(arg)
        .arg(&artifacts)
        .env("SLSPLAY_E2E_TOOLS", root.join(".e2e-tools"))
        .output()
        .expect("node runs (the README's test command installs it)");
    assert!(
        run.status.success(),
        "{script} failed in the browser: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    artifacts
}

/// The guests' flow in Debian's chromium through playwright-core (`web/e2e/guest.js`), against
/// the app as `.ci/build-web` built it, on an event of one seat at 360 and 1280 px: the emailed
/// link (the event's preview page) opens the invitation without an account; the first guest
/// accepts and sees the meeting link, the second declines and does not, the third is
/// waitlisted, and is promoted and sees it when the first changes her mind. The second then
/// signs in with his invited address: the invitation opens without the link, is listed under
/// Invitations, and takes his new answer. A fourth guest accepts a paid event, pays at the
/// development checkout and comes back attending. The token never leaves the browser but in its
/// header.
#[tokio::test]
async fn three_guests_accept_decline_and_get_promoted_from_the_waitlist_in_a_browser() {
    let (root, dist) = browser_tools();
    let data = tempfile::tempdir().unwrap();
    // Public at its own port: the emailed link names that address.
    let (dev, base) = Dev::start_public(data.path(), &[("SLSPLAY_WEB_DIR", dist.to_str().unwrap())]);
    let api = crate::api::Api::new(&dev);
    let organizer = crate::support::token(data.path(), "olivia@example.com", &["--public-url", &base]);
    let mut links = serde_json::Map::new();
    for viewport in ["360x800", "1280x800"] {
        let mut event = crate::api::new_event("Founders evening");
        event["capacity"] = serde_json::json!(1);
        let created = api.post("/api/events", &organizer, event).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let event_id = created.body["event_id"].as_str().unwrap().to_owned();
        let publish = format!("/api/events/{event_id}/publish");
        assert_eq!(
            api.post(&publish, &organizer, serde_json::json!({})).await.status,
            200
        );
        let guests: Vec<String> = ["ann", "bob", "cleo"]
            .iter()
            .map(|name| format!("{name}.{viewport}@example.com"))
            .collect();
        let invite = format!("/api/events/{event_id}/invitations");
        let emails = serde_json::json!({ "emails": guests });
        assert_eq!(api.post(&invite, &organizer, emails).await.status, 200);
        let mut theirs = Vec::new();
        for guest in &guests {
            theirs.push(crate::api::invitation_link(&api, guest, &event_id).await);
        }
        // Dana is invited to a paid event.
        let mut gala = crate::api::new_event("Founders gala");
        gala["ticket_price"] = serde_json::json!({ "amount_minor": 2500, "currency": "EUR" });
        let created = api.post("/api/events", &organizer, gala).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let gala_id = created.body["event_id"].as_str().unwrap().to_owned();
        let publish = format!("/api/events/{gala_id}/publish");
        assert_eq!(
            api.post(&publish, &organizer, serde_json::json!({})).await.status,
            200
        );
        let dana = format!("dana.{viewport}@example.com");
        let invite = format!("/api/events/{gala_id}/invitations");
        let emails = serde_json::json!({ "emails": [dana] });
        assert_eq!(api.post(&invite, &organizer, emails).await.status, 200);
        theirs.push(crate::api::invitation_link(&api, &dana, &gala_id).await);
        // The preview pages are the web cache's to write; the browser should find them there.
        for link in [&theirs[0], &theirs[3]] {
            let page = link.split('#').next().unwrap().to_owned();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while !reqwest::get(&page)
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .contains("og:title")
            {
                assert!(std::time::Instant::now() < deadline, "no preview page at {page}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        links.insert(viewport.into(), serde_json::json!(theirs));
    }
    let artifacts = run_in_browser(&root, "guest.js", &serde_json::Value::Object(links).to_string());
    assert!(artifacts.join("invitation-promoted-360x800.png").is_file());
}

/// The organizer's flow (`web/e2e/organizer.js`): sign in with PKCE at the development
/// provider from a guarded page and land back on it, create an event (a field the rules refuse
/// is shown before sending), publish, invite with an invalid address in the preview, revoke,
/// at 360 and 1280 px. What the browser did is then checked where it lands: the read model and
/// the outbox.
#[tokio::test]
async fn an_organizer_signs_in_creates_publishes_invites_and_revokes_in_a_browser() {
    let (root, dist) = browser_tools();
    let data = tempfile::tempdir().unwrap();
    let (dev, base) = Dev::start_public(data.path(), &[("SLSPLAY_WEB_DIR", dist.to_str().unwrap())]);
    let artifacts = run_in_browser(&root, "organizer.js", &base);
    assert!(artifacts.join("organizer-guests-1280x800.png").is_file());

    let api = crate::api::Api::new(&dev);
    for who in ["olivia.360x800@example.com", "olivia.1280x800@example.com"] {
        let organizer = crate::support::token(data.path(), who, &["--public-url", &base]);
        let mine = api.get("/api/events", &organizer).await;
        assert_eq!(mine.status, 200, "{}", mine.body);
        let events = mine.body["items"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{who}: {}", mine.body);
        assert_eq!(events[0]["status"], "published");
        let event_id = events[0]["event_id"].as_str().unwrap();
        let event = api.get(&format!("/api/events/{event_id}"), &organizer).await.body;
        assert_eq!(event["title"], "Founders evening");
        assert_eq!(event["time_zone"], "America/New_York");
        assert_eq!(event["capacity"], 40);
        // Picked as 19:30 in New York, whatever the browser's own zone (Madrid) and season.
        let starts: chrono::DateTime<chrono::Utc> = event["starts_at"].as_str().unwrap().parse().unwrap();
        let local = starts.with_timezone(&chrono_tz::America::New_York);
        assert_eq!(local.format("%H:%M").to_string(), "19:30", "{event}");
        // Ann's invitation went out; it opens the page the browser test shows guests.
        crate::api::invitation_token(&api, "ann@example.com", event_id).await;
    }
}
