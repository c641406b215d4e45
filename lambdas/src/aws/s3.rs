//! Media on S3: uploads by presigned POST (the policy signed with the Lambda's credentials),
//! and what was uploaded read back with a SigV4-signed HEAD.

use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use chrono::{DateTime, Utc};

use crate::api::blobs::{BlobInfo, BlobStore, S3Uploads, UploadForm};

type Pending<'a, T> = std::pin::Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

pub struct S3Blobs {
    pub bucket: String,
    pub region: String,
    /// A test server's address (path-style URLs); `None` on AWS (virtual-host style).
    pub endpoint: Option<String>,
    /// Where browsers fetch media (the CloudFront distribution).
    pub media_base_url: String,
    pub credentials: SharedCredentialsProvider,
    pub http: reqwest::Client,
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
                .map_err(|e| format!("no AWS credentials to sign the upload: {e}"))?;
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
                .map_err(|e| format!("no AWS credentials: {e}"))?;
            // Keys are made by the API and checked before: plain URL-safe segments.
            if !crate::api::blobs::valid_key(key) {
                return Ok(None);
            }
            let identity: Identity = credentials.into();
            let url = format!("{}/{key}", self.bucket_url());
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region(&self.region)
                .name("s3")
                .time(SystemTime::now())
                .settings(SigningSettings::default())
                .build()
                .map_err(|e| e.to_string())?
                .into();
            let signable =
                SignableRequest::new("HEAD", &url, std::iter::empty(), SignableBody::UnsignedPayload)
                    .map_err(|e| e.to_string())?;
            let (instructions, _) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
            let mut request = http::Request::builder()
                .method("HEAD")
                .uri(&url)
                .body(Vec::<u8>::new())
                .map_err(|e| e.to_string())?;
            instructions.apply_to_request_http1x(&mut request);
            let request = reqwest::Request::try_from(request).map_err(|e| e.to_string())?;
            let response = self.http.execute(request).await.map_err(|e| e.to_string())?;
            match response.status().as_u16() {
                200 => {}
                // The role has s3:ListBucket, so a missing key is a 404; a 403 is a
                // misconfiguration to see, not "nothing uploaded".
                404 => return Ok(None),
                status => return Err(format!("S3 answered HEAD {key} with {status}")),
            }
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            Ok(Some(BlobInfo {
                size_bytes: header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0),
                content_type: header("content-type").unwrap_or_default(),
            }))
        })
    }

    fn public_url(&self, key: &str) -> String {
        format!("{}/{key}", self.media_base_url.trim_end_matches('/'))
    }
}
