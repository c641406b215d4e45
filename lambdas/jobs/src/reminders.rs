//! The guests' reminders: a day before the start (attending guests, and a nudge to those who
//! have not answered) and an hour before (attending guests, with the join link). Each kind is
//! recorded once per event as `RemindersSent`; the emails are its projection.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::virtual_event::{ReminderKind, VirtualEventCommand};
use slsplay_projections::read_models::{EventByStart, EventStatus};
use slsplay_projections::store::ReadQueries;

use crate::sweep::starting_between;
use crate::{JobError, JobName, Jobs, Report};

/// The window in which a kind is due: from its lead time before the start until the next
/// kind takes over. The day-before reminder is due only in its first hour (an event published
/// later has just sent its invitations: a nudge then would only repeat them).
fn window(kind: ReminderKind, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    match kind {
        ReminderKind::DayBefore => (now + kind.lead() - Duration::hours(1), now + kind.lead()),
        ReminderKind::HourBefore => (now, now + kind.lead()),
    }
}

fn sent(event: &EventByStart, kind: ReminderKind) -> bool {
    match kind {
        ReminderKind::DayBefore => event.day_reminder_sent == 1,
        ReminderKind::HourBefore => event.hour_reminder_sent == 1,
    }
}

pub async fn run<R, Q>(jobs: &Jobs<R, Q>, now: DateTime<Utc>) -> Result<Report, JobError>
where
    R: PersistedEventRepository + Send + Sync + 'static,
    Q: ReadQueries,
{
    let mut report = Report::new(JobName::Reminders, now);
    for kind in ReminderKind::ALL {
        let (from, to) = window(kind, now);
        let due = starting_between(&jobs.queries, from, to)
            .await?
            .into_iter()
            .filter(|e| e.status == EventStatus::Published && e.invited > 0 && !sent(e, kind))
            .map(|e| (e.event_id, VirtualEventCommand::SendReminders { kind }))
            .collect();
        jobs.send_all(JobName::Reminders, &mut report, due).await;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_before_is_due_in_the_hour_from_24_to_23_hours_before() {
        let now = DateTime::parse_from_rfc3339("2030-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (from, to) = window(ReminderKind::DayBefore, now);
        assert_eq!((to - now, now + Duration::hours(23)), (Duration::hours(24), from));
        assert_eq!(
            window(ReminderKind::HourBefore, now),
            (now, now + Duration::hours(1))
        );
    }
}
