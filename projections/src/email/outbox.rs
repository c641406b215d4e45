//! The outbox: every email the builder decided on, keyed by (recipient, cause), with when it
//! was handed to delivery.

use std::path::Path;

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
    pub sent_at: Option<String>,
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

    /// Every email not yet handed to delivery, oldest first.
    pub fn unsent(&self, limit: usize) -> rusqlite::Result<Vec<Unsent>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, recipient, eml FROM outbox WHERE sent_at IS NULL ORDER BY created_at, id LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        stmt.query_map([limit], |r| {
            Ok(Unsent {
                id: r.get(0)?,
                recipient: r.get(1)?,
                eml: r.get(2)?,
            })
        })?
        .collect()
    }

    /// Claims an email for sending; `false` if it was already claimed. Claiming before sending
    /// is what keeps it to at most one email per (recipient, cause): a crash between the two
    /// loses that email instead of sending it twice.
    pub fn claim(&self, id: &str, at: &str) -> rusqlite::Result<bool> {
        let claimed = self.conn.execute(
            "UPDATE outbox SET sent_at = ?2 WHERE id = ?1 AND sent_at IS NULL",
            params![id, at],
        )?;
        Ok(claimed == 1)
    }

    /// Gives a claim back after a delivery that certainly failed (the relay refused it), so a
    /// later attempt sends it.
    pub fn release(&self, id: &str) -> rusqlite::Result<()> {
        self.conn
            .execute("UPDATE outbox SET sent_at = NULL WHERE id = ?1", [id])?;
        Ok(())
    }
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
}
