//! Media on S3: uploads by presigned POST (the policy signed with the Lambda's credentials),
//! and what was uploaded read back with a SigV4-signed HEAD. And the web cache's pages, put
//! and deleted with SigV4-signed requests.

use std::sync::Arc;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use chrono::{DateTime, Utc};
use slsplay_aggregates::Clock;
use slsplay_api::blobs::{BlobError, BlobInfo, BlobStore, Pending, UploadForm, valid_key};
use slsplay_projections::web_cache::{WebPages, WebPagesError};

use crate::s3_post_policy::S3Uploads;

pub struct S3Blobs {
    pub bucket: String,
    pub region: String,
    /// A test server's address (path-style URLs); `None` on AWS (virtual-host style).
    pub endpoint: Option<String>,
    /// Where browsers fetch media (the CloudFront distribution).
    pub media_base_url: String,
    pub credentials: SharedCredentialsProvider,
    pub http: reqwest::Client,
    /// The time in the HEAD request's signature.
    pub clock: Arc<dyn Clock>,
}

impl S3Blobs {
    fn bucket_url(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("{}/{}", endpoint.trim_end_matches('/'), self.bucket),
            None => format!("https://{}.s3.{}.amazonaws.com", self.bucket, self.region),
        }
    }
}

impl BlobStore for S3Blobs {
    fn presign_upload<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
        max_bytes: u64,
        now: DateTime<Utc>,
    ) -> Pending<'a, UploadForm> {
        Box::pin(async move {
            let credentials = self
                .credentials
                .provide_credentials()
                .await
                .map_err(BlobError::store)?;
            let uploads = S3Uploads {
                bucket: self.bucket.clone(),
                region: self.region.clone(),
                access_key_id: credentials.access_key_id().to_owned(),
                secret_access_key: credentials.secret_access_key().to_owned(),
                session_token: credentials.session_token().map(str::to_owned),
                endpoint: self.bucket_url(),
            };
            Ok(uploads.presign(key, content_type, max_bytes, now))
        })
    }

    fn stat<'a>(&'a self, key: &'a str) -> Pending<'a, Option<BlobInfo>> {
        Box::pin(async move {
            let credentials = self
                .credentials
                .provide_credentials()
                .await
                .map_err(BlobError::store)?;
            // Keys are made by the API and checked before: plain URL-safe segments.
            if !valid_key(key) {
                return Err(BlobError::InvalidKey(key.to_owned()));
            }
            let identity: Identity = credentials.into();
            let url = format!("{}/{key}", self.bucket_url());
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region(&self.region)
                .name("s3")
                .time(self.clock.now().into())
                .settings(SigningSettings::default())
                .build()
                .map_err(BlobError::store)?
                .into();
            let signable =
                SignableRequest::new("HEAD", &url, std::iter::empty(), SignableBody::UnsignedPayload)
                    .map_err(BlobError::store)?;
            let (instructions, _) = sign(signable, &params).map_err(BlobError::store)?.into_parts();
            let mut request = http::Request::builder()
                .method("HEAD")
                .uri(&url)
                .body(Vec::<u8>::new())
                .map_err(BlobError::store)?;
            instructions.apply_to_request_http1x(&mut request);
            let request = reqwest::Request::try_from(request).map_err(BlobError::store)?;
            let response = self.http.execute(request).await.map_err(BlobError::store)?;
            match response.status().as_u16() {
                200 => {}
                // The role has s3:ListBucket, so a missing key is a 404; a 403 is a
                // misconfiguration to see, not "nothing uploaded".
                404 => return Ok(None),
                status => {
                    return Err(BlobError::Unexpected(format!(
                        "S3 answered HEAD {key} with {status}"
                    )));
                }
            }
            // S3 always sends both: one missing or unreadable is an answer to look at.
            let header = |name: &str| match response.headers().get(name) {
                None => Err(BlobError::Unexpected(format!(
                    "S3 answered HEAD {key} without a {name}"
                ))),
                Some(value) => value.to_str().map(str::to_owned).map_err(|_| {
                    BlobError::Unexpected(format!("S3 answered HEAD {key} with a {name} that is not text"))
                }),
            };
            let length = header("content-length")?;
            let size_bytes = length.parse().map_err(|_| {
                BlobError::Unexpected(format!(
                    "S3 answered HEAD {key} with content-length {length:?}, not a number"
                ))
            })?;
            let content_type = header("content-type")?;
            Ok(Some(BlobInfo {
                size_bytes,
                content_type,
            }))
        })
    }

    fn public_url(&self, key: &str) -> String {
        format!("{}/{key}", self.media_base_url.trim_end_matches('/'))
    }
}

/// The web cache's pages (`slsplay_projections::web_cache`) in the web bucket, which
/// CloudFront serves beside the app. Written `no-cache`, so CloudFront asks the bucket again
/// (a conditional GET) before it serves a page it holds: a changed page shows at once, with
/// no invalidation.
pub struct S3Pages {
    pub bucket: String,
    pub region: String,
    /// A test server's address (path-style URLs); `None` on AWS (virtual-host style).
    pub endpoint: Option<String>,
    pub credentials: SharedCredentialsProvider,
    pub http: reqwest::Client,
    pub clock: Arc<dyn Clock>,
}

impl S3Pages {
    async fn send(&self, method: &str, path: &str, body: Vec<u8>) -> Result<u16, WebPagesError> {
        if !valid_key(path) {
            return Err(page_error(format!("{path:?} is not a valid page path")));
        }
        let url = match &self.endpoint {
            Some(endpoint) => format!("{}/{}/{path}", endpoint.trim_end_matches('/'), self.bucket),
            None => format!("https://{}.s3.{}.amazonaws.com/{path}", self.bucket, self.region),
        };
        let credentials = self.credentials.provide_credentials().await.map_err(page_error)?;
        let identity: Identity = credentials.into();
        let mut settings = SigningSettings::default();
        // S3 wants the payload's hash in a header of its own.
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(self.clock.now().into())
            .settings(settings)
            .build()
            .map_err(page_error)?
            .into();
        let headers: Vec<(&str, &str)> = if method == "PUT" {
            vec![
                ("content-type", "text/html; charset=utf-8"),
                ("cache-control", "no-cache"),
            ]
        } else {
            Vec::new()
        };
        let signable =
            SignableRequest::new(method, &url, headers.iter().copied(), SignableBody::Bytes(&body))
                .map_err(page_error)?;
        let (instructions, _) = sign(signable, &params).map_err(page_error)?.into_parts();
        let mut request = http::Request::builder().method(method).uri(&url);
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(body).map_err(page_error)?;
        instructions.apply_to_request_http1x(&mut request);
        let request = reqwest::Request::try_from(request).map_err(page_error)?;
        let response = self.http.execute(request).await.map_err(page_error)?;
        Ok(response.status().as_u16())
    }
}

impl WebPages for S3Pages {
    async fn put(&self, path: &str, html: &str) -> Result<(), WebPagesError> {
        // S3 has the object durably once it answers 200.
        match self.send("PUT", path, html.as_bytes().to_vec()).await? {
            200 => Ok(()),
            status => Err(page_error(format!("S3 answered PUT {path} with {status}"))),
        }
    }

    async fn remove(&self, path: &str) -> Result<(), WebPagesError> {
        // 204 whether or not the object was there.
        match self.send("DELETE", path, Vec::new()).await? {
            200 | 204 | 404 => Ok(()),
            status => Err(page_error(format!("S3 answered DELETE {path} with {status}"))),
        }
    }
}

fn page_error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> WebPagesError {
    WebPagesError(e.into())
}
