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
