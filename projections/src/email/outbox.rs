//! The outbox: every email the builder decided on, keyed by (recipient, cause), with when a
//! delivery claimed it and when delivery confirmed it.
//!
//! A delivery claims an email, hands it over (file, SMTP, SES) and confirms it. A claim that
//! is never confirmed (the process died in between) lapses after [`CLAIM_LEASE`], and the next
//! delivery sends the email again with the same Message-ID: an email may, rarely, arrive twice
//! (recognisably), but it is never lost.

use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, params};
use serde::{Deserialize, Serialize};

use crate::schema::{Key, ReadModel, Table, text};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub recipient: String,
    /// Why it is sent: `invitation:<id>`, `rsvp:<event>:<sequence>:<kind>`,
    /// `rescheduled:<event>:<sequence>`, `cancelled:<event>:<sequence>`.
    pub cause: String,
    /// Stable id of the message (also its Message-ID and file name).
    pub id: String,
    pub event_id: String,
    pub kind: String,
    pub subject: String,
    /// The whole message, RFC 5322.
    pub eml: String,
    pub created_at: String,
    /// When a delivery last took the email ([`claim_stamp`]); it holds for [`CLAIM_LEASE`].
    pub claimed_at: Option<String>,
    /// When delivery confirmed the email handed over.
    pub sent_at: Option<String>,
}

/// How long a claim keeps other deliveries off an email: past the longest one delivery may
/// take (lettre's SMTP timeout is a minute per step; the send-emails Lambda's timeout must stay
/// below it), short enough that a crash delays the email by minutes at most. The local
/// platform does not wait for it after a restart.
pub const CLAIM_LEASE: chrono::Duration = chrono::Duration::minutes(2);

/// A claim's time as stored: UTC to the millisecond, fixed width, so that comparing the text
/// (a DynamoDB condition, an SQL `<`) compares the times.
pub fn claim_stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl ReadModel for OutboxMessage {
    const TABLE: Table = Table {
        name: "outbox",
        partition_key: "recipient",
        sort_key: Some("cause"),
        columns: &[
            text("recipient"),
            text("cause"),
            text("id"),
            text("event_id"),
            text("kind"),
            text("subject"),
            text("eml"),
            text("created_at"),
            text("claimed_at"),
            text("sent_at"),
        ],
    };

    fn key(&self) -> Key {
        Key::with_sort(self.recipient.clone(), self.cause.clone())
    }
}

/// A stable message id from (recipient, cause): FNV-1a, 64 bits, in hex.
pub fn message_id(recipient: &str, cause: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in recipient.bytes().chain([0]).chain(cause.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// An email as listed by `/dev/mail`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listed {
    pub id: String,
    pub recipient: String,
    pub cause: String,
    pub kind: String,
    pub event_id: String,
    pub subject: String,
    pub created_at: String,
    pub sent_at: Option<String>,
}

/// An email waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsent {
    pub id: String,
    pub recipient: String,
    pub eml: String,
}

/// Reads and settles the outbox of the local platform, beside the builder that fills it.
pub struct SqliteOutbox {
    conn: Connection,
}

impl SqliteOutbox {
    /// Opens the mail store the email builder writes (`mail.sqlite3`), which must exist.
    pub fn open(path: impl AsRef<Path>) -> rusqlite::Result<Self> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Self { conn })
    }

    /// Newest first.
    pub fn list(&self, limit: usize) -> rusqlite::Result<Vec<Listed>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, recipient, cause, kind, event_id, subject, created_at, sent_at FROM outbox
             ORDER BY created_at DESC, id LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        stmt.query_map([limit], |r| {
            Ok(Listed {
                id: r.get(0)?,
                recipient: r.get(1)?,
                cause: r.get(2)?,
                kind: r.get(3)?,
                event_id: r.get(4)?,
                subject: r.get(5)?,
                created_at: r.get(6)?,
                sent_at: r.get(7)?,
            })
        })?
        .collect()
    }

    pub fn eml(&self, id: &str) -> rusqlite::Result<Option<String>> {
        use rusqlite::OptionalExtension;
        self.conn
            .query_row("SELECT eml FROM outbox WHERE id = ?1", [id], |r| r.get(0))
            .optional()
    }

    /// Every email not confirmed and not held by a live claim, oldest first.
    pub fn unsent(&self, limit: usize, now: DateTime<Utc>) -> rusqlite::Result<Vec<Unsent>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, recipient, eml FROM outbox
             WHERE sent_at IS NULL AND (claimed_at IS NULL OR claimed_at < ?2)
             ORDER BY created_at, id LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        stmt.query_map(params![limit, lapsed_before(now)], |r| {
            Ok(Unsent {
                id: r.get(0)?,
                recipient: r.get(1)?,
                eml: r.get(2)?,
            })
        })?
        .collect()
    }

    /// Claims an email for delivery until `now + CLAIM_LEASE`; `false` if it is confirmed or
    /// another claim still holds it.
    pub fn claim(&self, id: &str, now: DateTime<Utc>) -> rusqlite::Result<bool> {
        let claimed = self.conn.execute(
            "UPDATE outbox SET claimed_at = ?2
             WHERE id = ?1 AND sent_at IS NULL AND (claimed_at IS NULL OR claimed_at < ?3)",
            params![id, claim_stamp(now), lapsed_before(now)],
        )?;
        Ok(claimed == 1)
    }

    /// Records that delivery took the email.
    pub fn confirm(&self, id: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE outbox SET sent_at = ?2 WHERE id = ?1",
            params![id, now.to_rfc3339()],
        )?;
        Ok(())
    }

    /// Gives a claim back after a delivery that certainly failed (the relay refused it), so
    /// the next attempt sends it without waiting for the lease.
    pub fn release(&self, id: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE outbox SET claimed_at = NULL WHERE id = ?1 AND sent_at IS NULL",
            [id],
        )?;
        Ok(())
    }

    /// Frees every unconfirmed claim: for the one process that holds the data folder, at its
    /// start, a claim of an earlier run can only be one it died holding.
    pub fn free_claims_of_earlier_runs(&self) -> rusqlite::Result<usize> {
        self.conn.execute(
            "UPDATE outbox SET claimed_at = NULL WHERE sent_at IS NULL AND claimed_at IS NOT NULL",
            [],
        )
    }
}

