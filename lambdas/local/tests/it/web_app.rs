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

/// The guest's flow in Debian's chromium through playwright-core (`web/e2e/guest.js`), against
/// the app as `.ci/build-web` built it: the emailed link opens the invitation without an
/// account, Accept shows the meeting link, Decline hides it, at 360 and 1280 px, and the token
/// never leaves the browser but in its header. Screenshots land in TARGET_DIR/tmp/e2e-artifacts.
#[tokio::test]
async fn a_guest_opens_the_emailed_link_accepts_sees_the_meeting_link_and_declines_in_a_browser() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dist = root.join("web/dist");
    assert!(
        dist.join("index.html").is_file(),
        "the web app is not built: run .ci/build-web (the README's test command does)"
    );
    let tools = root.join(".e2e-tools");
    assert!(
        tools.join("node_modules/playwright-core").is_dir(),
        "no browser tools: run .ci/setup (the README's test command does)"
    );
    let data = tempfile::tempdir().unwrap();
    let dev = Dev::start_with(data.path(), &[("SLSPLAY_WEB_DIR", dist.to_str().unwrap())]);
    let api = crate::api::Api::new(&dev);
    let organizer = crate::support::token(data.path(), "olivia@example.com", &[]);
    let created = api
        .post(
            "/api/events",
            &organizer,
            crate::api::new_event("Founders evening"),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let event_id = created.body["event_id"].as_str().unwrap().to_owned();
    let publish = format!("/api/events/{event_id}/publish");
    assert_eq!(
        api.post(&publish, &organizer, serde_json::json!({})).await.status,
        200
    );
    let invite = format!("/api/events/{event_id}/invitations");
    let emails = serde_json::json!({ "emails": ["hana@example.com"] });
    assert_eq!(api.post(&invite, &organizer, emails).await.status, 200);
    let link_token = crate::api::invitation_token(&api, "hana@example.com", &event_id).await;
    // As the email writes it (the email tests check that it does).
    let link = format!(
        "http://127.0.0.1:{}/events/{event_id}/invitation#{link_token}",
        dev.port
    );

    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let run = std::process::Command::new("node")
        .arg(root.join("web/e2e/guest.js"))
        .arg(&link)
        .arg(&artifacts)
        .env("SLSPLAY_E2E_TOOLS", &tools)
        .output()
        .expect("node runs (the README's test command installs it)");
    assert!(
        run.status.success(),
        "the guest's flow failed in the browser: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(artifacts.join("invitation-accepted-360x800.png").is_file());
}
