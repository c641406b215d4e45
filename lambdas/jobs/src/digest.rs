//! The hour-before digest: every published event starting within the hour whose digest has
//! not gone out gets `RecordDigestSent`; the email builder turns that fact into the
//! organizer's list. An event published, or first invited to, inside the hour is due at once.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::virtual_event::VirtualEventCommand;
use slsplay_projections::read_models::EventStatus;
use slsplay_projections::store::ReadQueries;

use crate::sweep::starting_between;
use crate::{JobError, JobName, Jobs, Report};

/// How long before the start the organizer gets the list.
pub const LEAD: Duration = Duration::hours(1);

pub async fn run<R, Q>(jobs: &Jobs<R, Q>, now: DateTime<Utc>) -> Result<Report, JobError>
where
    R: PersistedEventRepository + Send + Sync + 'static,
    Q: ReadQueries,
{
    let mut report = Report::new(JobName::Digest, now);
    let due = starting_between(&jobs.queries, now, now + LEAD)
        .await?
        .into_iter()
        .filter(|e| e.status == EventStatus::Published && e.digest_sent == 0 && e.invited > 0)
        .map(|e| (e.event_id, VirtualEventCommand::RecordDigestSent))
        .collect();
    jobs.send_all(JobName::Digest, &mut report, due).await;
    Ok(report)
}