/// Claims stamped before this have lapsed.
fn lapsed_before(now: DateTime<Utc>) -> String {
    claim_stamp(now - CLAIM_LEASE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_tell_causes_apart() {
        assert_eq!(
            message_id("a@b.c", "invitation:1"),
            message_id("a@b.c", "invitation:1")
        );
        assert_ne!(
            message_id("a@b.c", "invitation:1"),
            message_id("a@b.c", "invitation:2")
        );
        assert_ne!(
            message_id("a@b.ci", "nvitation:1"),
            message_id("a@b.c", "invitation:1")
        );
    }

    fn outbox_with(ids: &[&str]) -> (tempfile::TempDir, SqliteOutbox) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mail.sqlite3");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&crate::store::sqlite::create_table(&OutboxMessage::TABLE))
            .unwrap();
        for (i, id) in ids.iter().enumerate() {
            conn.execute(
                "INSERT INTO outbox (recipient, cause, id, eml, created_at) VALUES (?1, ?2, ?3, 'eml', ?4)",
                params![
                    format!("{id}@example.com"),
                    format!("invitation:{id}"),
                    id,
                    format!("2030-01-01T00:00:0{i}Z")
                ],
            )
            .unwrap();
        }
        (dir, SqliteOutbox::open(path).unwrap())
    }

    fn waiting(outbox: &SqliteOutbox, now: DateTime<Utc>) -> Vec<String> {
        outbox
            .unsent(10, now)
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect()
    }

    #[test]
    fn a_claim_never_confirmed_lapses_and_the_email_is_delivered_again() {
        let (_dir, outbox) = outbox_with(&["a", "b"]);
        let t0: DateTime<Utc> = "2030-01-01T10:00:00Z".parse().unwrap();
        assert!(outbox.claim("a", t0).unwrap());
        // Held by the claim: not offered, not claimable, until the lease has passed.
        assert!(!outbox.claim("a", t0 + chrono::Duration::seconds(1)).unwrap());
        assert_eq!(waiting(&outbox, t0 + CLAIM_LEASE), ["b"]);
        let later = t0 + CLAIM_LEASE + chrono::Duration::milliseconds(1);
        assert_eq!(waiting(&outbox, later), ["a", "b"]);
        assert!(outbox.claim("a", later).unwrap());
        outbox.confirm("a", later).unwrap();
        // Confirmed: never again, however late.
        let much_later = later + CLAIM_LEASE * 10;
        assert!(!outbox.claim("a", much_later).unwrap());
        assert_eq!(waiting(&outbox, much_later), ["b"]);
    }

    #[test]
    fn a_released_claim_and_the_claims_of_an_earlier_run_are_free_at_once() {
        let (_dir, outbox) = outbox_with(&["a", "b", "c"]);
        let t0: DateTime<Utc> = "2030-01-01T10:00:00Z".parse().unwrap();
        for id in ["a", "b", "c"] {
            assert!(outbox.claim(id, t0).unwrap());
        }
        outbox.confirm("c", t0).unwrap();
        outbox.release("a").unwrap();
        assert_eq!(waiting(&outbox, t0), ["a"]);
        assert_eq!(outbox.free_claims_of_earlier_runs().unwrap(), 1);
        assert_eq!(waiting(&outbox, t0), ["a", "b"]);
    }

    #[test]
    fn claim_stamps_compare_as_text_as_the_times_do() {
        let times = [
            "2030-01-01T09:59:59.999Z",
            "2030-01-01T10:00:00Z",
            "2030-01-01T10:00:00.001Z",
            "2030-01-01T10:00:00.010Z",
            "2030-01-01T10:00:00.100Z",
        ];
        let stamps: Vec<String> = times.iter().map(|t| claim_stamp(t.parse().unwrap())).collect();
        let mut sorted = stamps.clone();
        sorted.sort();
        assert_eq!(stamps, sorted);
        assert_eq!(stamps[1], "2030-01-01T10:00:00.000Z");
    }
}
