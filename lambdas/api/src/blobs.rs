//! Where media goes: browsers upload straight to the blob store with a presigned POST (S3's
//! form upload), so large videos never pass through the API. This is the port; the local
//! store (`slsplay_local::blobs`) and S3 (`slsplay_aws::s3`) implement it.

use std::collections::BTreeMap;
use std::pin::Pin;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use utoipa::ToSchema;

/// How long a presigned upload stays usable.
pub const UPLOAD_WINDOW: Duration = Duration::minutes(15);

/// A presigned form upload: POST `url` as multipart/form-data with every field of `fields`,
/// then the file as the last part named `file`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UploadForm {
    pub url: String,
    pub fields: BTreeMap<String, String>,
    /// Attach the media with this key once the upload succeeded.
    pub object_key: String,
    pub expires_at: DateTime<Utc>,
    pub max_bytes: u64,
}

/// What the blob store knows of an uploaded object.
#[derive(Debug, Clone, PartialEq)]
pub struct BlobInfo {
    pub size_bytes: u64,
    pub content_type: String,
}

/// Why the blob store could not answer. Every variant is our side's failure: the API answers
/// 503 and logs the cause.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// Handling: a bug in the caller, which makes every key (`valid_key`); log it.
    #[error("{0:?} is not a valid object key")]
    InvalidKey(String),
    /// Handling: the store failed or is unreachable; the client may retry.
    #[error("the blob store failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Handling: the store answered something it should not have; log it.
    #[error("the blob store answered unexpectedly: {0}")]
    Unexpected(String),
    /// Handling: a wiring mistake; this store only builds media URLs (GraphQL's).
    #[error("this blob store only builds media URLs")]
    ReadOnly,
}

impl BlobError {
    pub fn store(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Store(Box::new(e))
    }
}

pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, BlobError>> + Send + 'a>>;

pub trait BlobStore: Send + Sync {
    fn presign_upload<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
        max_bytes: u64,
        now: DateTime<Utc>,
    ) -> Pending<'a, UploadForm>;
    /// The stored object's size and type, `None` when nothing was uploaded under `key`.
    fn stat<'a>(&'a self, key: &'a str) -> Pending<'a, Option<BlobInfo>>;
    /// Where browsers fetch the object (CloudFront on AWS).
    fn public_url(&self, key: &str) -> String;
}

/// Only builds the URLs of media; for a service that shows media but never uploads (GraphQL).
pub struct MediaUrls(pub String);

impl BlobStore for MediaUrls {
    fn presign_upload<'a>(
        &'a self,
        _key: &'a str,
        _content_type: &'a str,
        _max_bytes: u64,
        _now: DateTime<Utc>,
    ) -> Pending<'a, UploadForm> {
        Box::pin(async { Err(BlobError::ReadOnly) })
    }

    fn stat<'a>(&'a self, _key: &'a str) -> Pending<'a, Option<BlobInfo>> {
        Box::pin(async { Err(BlobError::ReadOnly) })
    }

    fn public_url(&self, key: &str) -> String {
        format!("{}/{key}", self.0.trim_end_matches('/'))
    }
}

pub fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The policy document of a form upload, base64 as S3 reads it; the local store checks the
/// same document.
pub fn policy(expires_at: DateTime<Utc>, conditions: Vec<Value>) -> String {
    let document = json!({
        "expiration": expires_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "conditions": conditions,
    });
    STANDARD.encode(document.to_string())
}

/// Keys are made by the API (`events/{id}/{kind}/{uuid}`); anything else is refused, which
/// also keeps paths inside the local blob folder.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_leave_the_blob_folder() {
        assert!(valid_key("events/e1/photo/0193"));
        for bad in ["", "../x", "events/../../etc", "/abs", "a//b", "a/./b", "a b"] {
            assert!(!valid_key(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn media_urls_build_urls_and_refuse_uploads() {
        let urls = MediaUrls("https://media.example/".into());
        assert_eq!(
            urls.public_url("events/e/photo/p"),
            "https://media.example/events/e/photo/p"
        );
        assert!(matches!(
            urls.stat("events/e/photo/p").await,
            Err(BlobError::ReadOnly)
        ));
    }
}
