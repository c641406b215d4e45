//! Where media goes: browsers upload straight to the blob store with a presigned POST (S3's
//! form upload), so large videos never pass through the API. Locally the platform accepts the
//! same form at `/blobs` and checks the same policy: content type, size range and expiry.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::pin::Pin;

use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;

use super::problem::Problem;

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

type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

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

pub fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The policy document of a form upload, as S3 reads it.
fn policy(expires_at: DateTime<Utc>, conditions: Vec<Value>) -> String {
    let document = json!({
        "expiration": expires_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "conditions": conditions,
    });
    STANDARD.encode(document.to_string())
}

/// S3 on AWS: a SigV4-signed POST policy (the Lambda's role credentials sign it).
pub struct S3Uploads {
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// `https://{bucket}.s3.{region}.amazonaws.com`, or a test server's address.
    pub endpoint: String,
}

impl S3Uploads {
    pub fn presign(&self, key: &str, content_type: &str, max_bytes: u64, now: DateTime<Utc>) -> UploadForm {
        let expires_at = now + UPLOAD_WINDOW;
        let date = now.format("%Y%m%d").to_string();
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let credential = format!("{}/{date}/{}/s3/aws4_request", self.access_key_id, self.region);
        let mut fields = BTreeMap::from([
            ("key".to_owned(), key.to_owned()),
            ("Content-Type".to_owned(), content_type.to_owned()),
            ("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
            ("x-amz-credential".to_owned(), credential.clone()),
            ("x-amz-date".to_owned(), amz_date.clone()),
        ]);
        let mut conditions = vec![
            json!({ "bucket": self.bucket }),
            json!({ "key": key }),
            json!({ "Content-Type": content_type }),
            json!(["content-length-range", 1, max_bytes]),
            json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }),
            json!({ "x-amz-credential": credential }),
            json!({ "x-amz-date": amz_date }),
        ];
        if let Some(token) = &self.session_token {
            fields.insert("x-amz-security-token".into(), token.clone());
            conditions.push(json!({ "x-amz-security-token": token }));
        }
        let policy = policy(expires_at, conditions);
        let signing_key = [self.region.as_bytes(), b"s3", b"aws4_request"].iter().fold(
            hmac(
                format!("AWS4{}", self.secret_access_key).as_bytes(),
                date.as_bytes(),
            ),
            |k, part| hmac(&k, part),
        );
        fields.insert(
            "x-amz-signature".into(),
            hex::encode(hmac(&signing_key, policy.as_bytes())),
        );
        fields.insert("policy".into(), policy);
        UploadForm {
            url: self.endpoint.clone(),
            fields,
            object_key: key.to_owned(),
            expires_at,
            max_bytes,
        }
    }
}

/// The local platform's blob store: files under the data folder, uploads checked against a
/// policy signed with a key only this process knows.
pub struct LocalBlobs {
    dir: PathBuf,
    secret: Vec<u8>,
    /// The platform's own address, for upload and download URLs.
    base_url: String,
}

#[derive(Debug, Deserialize)]
struct LocalPolicy {
    expiration: String,
    conditions: Vec<Value>,
}

impl LocalBlobs {
    pub fn new(dir: PathBuf, secret: Vec<u8>, base_url: &str) -> Self {
        Self {
            dir,
            secret,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    fn presign(
        &self,
        key: &str,
        content_type: &str,
        max_bytes: u64,
        now: DateTime<Utc>,
    ) -> Result<UploadForm, String> {
        if !valid_key(key) {
            return Err(format!("{key:?} is not a valid object key"));
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
        if written.is_err() {
            let _ = tokio::fs::remove_file(&partial).await;
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
        let expired = DateTime::parse_from_rfc3339(&policy.expiration).map_or(true, |t| t < Utc::now());
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
                    range = (r[1].as_u64().unwrap_or(0), r[2].as_u64().unwrap_or(0));
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

/// Keys are made by the API (`events/{id}/{kind}/{uuid}`); anything else is refused, which
/// also keeps paths inside the blob folder.
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
                return Ok(None);
            };
            let size = match tokio::fs::metadata(&path).await {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e.to_string()),
            };
            let content_type = tokio::fs::read_to_string(path.with_extension("type"))
                .await
                .map_err(|e| e.to_string())?;
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
pub async fn upload(State(blobs): State<std::sync::Arc<LocalBlobs>>, form: Multipart) -> Response {
    match blobs.accept(form).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// `GET /blobs/{key}`: serves an uploaded object with its content type.
pub async fn download(State(blobs): State<std::sync::Arc<LocalBlobs>>, Path(key): Path<String>) -> Response {
    let Some(path) = blobs.path_of(&key) else {
        return Problem::not_found().into_response();
    };
    let (Ok(bytes), Ok(content_type)) = (
        tokio::fs::read(&path).await,
        tokio::fs::read_to_string(path.with_extension("type")).await,
    ) else {
        return Problem::not_found().into_response();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s3_signing_key_follows_sigv4() {
        // AWS's published example: secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
        // 20120215, us-east-1, iam.
        let key = [b"us-east-1".as_slice(), b"iam", b"aws4_request"].iter().fold(
            hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20120215"),
            |k, part| hmac(&k, part),
        );
        assert_eq!(
            hex::encode(&key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn an_s3_policy_binds_key_type_and_size() {
        let s3 = S3Uploads {
            bucket: "media".into(),
            region: "eu-west-1".into(),
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: Some("session".into()),
            endpoint: "https://media.s3.eu-west-1.amazonaws.com".into(),
        };
        let now = DateTime::parse_from_rfc3339("2030-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let form = s3.presign("events/e1/photo/p1", "image/png", 1000, now);
        let policy: Value =
            serde_json::from_slice(&STANDARD.decode(&form.fields["policy"]).unwrap()).unwrap();
        assert_eq!(policy["expiration"], "2030-01-02T03:19:05.000Z");
        let conditions = policy["conditions"].as_array().unwrap();
        assert!(conditions.contains(&json!(["content-length-range", 1, 1000])));
        assert!(conditions.contains(&json!({ "Content-Type": "image/png" })));
        assert!(conditions.contains(&json!({ "x-amz-security-token": "session" })));
        assert_eq!(
            form.fields["x-amz-credential"],
            "AKID/20300102/eu-west-1/s3/aws4_request"
        );
        assert_eq!(form.fields["x-amz-signature"].len(), 64);
    }

    #[test]
    fn keys_cannot_leave_the_blob_folder() {
        assert!(valid_key("events/e1/photo/0193"));
        for bad in ["", "../x", "events/../../etc", "/abs", "a//b", "a/./b", "a b"] {
            assert!(!valid_key(bad), "{bad}");
        }
    }
}
