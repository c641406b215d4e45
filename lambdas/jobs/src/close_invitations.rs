//! At the start, the invitations nobody answered are closed (`CloseInvitations`): answers are
//! refused from then on anyway, and the fact lets the guest list and the invitee's own list
//! say "no answer" instead of "pending" forever.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::virtual_event::VirtualEventCommand;
use slsplay_projections::read_models::EventStatus;
use slsplay_projections::store::ReadQueries;

use crate::sweep::starting_between;
use crate::{JobError, JobName, Jobs, Report};

/// How long after the start a run still looks: a platform down for longer leaves those
/// invitations pending on the lists (no answer is accepted either way).
pub const LOOKBACK: Duration = Duration::hours(1);

pub async fn run<R, Q>(jobs: &Jobs<R, Q>, now: DateTime<Utc>) -> Result<Report, JobError>
where
    R: PersistedEventRepository + Send + Sync + 'static,
    Q: ReadQueries,
{
    let mut report = Report::new(JobName::CloseInvitations, now);
    // Started: at or before now (the window's end is inclusive, its start exclusive).
    let due = starting_between(&jobs.queries, now - LOOKBACK, now)
        .await?
        .into_iter()
        .filter(|e| e.status == EventStatus::Published && e.invited > 0 && e.invitations_closed == 0)
        .map(|e| (e.event_id, VirtualEventCommand::CloseInvitations))
        .collect();
    jobs.send_all(JobName::CloseInvitations, &mut report, due).await;
    Ok(report)
}
