//! What the aggregate needs from outside: the time, and the key that makes invitation tokens.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::clock::Clock;

/// How long an acceptance on a paid event keeps its seat while the guest pays.
pub const DEFAULT_SEAT_HOLD: Duration = Duration::minutes(15);

#[derive(Debug, Clone)]
pub struct VirtualEventServices {
    pub clock: Arc<dyn Clock>,
    pub tokens: InvitationTokens,
    pub seat_hold: Duration,
}

impl VirtualEventServices {
    pub fn new(clock: Arc<dyn Clock>, tokens: InvitationTokens) -> Self {
        Self {
            clock,
            tokens,
            seat_hold: DEFAULT_SEAT_HOLD,
        }
    }
}

/// Invitation tokens are an HMAC of (event, invitation) under a server secret: unguessable
/// without the secret, never stored (the store keeps a SHA-256 of each), and re-derivable by
/// the mailer, which needs the token to build the personal link.
#[derive(Clone)]
pub struct InvitationTokens {
    secret: Arc<[u8]>,
}

impl std::fmt::Debug for InvitationTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InvitationTokens(<secret>)")
    }
}

/// Tokens made with a shorter key would be brute-forceable.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
#[error("the invitation token secret must be at least {MIN_SECRET_BYTES} bytes, got {0}")]
pub struct WeakSecret(pub usize);

impl InvitationTokens {
    pub fn new(secret: &[u8]) -> Result<Self, WeakSecret> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(WeakSecret(secret.len()));
        }
        Ok(Self {
            secret: secret.into(),
        })
    }

    /// The token of the personal link of one invitation (43 URL-safe characters).
    pub fn token_for(&self, event_id: &str, invitation_id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key size");
        mac.update(event_id.as_bytes());
        mac.update(b"\0");
        mac.update(invitation_id.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The event's public name in links (22 URL-safe characters): its preview page is
    /// `/e/{share_id}`. Keyed, so pages cannot be found from event ids.
    pub fn share_id(&self, event_id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key size");
        mac.update(b"share\0");
        mac.update(event_id.as_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
    }

    /// What the store keeps of a token.
    pub fn hash(token: &str) -> String {
        hex::encode(Sha256::digest(token.as_bytes()))
    }
}

/// Invitation ids are derived from the event and the normalised email, so inviting the same
/// person twice (or retrying an Invite) names the same invitation.
pub fn invitation_id(event_id: &str, email: &str) -> String {
    let digest = Sha256::digest(format!("{event_id}\0{email}").as_bytes());
    format!("inv_{}", &hex::encode(digest)[..20])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_secret_is_refused() {
        assert!(InvitationTokens::new(b"short").is_err());
    }

    #[test]
    fn tokens_depend_on_the_secret_the_event_and_the_invitation() {
        let a = InvitationTokens::new(&[1; 32]).unwrap();
        let b = InvitationTokens::new(&[2; 32]).unwrap();
        let t = a.token_for("ev1", "inv1");
        assert_eq!(t, a.token_for("ev1", "inv1"));
        assert_ne!(t, b.token_for("ev1", "inv1"));
        assert_ne!(t, a.token_for("ev2", "inv1"));
        assert_ne!(t, a.token_for("ev1", "inv2"));
        assert_eq!(t.len(), 43);
    }

    #[test]
    fn share_ids_depend_on_the_secret_and_the_event_and_are_no_token() {
        let a = InvitationTokens::new(&[1; 32]).unwrap();
        let b = InvitationTokens::new(&[2; 32]).unwrap();
        let s = a.share_id("ev1");
        assert_eq!(s, a.share_id("ev1"));
        assert_ne!(s, b.share_id("ev1"));
        assert_ne!(s, a.share_id("ev2"));
        assert_eq!(s.len(), 22);
        assert!(
            s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        // An invitation id that spells "share" cannot make a share id a token.
        assert!(!a.token_for("share", "ev1").starts_with(&s));
    }

    #[test]
    fn the_stored_hash_is_not_the_token() {
        let t = InvitationTokens::new(&[1; 32]).unwrap().token_for("ev1", "inv1");
        let h = InvitationTokens::hash(&t);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&t));
    }
}
