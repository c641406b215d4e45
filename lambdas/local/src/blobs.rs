//! The local platform's blob store: the stand-in for S3's form upload at `/blobs`. It checks
//! the same policy S3 would (signature, expiry, key, content type, size range) and keeps the
//! files under the data folder.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use slsplay_aggregates::Clock;
use slsplay_api::blobs::{
    BlobError, BlobInfo, BlobStore, Pending, UPLOAD_WINDOW, UploadForm, hmac, policy, valid_key,
};
use slsplay_api::problem::Problem;
use slsplay_projections::web_cache::{WebPages, WebPagesError};
use tokio::io::AsyncWriteExt;

/// The local platform's blob store: files under the data folder, uploads checked against a
/// policy signed with a key only this process knows.
pub struct LocalBlobs {
    dir: PathBuf,
    secret: Vec<u8>,
    /// The platform's own address, for upload and download URLs.
    base_url: String,
    /// Decides whether an upload's policy has expired.
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Deserialize)]
struct LocalPolicy {
    expiration: String,
    conditions: Vec<Value>,
}

impl LocalBlobs {
    pub fn new(dir: PathBuf, secret: Vec<u8>, base_url: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            dir,
            secret,
            base_url: base_url.trim_end_matches('/').to_owned(),
            clock,
        }
    }

    fn presign(
        &self,
        key: &str,
        content_type: &str,
        max_bytes: u64,
        now: DateTime<Utc>,
    ) -> Result<UploadForm, BlobError> {
        if !valid_key(key) {
            return Err(BlobError::InvalidKey(key.to_owned()));
        }
        let expires_at = now + UPLOAD_WINDOW;
        let policy = policy(
            expires_at,
            vec![
                json!({ "key": key }),
                json!({ "Content-Type": content_type }),
                json!(["content-length-range", 1, max_bytes]),
            ],
        );
        let signature = hex::encode(hmac(&self.secret, policy.as_bytes()));
        Ok(UploadForm {
            url: format!("{}/blobs", self.base_url),
            fields: BTreeMap::from([
                ("key".to_owned(), key.to_owned()),
                ("Content-Type".to_owned(), content_type.to_owned()),
                ("policy".to_owned(), policy),
                ("x-amz-signature".to_owned(), signature),
            ]),
            object_key: key.to_owned(),
            expires_at,
            max_bytes,
        })
    }

    fn path_of(&self, key: &str) -> Option<PathBuf> {
        valid_key(key).then(|| self.dir.join(key))
    }

    /// Checks a posted form against its policy and streams the file to disk; S3's statuses.
    async fn accept(&self, mut form: Multipart) -> Result<(), Problem> {
        let malformed = |e: axum::extract::multipart::MultipartError| {
            Problem::new(StatusCode::BAD_REQUEST, "malformed-form", e.body_text())
        };
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        let mut file = loop {
            let Some(field) = form.next_field().await.map_err(malformed)? else {
                return Err(Problem::field(
                    StatusCode::BAD_REQUEST,
                    "malformed-form",
                    "file",
                    "is required, as the last field",
                ));
            };
            if field.name() == Some("file") {
                break field;
            }
            let name = field.name().unwrap_or_default().to_owned();
            fields.insert(name, field.text().await.map_err(malformed)?);
        };
        let (min, max) = self.check_policy(&fields)?;
        let key = fields.get("key").map(String::as_str).unwrap_or_default();
        let path = self.path_of(key).ok_or_else(|| refused("the key is not valid"))?;
        let content_type = fields.get("Content-Type").cloned().unwrap_or_default();
        let unavailable = |e: std::io::Error| Problem::unavailable("cannot store an upload", &e);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(unavailable)?;
        }
        // Written aside and renamed: a reader never sees half a file.
        let partial = path.with_extension("partial");
        let mut out = tokio::fs::File::create(&partial).await.map_err(unavailable)?;
        let mut size = 0u64;
        let written = async {
            while let Some(chunk) = file.chunk().await.map_err(malformed)? {
                size += chunk.len() as u64;
                if size > max {
                    return Err(Problem::new(
                        StatusCode::BAD_REQUEST,
                        "entity-too-large",
                        format!("the file is larger than the {max} bytes allowed"),
                    ));
                }
                out.write_all(&chunk).await.map_err(unavailable)?;
            }
            if size < min {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "entity-too-small",
                    format!("the file is smaller than the {min} bytes required"),
                ));
            }
            out.sync_all().await.map_err(unavailable)?;
            tokio::fs::write(path.with_extension("type"), &content_type)
                .await
                .map_err(unavailable)?;
            tokio::fs::rename(&partial, &path).await.map_err(unavailable)
        }
        .await;
        if written.is_err()
            && let Err(e) = tokio::fs::remove_file(&partial).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            // The refusal stands; the leftover is only disk space, and the next upload of
            // this key overwrites it.
            tracing::warn!(error = %e, path = %partial.display(), "cannot remove a refused upload");
        }
        written
    }

    /// The signature, expiry and every condition of the form's policy; the allowed size range.
    fn check_policy(&self, fields: &BTreeMap<String, String>) -> Result<(u64, u64), Problem> {
        let policy_b64 = fields.get("policy").ok_or_else(|| refused("no policy"))?;
        let signature = fields
            .get("x-amz-signature")
            .ok_or_else(|| refused("no signature"))?;
        let expected = hex::encode(hmac(&self.secret, policy_b64.as_bytes()));
        if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
            return Err(refused("the signature does not match the policy"));
        }
        let policy: LocalPolicy = STANDARD
            .decode(policy_b64)
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or_else(|| refused("the policy is not readable"))?;
        let expired = DateTime::parse_from_rfc3339(&policy.expiration).map_or(true, |t| t < self.clock.now());
        if expired {
            return Err(refused("the policy has expired; ask for a new upload"));
        }
        let mut range = (0, 0);
        for condition in &policy.conditions {
            match condition {
                Value::Object(map) => {
                    for (name, wanted) in map {
                        if fields.get(name).map(String::as_str) != wanted.as_str() {
                            return Err(refused(&format!("{name} does not match the policy")));
                        }
                    }
                }
                Value::Array(r) if r.len() == 3 && r[0] == "content-length-range" => {
                    range = r[1]
                        .as_u64()
                        .zip(r[2].as_u64())
                        .ok_or_else(|| refused("the policy's content-length-range is not readable"))?;
                }
                _ => return Err(refused("the policy has a condition this store does not know")),
            }
        }
        Ok(range)
    }
}

