//! The local platform's scheduler: every job once a minute, on the minute of the platform's
//! clock, and once right at start, which is the catch-up after the process was down (the jobs
//! look at what is due now, not at what happened since the last tick). Each tick also logs
//! the diagnostics as one JSON line.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use slsplay_aggregates::Clock;
use slsplay_commands::store::SqliteEventRepository;
use slsplay_jobs::{JobName, Jobs};
use slsplay_projections::queue::EmbeddedQueues;
use slsplay_projections::store::Queries;
use tokio::sync::watch;

pub type LocalJobs = Jobs<SqliteEventRepository, Queries>;

/// How long until the next minute starts, by `now`.
fn until_next_minute(now: DateTime<Utc>) -> Duration {
    let into =
        Duration::from_secs(u64::from(now.second())) + Duration::from_nanos(u64::from(now.nanosecond()));
    Duration::from_secs(60)
        .saturating_sub(into)
        .max(Duration::from_millis(1))
}

/// Runs every job in turn; one job's failure does not keep the others from running.
pub async fn run_all(jobs: &LocalJobs) {
    for job in JobName::ALL {
        if let Err(error) = jobs.run(job).await {
            tracing::error!(job = job.as_str(), %error, "a job could not run; it runs again next minute");
        }
    }
}

/// What the scheduler runs besides the jobs: the diagnostics, logged every tick, and once an
/// hour the removal of uploads nobody attached.
pub struct Watched {
    pub store: SqliteEventRepository,
    pub queues: EmbeddedQueues,
    pub blobs: std::path::PathBuf,
    pub queries: Queries,
}

pub async fn schedule(
    jobs: Arc<LocalJobs>,
    watched: Watched,
    clock: Arc<dyn Clock>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut first = true;
    loop {
        run_all(&jobs).await;
        if first || clock.now().minute() == 0 {
            match crate::uploads::remove_unattached(&watched.blobs, &watched.queries, clock.now()).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "uploads nobody attached removed"),
                Err(error) => tracing::error!(%error, "uploads could not be cleaned up"),
            }
            first = false;
        }
        match crate::diagnostics::diagnose(&watched.store, &watched.queues, clock.now()).await {
            Ok(d) => tracing::info!(
                diagnostics = %serde_json::to_string(&d).unwrap_or_default(),
                "diagnostics"
            ),
            Err(error) => tracing::error!(%error, "diagnostics could not be read"),
        }
        let wait = until_next_minute(clock.now());
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_tick_is_on_the_minute() {
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        assert_eq!(
            until_next_minute(at("2030-05-01T10:00:15Z")),
            Duration::from_secs(45)
        );
        assert_eq!(
            until_next_minute(at("2030-05-01T10:00:59.5Z")),
            Duration::from_millis(500)
        );
        assert_eq!(
            until_next_minute(at("2030-05-01T10:01:00Z")),
            Duration::from_secs(60)
        );
    }
}
