//! The web app's static files, as `.ci/build-web` leaves them in `web/dist`: files named by
//! their content's hash are cached for a year, `index.html` is never cached and answers every
//! application route (the app routes in the browser), and the brotli or gzip copy is sent to a
//! browser that accepts it. `/e/{share_id}` is an event's preview page from the web cache. On
//! AWS the same files sit on S3 behind CloudFront.

use std::path::PathBuf;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use slsplay_api::problem::Problem;
use slsplay_projections::web_cache::page_path;

use crate::server::AppState;

/// Path prefixes the app never answers: an unknown API address stays an API error.
const NOT_APP_ROUTES: [&str; 5] = ["/api", "/graphql", "/dev", "/blobs", "/health"];

/// The page's policy: scripts and styles from this origin only (wasm compiled by the browser),
/// no framing, no inline code.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

#[derive(Debug, Clone)]
pub struct WebApp {
    dir: PathBuf,
    sign_in: SignIn,
}

/// Where the app sends people to sign in: the app reads it from `/config.json` (on AWS the CDK
/// stack writes the same file next to the app), so one build serves every deployment.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignIn {
    /// The OpenID Connect issuer; the app reads its endpoints from the issuer's discovery.
    pub issuer: String,
    pub client_id: String,
    /// One button each, in this order.
    pub providers: Vec<Provider>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub label: String,
    /// Sent as `identity_provider`, Cognito's way of skipping its own chooser.
    pub identity_provider: String,
}

impl WebApp {
    pub fn new(dir: impl Into<PathBuf>, sign_in: SignIn) -> Self {
        Self {
            dir: dir.into(),
            sign_in,
        }
    }

    pub fn is_built(&self) -> bool {
        self.dir.join("index.html").is_file()
    }
}

/// The router's fallback: a file of the app, or the app's page for an application route.
pub async fn serve(State(state): State<AppState>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if NOT_APP_ROUTES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }) {
        return not_found();
    }
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")]).into_response();
    }
    let web = &state.web;
    let name = path.trim_start_matches('/');
    let file = match asset_name(name) {
        Some(asset) => asset,
        // A missing script or image is a 404, not the app's HTML under a wrong type.
        None if has_asset_extension(name) => return not_found(),
        None => "index.html",
    };
    let (suffix, coding) = accepted_encoding(&headers);
    let mut found = None;
    // An event's preview page, when the web cache has written it; else the app's page, which
    // opens the link from its fragment all the same.
    if let Some(share_id) = path.strip_prefix("/e/") {
        match state.platform.pages.page(&page_path(share_id)).await {
            Ok(page) => found = page.map(|bytes| (bytes, None)),
            Err(e) => {
                return Problem::unavailable("cannot read the event's page", &e).into_response();
            }
        }
    }
    if found.is_none()
        && let Some(coding) = coding
        && let Ok(bytes) = tokio::fs::read(web.dir.join(format!("{file}{suffix}"))).await
    {
        found = Some((bytes, Some(coding)));
    }
    if found.is_none()
        && let Ok(bytes) = tokio::fs::read(web.dir.join(file)).await
    {
        found = Some((bytes, None));
    }
    let Some((bytes, content_encoding)) = found else {
        if file == "index.html" {
            return not_built();
        }
        return not_found();
    };
    let mut response = if method == Method::HEAD {
        let length = bytes.len();
        let mut r = ().into_response();
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        r
    } else {
        bytes.into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(file)));
    if let Some(encoding) = content_encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if is_hashed(file) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    // The invitation page carries its token in the URL fragment: never sent, never referred.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if file == "index.html" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    response
}

/// The app's settings of this deployment: never cached, so a changed issuer takes effect.
pub async fn config(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        axum::Json(serde_json::json!({ "signIn": state.web.sign_in })),
    )
        .into_response()
}

/// `name` when it is a file of the app's folder: one plain file name, nothing above or below.
fn asset_name(name: &str) -> Option<&str> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    (plain && has_asset_extension(name)).then_some(name)
}

fn has_asset_extension(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    matches!(
        file.rsplit_once('.').map(|(_, ext)| ext),
        Some("js" | "wasm" | "css" | "svg" | "png" | "ico" | "webmanifest" | "txt" | "html")
    )
}

/// Names `.ci/build-web` gives: `stem-<16 hex digits>.ext`.
fn is_hashed(file: &str) -> bool {
    let stem = file.split('.').next().unwrap_or(file);
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The best precompressed copy the browser accepts: (file suffix, Content-Encoding).
fn accepted_encoding(headers: &HeaderMap) -> (&'static str, Option<&'static str>) {
    let accepted: Vec<String> = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next()?.trim().to_ascii_lowercase();
            let weight = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (weight > 0.0).then_some(name)
        })
        .collect();
    if accepted.iter().any(|c| c == "br") {
        (".br", Some("br"))
    } else if accepted.iter().any(|c| c == "gzip") {
        (".gz", Some("gzip"))
    } else {
        ("", None)
    }
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("webmanifest") => "application/manifest+json",
        _ => "text/plain; charset=utf-8",
    }
}

fn not_found() -> Response {
    crate::server::problem(StatusCode::NOT_FOUND, "no such route")
}

/// The platform runs without its app until `.ci/build-web` (or `.ci/dev`) has built it.
fn not_built() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>slsplay</title></head>\
         <body><h1>The web app is not built</h1><p>Run <code>.ci/dev</code> from the repository, which \
         builds it and starts the platform, or <code>.ci/build-web</code> and reload.</p></body></html>",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_file_names_of_the_folder_are_files() {
        assert_eq!(
            asset_name("app-0123456789abcdef.wasm"),
            Some("app-0123456789abcdef.wasm")
        );
        assert_eq!(asset_name("../secret.txt"), None);
        assert_eq!(asset_name("a/b.js"), None);
        assert_eq!(asset_name(".env.txt"), None);
        assert_eq!(asset_name("events/ev1"), None);
        assert!(has_asset_extension("a/b.js"));
        assert!(!has_asset_extension("invitations/inv-1"));
    }

    #[test]
    fn hashed_names_are_recognised() {
        assert!(is_hashed("app-0123456789abcdef.js"));
        assert!(is_hashed("app_bg-0123456789abcdef.wasm"));
        assert!(!is_hashed("index.html"));
        assert!(!is_hashed("app-0123.js"));
    }

    #[test]
    fn brotli_is_preferred_and_a_refused_coding_is_not_chosen() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
            accepted_encoding(&headers).1
        };
        assert_eq!(with("gzip, deflate, br, zstd"), Some("br"));
        assert_eq!(with("gzip"), Some("gzip"));
        assert_eq!(with("br;q=0, gzip"), Some("gzip"));
        assert_eq!(with("br; q=0.0, gzip;q=0.5"), Some("gzip"));
        assert_eq!(with("identity"), None);
        assert_eq!(accepted_encoding(&HeaderMap::new()).1, None);
    }
}
