//! Uploads nobody attached: a presigned upload lands in the blob store before `AttachMedia`
//! names it, and one never attached (a closed tab, a replaced photo) would stay forever. The
//! scheduler removes media files older than a day that their event's page does not show.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Duration, Utc};
use slsplay_projections::read_models::EventPage;
use slsplay_projections::schema::Key;
use slsplay_projections::store::{ReadQueries, ReadStoreError};

/// How long an upload may wait for its `AttachMedia`.
pub const GRACE: Duration = Duration::hours(24);

/// One media file: its blob key (`events/{event}/{kind}/{name}`) and when it was written.
struct Upload {
    event_id: String,
    key: String,
    path: PathBuf,
    written: DateTime<Utc>,
}

/// The media files under `blobs/events/`, as their blob keys.
fn uploads(blobs: &Path) -> std::io::Result<Vec<Upload>> {
    let mut found = Vec::new();
    let events = blobs.join("events");
    let Ok(dirs) = std::fs::read_dir(&events) else {
        return Ok(found);
    };
    for event in dirs {
        let event = event?;
        let event_id = event.file_name().to_string_lossy().into_owned();
        for kind in std::fs::read_dir(event.path())? {
            let kind = kind?;
            if !kind.file_type()?.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(kind.path())? {
                let file = file?;
                let modified: SystemTime = file.metadata()?.modified()?;
                found.push(Upload {
                    key: format!(
                        "events/{event_id}/{}/{}",
                        kind.file_name().to_string_lossy(),
                        file.file_name().to_string_lossy()
                    ),
                    event_id: event_id.clone(),
                    path: file.path(),
                    written: modified.into(),
                });
            }
        }
    }
    Ok(found)
}

#[derive(Debug, thiserror::Error)]
pub enum CleanUpError {
    #[error("reading the blob store: {0}")]
    Files(#[from] std::io::Error),
    #[error(transparent)]
    Read(#[from] ReadStoreError),
}

/// Removes the uploads older than [`GRACE`] that no event page shows (also those of an event
/// that has left the read models); how many it removed.
pub async fn remove_unattached<Q: ReadQueries>(
    blobs: &Path,
    queries: &Q,
    now: DateTime<Utc>,
) -> Result<usize, CleanUpError> {
    let blobs = blobs.to_owned();
    let candidates = tokio::task::spawn_blocking(move || uploads(&blobs))
        .await
        .map_err(std::io::Error::other)??;
    let mut removed = 0;
    for upload in candidates.into_iter().filter(|u| now - u.written > GRACE) {
        let page: Option<EventPage> = queries.get(&Key::new(upload.event_id.clone())).await?;
        let shown = page.is_some_and(|p| {
            [p.cover_photo_key, p.video_key]
                .iter()
                .any(|k| k.as_deref() == Some(upload.key.as_str()))
        });
        if !shown {
            tokio::fs::remove_file(&upload.path).await?;
            tracing::info!(key = upload.key, "removed an upload nobody attached");
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use slsplay_projections::store::sqlite::{SqliteQueries, SqliteReadStore};
    use slsplay_projections::store::{ReadStore, ReadTx};

    use super::*;

    fn write(blobs: &Path, key: &str, written: DateTime<Utc>) -> PathBuf {
        let path = blobs.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::File::create(&path).unwrap();
        file.set_modified(written.into()).unwrap();
        path
    }

    #[tokio::test]
    async fn only_old_uploads_no_page_shows_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (blobs, models) = (dir.path().join("blobs"), dir.path().join("read_models.sqlite3"));
        let now = Utc::now();
        let old = now - Duration::hours(25);
        let store = SqliteReadStore::open(&models).unwrap();
        let mut tx = store.begin().await.unwrap();
        tx.put(EventPage {
            event_id: "ev1".into(),
            cover_photo_key: Some("events/ev1/photo/attached".into()),
            ..EventPage::default()
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let attached = write(&blobs, "events/ev1/photo/attached", old);
        let replaced = write(&blobs, "events/ev1/photo/replaced", old);
        let fresh = write(&blobs, "events/ev1/video/uploading", now - Duration::hours(1));
        let orphan = write(&blobs, "events/gone/photo/x", old);
        let queries = SqliteQueries::open(&models).unwrap();

        assert_eq!(remove_unattached(&blobs, &queries, now).await.unwrap(), 2);
        assert!(attached.exists() && fresh.exists());
        assert!(!replaced.exists() && !orphan.exists());
        assert_eq!(remove_unattached(&blobs, &queries, now).await.unwrap(), 0);
    }
}
