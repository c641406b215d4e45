//! The local platform's idempotency keys, in SQLite beside its other files (DynamoDB with a
//! TTL on AWS: `slsplay_aws::idempotency`).

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use slsplay_api::idempotency::{
    IN_FLIGHT_SECONDS, IdempotencyError, IdempotencyKeys, KEEP_SECONDS, Pending, Recorded, StoredAnswer,
    decode_headers, encode_headers,
};

/// The local platform's keys, in SQLite beside its other files.
#[derive(Clone)]
pub struct SqliteIdempotency {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteIdempotency {
    /// Opens the store of a data folder that this process holds alone (`slsplay dev` locks
    /// it): a key a previous run claimed but never answered cannot be in flight any more, so
    /// it is freed now instead of refusing every retry until [`IN_FLIGHT_SECONDS`] pass.
    pub fn open(path: impl AsRef<Path>) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS idempotency_keys (
                scope       TEXT    NOT NULL,
                key         TEXT    NOT NULL,
                fingerprint TEXT    NOT NULL,
                status      INTEGER,
                headers     TEXT,
                body        BLOB,
                created_at  INTEGER NOT NULL,
                PRIMARY KEY (scope, key)
            );
            CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON idempotency_keys (created_at);
            DELETE FROM idempotency_keys WHERE status IS NULL;",
        )?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<Option<Recorded>, IdempotencyError> {
        let conn = self.conn.lock().expect("idempotency store poisoned");
        let store = IdempotencyError::store;
        // Keys past keeping go (all of them, through the index), and a first request that
        // never finished frees its key.
        conn.execute(
            "DELETE FROM idempotency_keys WHERE created_at < ?1",
            params![now - KEEP_SECONDS],
        )
        .map_err(store)?;
        conn.execute(
            "DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2 AND status IS NULL AND created_at < ?3",
            params![scope, key, now - IN_FLIGHT_SECONDS],
        )
        .map_err(store)?;
        let claimed = conn.execute(
            "INSERT OR IGNORE INTO idempotency_keys (scope, key, fingerprint, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![scope, key, fingerprint, now],
        )
        .map_err(store)?;
        if claimed == 1 {
            return Ok(None);
        }
        let row = conn
            .query_row(
                "SELECT fingerprint, status, headers, body FROM idempotency_keys WHERE scope = ?1 AND key = ?2",
                params![scope, key],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<u16>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<Vec<u8>>>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(store)?;
        let Some((fingerprint, status, headers, body)) = row else {
            return Ok(None);
        };
        Ok(Some(match (status, headers, body) {
            (None, _, _) => Recorded::InFlight { fingerprint },
            (Some(status), Some(headers), Some(body)) => Recorded::Done {
                fingerprint,
                answer: StoredAnswer {
                    status,
                    headers: decode_headers(key, &headers)?,
                    body,
                },
            },
            (Some(_), _, _) => {
                return Err(IdempotencyError::Corrupt {
                    key: key.to_owned(),
                    reason: "an answer without headers or body".into(),
                });
            }
        }))
    }

    fn keep(&self, scope: &str, key: &str, answer: &StoredAnswer) -> rusqlite::Result<()> {
        let headers = encode_headers(&answer.headers);
        self.conn.lock().expect("idempotency store poisoned").execute(
            "UPDATE idempotency_keys SET status = ?3, headers = ?4, body = ?5 WHERE scope = ?1 AND key = ?2",
            params![scope, key, answer.status, headers, answer.body],
        )?;
        Ok(())
    }

    fn release(&self, scope: &str, key: &str) -> rusqlite::Result<()> {
        self.conn.lock().expect("idempotency store poisoned").execute(
            "DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2 AND status IS NULL",
            params![scope, key],
        )?;
        Ok(())
    }
}

impl IdempotencyKeys for SqliteIdempotency {
    fn begin<'a>(
        &'a self,
        scope: &'a str,
        key: &'a str,
        fingerprint: &'a str,
        now: i64,
    ) -> Pending<'a, Option<Recorded>> {
        let result = self.claim(scope, key, fingerprint, now);
        Box::pin(async move { result })
    }

    fn finish<'a>(&'a self, scope: &'a str, key: &'a str, answer: &'a StoredAnswer) -> Pending<'a, ()> {
        let result = self.keep(scope, key, answer).map_err(IdempotencyError::store);
        Box::pin(async move { result })
    }

    fn abandon<'a>(&'a self, scope: &'a str, key: &'a str) -> Pending<'a, ()> {
        let result = self.release(scope, key).map_err(IdempotencyError::store);
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_frees_the_keys_a_crash_left_in_flight_and_keeps_the_answered_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sqlite3");
        let answer = StoredAnswer {
            status: 201,
            headers: Vec::new(),
            body: b"{}".to_vec(),
        };
        {
            let store = SqliteIdempotency::open(&path).unwrap();
            assert!(store.claim("olivia", "crashed", "f1", 1_000).unwrap().is_none());
            assert!(store.claim("olivia", "answered", "f2", 1_000).unwrap().is_none());
            store.keep("olivia", "answered", &answer).unwrap();
            assert!(matches!(
                store.claim("olivia", "crashed", "f1", 1_001).unwrap(),
                Some(Recorded::InFlight { .. })
            ));
        }
        let store = SqliteIdempotency::open(&path).unwrap();
        assert!(store.claim("olivia", "crashed", "f1", 1_002).unwrap().is_none());
        assert!(matches!(
            store.claim("olivia", "answered", "f2", 1_002).unwrap(),
            Some(Recorded::Done {
                answer: StoredAnswer { status: 201, .. },
                ..
            })
        ));
    }
}
