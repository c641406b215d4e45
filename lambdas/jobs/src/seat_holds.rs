//! Lapsed seat holds: a guest who accepted a paid event and did not pay in time gives the seat
//! back with `ExpireSeatHold`, and the waitlist moves up. (An answer to the event releases
//! lapsed holds too; this job makes it happen without one.)

use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::virtual_event::VirtualEventCommand;
use slsplay_projections::store::ReadQueries;

use crate::sweep::holds_lapsed_by;
use crate::{JobError, JobName, Jobs, Report};

/// How far back a run looks for holds that lapsed while nothing ran.
pub const LOOKBACK: Duration = Duration::days(2);

pub async fn run<R, Q>(jobs: &Jobs<R, Q>, now: DateTime<Utc>) -> Result<Report, JobError>
where
    R: PersistedEventRepository + Send + Sync + 'static,
    Q: ReadQueries,
{
    let mut report = Report::new(JobName::SeatHolds, now);
    let due = holds_lapsed_by(&jobs.queries, now, LOOKBACK)
        .await?
        .into_iter()
        .map(|hold| {
            let command = VirtualEventCommand::ExpireSeatHold {
                invitation_id: hold.invitation_id,
            };
            (hold.event_id, command)
        })
        .collect();
    jobs.send_all(JobName::SeatHolds, &mut report, due).await;
    Ok(report)
}
