//! The pieces of an OpenID Connect authorization code flow with PKCE (RFC 7636) that need care:
//! the verifier and its S256 challenge, and where a finished sign-in may send the browser.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A code verifier (or a `state`, or a `nonce`) from `random` bytes: base64url, 43 characters
/// for the 32 bytes the sign-in uses, inside RFC 7636's 43 to 128.
pub fn encode_random(random: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// 32 random bytes from the browser, encoded: for verifiers, states, nonces and idempotency
/// keys.
pub fn random() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
        .ok_or_else(|| "this browser cannot make the random numbers this needs".to_owned())?;
    Ok(encode_random(&bytes))
}

/// The S256 challenge the authorization request carries for `verifier`.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Where to go after signing in: a path of this app only, so a crafted link cannot send a
/// fresh session to another site (`//evil.example` and `/\evil.example` are other sites to a
/// browser).
pub fn safe_return(path: &str) -> &str {
    let same_site = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(char::is_control);
    if same_site { path } else { "/my/events" }
}

/// The claims of a JWT's payload, not verified: the API verifies the token, the app only
/// reads when it lapses and whom it names.
pub fn payload(token: &str) -> Option<serde_json::Value> {
    let part = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    // From text, as the API's answers are read: one copy of the JSON reader in the app.
    serde_json::from_str(std::str::from_utf8(&bytes).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s_example() {
        // RFC 7636, appendix B.
        let verifier = encode_random(&[
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105,
            214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ]);
        assert_eq!(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            challenge(&verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn only_paths_of_this_app_are_returned_to() {
        assert_eq!(
            safe_return("/my/events/ev-1?tab=guests"),
            "/my/events/ev-1?tab=guests"
        );
        for elsewhere in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "",
            "my/events",
            "/a\nb",
        ] {
            assert_eq!(safe_return(elsewhere), "/my/events", "{elsewhere:?}");
        }
    }

    #[test]
    fn a_tokens_payload_is_read_and_garbage_is_not() {
        let claims = URL_SAFE_NO_PAD.encode(br#"{"exp":1700000000,"email":"a@b.c"}"#);
        let token = format!("eyJhbGciOiJSUzI1NiJ9.{claims}.c2ln");
        let read = payload(&token).unwrap();
        assert_eq!(read["exp"], 1_700_000_000);
        assert_eq!(read["email"], "a@b.c");
        assert_eq!(payload("not a token"), None);
        assert_eq!(payload("a.!!!.c"), None);
    }
}
