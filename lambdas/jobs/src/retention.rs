//! Retention: an event long over (or cancelled) leaves the read models the apps use with
//! `Archive`, a fact like any other, so a rebuild drops it too and gives the same tables as the
//! live path; the daily counts (`invitation_stats_daily`) keep their rows for analysts.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::virtual_event::VirtualEventCommand;
use slsplay_projections::read_models::EventStatus;
use slsplay_projections::store::ReadQueries;

use crate::sweep::starting_between;
use crate::{JobError, JobName, Jobs, Report};

/// How long events stay after they end, unless the platform says otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::days(30);

/// The longest an event lasts: an event whose start is this much plus the retention ago has
/// certainly ended that long ago.
const LONGEST_EVENT: Duration = Duration::hours(24);

/// How far back a run looks: archived events leave the by-start index, so the window holds
/// only the events still due, and a platform stopped for a week catches up.
const LOOKBACK: Duration = Duration::days(7);

pub async fn run<R, Q>(jobs: &Jobs<R, Q>, now: DateTime<Utc>) -> Result<Report, JobError>
where
    R: PersistedEventRepository + Send + Sync + 'static,
    Q: ReadQueries,
{
    let mut report = Report::new(JobName::Retention, now);
    let until = now - jobs.retention - LONGEST_EVENT;
    let due = starting_between(&jobs.queries, until - LOOKBACK, until)
        .await?
        .into_iter()
        .filter(|e| matches!(e.status, EventStatus::Published | EventStatus::Cancelled))
        .map(|e| (e.event_id, VirtualEventCommand::Archive))
        .collect();
    jobs.send_all(JobName::Retention, &mut report, due).await;
    Ok(report)
}
