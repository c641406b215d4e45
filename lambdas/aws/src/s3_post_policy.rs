//! The S3 form upload's POST policy, signed with SigV4 by the Lambda's role credentials, so
//! browsers upload media straight to the bucket within the bounds the API chose.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use slsplay_api::blobs::{UPLOAD_WINDOW, UploadForm, hmac, policy};

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

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::Value;

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
}