fn refused(message: &str) -> Problem {
    Problem::new(StatusCode::FORBIDDEN, "upload-refused", message)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl BlobStore for LocalBlobs {
    fn presign_upload<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
        max_bytes: u64,
        now: DateTime<Utc>,
    ) -> Pending<'a, UploadForm> {
        let form = self.presign(key, content_type, max_bytes, now);
        Box::pin(async move { form })
    }

    fn stat<'a>(&'a self, key: &'a str) -> Pending<'a, Option<BlobInfo>> {
        Box::pin(async move {
            let Some(path) = self.path_of(key) else {
                return Err(BlobError::InvalidKey(key.to_owned()));
            };
            let size = match tokio::fs::metadata(&path).await {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(BlobError::store(e)),
            };
            let content_type = tokio::fs::read_to_string(path.with_extension("type"))
                .await
                .map_err(BlobError::store)?;
            Ok(Some(BlobInfo {
                size_bytes: size,
                content_type,
            }))
        })
    }

    fn public_url(&self, key: &str) -> String {
        format!("{}/blobs/{key}", self.base_url)
    }
}

/// `POST /blobs`: the local stand-in for S3's form upload. 204 like S3.
pub async fn upload(State(blobs): State<Arc<LocalBlobs>>, form: Multipart) -> Response {
    match blobs.accept(form).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// `GET /blobs/{key}`: serves an uploaded object with its content type.
pub async fn download(State(blobs): State<Arc<LocalBlobs>>, Path(key): Path<String>) -> Response {
    let Some(path) = blobs.path_of(&key) else {
        return Problem::not_found().into_response();
    };
    let read = async {
        let bytes = tokio::fs::read(&path).await?;
        let content_type = tokio::fs::read_to_string(path.with_extension("type")).await?;
        Ok::<_, std::io::Error>((bytes, content_type))
    };
    let (bytes, content_type) = match read.await {
        Ok(found) => found,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Problem::not_found().into_response(),
        Err(e) => return Problem::unavailable("cannot read an uploaded object", &e).into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CACHE_CONTROL,
                "public, max-age=31536000, immutable".to_owned(),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        Body::from(bytes),
    )
        .into_response()
}

/// The web cache's pages (`slsplay_projections::web_cache`): files in the blob store's folder,
/// under `e/`, which `/e/{share_id}` serves.
pub struct LocalPages {
    dir: PathBuf,
}

impl LocalPages {
    /// `dir` is the blob store's folder.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path_of(&self, path: &str) -> Result<PathBuf, WebPagesError> {
        if valid_key(path) {
            Ok(self.dir.join(path))
        } else {
            Err(pages_failed(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{path:?} is not a valid page path"),
            )))
        }
    }

    /// The page at `path`, if there is one.
    pub async fn page(&self, path: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Ok(file) = self.path_of(path) else {
            return Ok(None);
        };
        match tokio::fs::read(file).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl WebPages for LocalPages {
    async fn put(&self, path: &str, html: &str) -> Result<(), WebPagesError> {
        let file = self.path_of(path)?;
        let dir = file.parent().expect("a page path has a folder").to_owned();
        let html = html.to_owned();
        // Written aside, synced, renamed and the folder synced: the builder's checkpoint moves
        // on only once the page would survive a crash.
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            let partial = file.with_extension("partial");
            let mut out = std::fs::File::create(&partial)?;
            std::io::Write::write_all(&mut out, html.as_bytes())?;
            out.sync_all()?;
            std::fs::rename(&partial, &file)?;
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
        .map_err(|e| pages_failed(std::io::Error::other(e)))?
        .map_err(pages_failed)
    }

    async fn remove(&self, path: &str) -> Result<(), WebPagesError> {
        match tokio::fs::remove_file(self.path_of(path)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(pages_failed(e)),
        }
    }
}

fn pages_failed(e: std::io::Error) -> WebPagesError {
    WebPagesError(Box::new(e))
}
