//! The scheduled tier: jobs that run every minute, find what is due in the read models (never
//! by a scan of the event store), and act only through the command service. What a job does
//! is recorded as facts (`DigestSent`, `RemindersSent`, `SeatHoldsExpired`), and the emails are
//! projections of those facts, so two overlapping runs, a run cut short or a late one never
//! send anything twice: the aggregate refuses the second command.
//!
//! The same functions run in `slsplay dev` (its scheduler, and `slsplay jobs run NAME`) and in
//! the scheduler Lambda, which EventBridge Scheduler invokes with a job's name.

mod close_invitations;
mod digest;
mod reminders;
mod retention;
mod seat_holds;
mod sweep;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use serde::Serialize;
use slsplay_aggregates::Clock;
use slsplay_aggregates::virtual_event::{VirtualEvent, VirtualEventCommand, VirtualEventError};
use slsplay_commands::{CommandContext, CommandError, CommandService};
use slsplay_projections::store::{ReadQueries, ReadStoreError};

/// Every job, by the name the schedulers call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobName {
    /// The organizer's list of who will attend, an hour before the start.
    Digest,
    /// The guests' reminders, a day and an hour before; the nudge to those who did not answer.
    Reminders,
    /// Lapsed seat holds released, so the waitlist moves up.
    SeatHolds,
    /// At the start, the invitations nobody answered closed.
    CloseInvitations,
    /// Events long over leave the apps' read models.
    Retention,
}

impl JobName {
    pub const ALL: [Self; 5] = [
        Self::Digest,
        Self::Reminders,
        Self::SeatHolds,
        Self::CloseInvitations,
        Self::Retention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Digest => "digest",
            Self::Reminders => "reminders",
            Self::SeatHolds => "seat-holds",
            Self::CloseInvitations => "close-invitations",
            Self::Retention => "retention",
        }
    }
}

impl fmt::Display for JobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("no job is called `{0}` (the jobs: digest, reminders, seat-holds, close-invitations, retention)")]
pub struct UnknownJob(String);

impl FromStr for JobName {
    type Err = UnknownJob;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|job| job.as_str() == name)
            .ok_or_else(|| UnknownJob(name.to_owned()))
    }
}

/// A run could not look for its work; nothing was sent (the next run tries again).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("reading the read models: {0}")]
    Read(#[from] ReadStoreError),
}

/// What one run did, logged as one JSON line and answered by the Lambda.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub job: &'static str,
    /// The instant the run looked from (the platform's clock).
    pub at: String,
    /// Items the read models showed as due.
    pub due: usize,
    /// Commands that recorded something.
    pub done: usize,
    /// Due items another run, or a guest, had already resolved (the aggregate said so).
    pub already_done: usize,
    /// Items whose command failed, with the reason: retried by the next run.
    pub failed: Vec<Failure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub event_id: String,
    pub error: String,
}

impl Report {
    fn new(job: JobName, at: DateTime<Utc>) -> Self {
        Self {
            job: job.as_str(),
            at: slsplay_projections::read_models::projector::timestamp(at),
            ..Self::default()
        }
    }

    fn record(&mut self, event_id: &str, outcome: Outcome) {
        match outcome {
            Outcome::Done => self.done += 1,
            Outcome::AlreadyDone => self.already_done += 1,
            Outcome::Failed(error) => self.failed.push(Failure {
                event_id: event_id.to_owned(),
                error,
            }),
        }
    }

    /// Whether every due item was handled (a scheduler reports the run as failed otherwise).
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty()
    }
}

enum Outcome {
    Done,
    AlreadyDone,
    Failed(String),
}

/// The jobs over one platform's command service and read models.
pub struct Jobs<R: PersistedEventRepository, Q> {
    commands: Arc<CommandService<VirtualEvent, R>>,
    queries: Q,
    clock: Arc<dyn Clock>,
    /// How long ended events stay in the apps' read models.
    retention: chrono::Duration,
}

impl<R, Q> Jobs<R, Q>
where
    R: PersistedEventRepository + Send + Sync + 'static,
    Q: ReadQueries,
{
    pub fn new(commands: Arc<CommandService<VirtualEvent, R>>, queries: Q, clock: Arc<dyn Clock>) -> Self {
        Self {
            commands,
            queries,
            clock,
            retention: retention::DEFAULT_RETENTION,
        }
    }

    /// Keeps ended events `days` days instead of 30.
    pub fn with_retention_days(mut self, days: u32) -> Self {
        self.retention = chrono::Duration::days(i64::from(days));
        self
    }

    /// Runs one job once, as of the platform's clock now.
    pub async fn run(&self, job: JobName) -> Result<Report, JobError> {
        let now = self.clock.now();
        let report = match job {
            JobName::Digest => Box::pin(digest::run(self, now)).await?,
            JobName::Reminders => Box::pin(reminders::run(self, now)).await?,
            JobName::SeatHolds => Box::pin(seat_holds::run(self, now)).await?,
            JobName::CloseInvitations => Box::pin(close_invitations::run(self, now)).await?,
            JobName::Retention => Box::pin(retention::run(self, now)).await?,
        };
        let line = serde_json::to_string(&report).unwrap_or_default();
        if report.succeeded() {
            tracing::info!(report = %line, "job ran");
        } else {
            tracing::error!(report = %line, "job ran with failures; the next run retries them");
        }
        Ok(report)
    }

    /// Sends the command of each due item (an event and what to tell it), recording what
    /// came of each in `report`.
    async fn send_all(&self, job: JobName, report: &mut Report, due: Vec<(String, VirtualEventCommand)>) {
        report.due += due.len();
        for (event_id, command) in due {
            let outcome = self.send(job, &event_id, command).await;
            report.record(&event_id, outcome);
        }
    }

    /// Sends one command as the job; a refusal that means "already done" (another run, a guest
    /// or the organizer got there first, or the read model was behind) is not a failure.
    async fn send(&self, job: JobName, event_id: &str, command: VirtualEventCommand) -> Outcome {
        let context = CommandContext::new(format!("system:{job}"));
        // Boxed: the command service's future is deep, and a job's would nest it in its own.
        let executed = Box::pin(self.commands.execute(event_id, command, &context)).await;
        match executed {
            Ok(_) => Outcome::Done,
            Err(CommandError::Rejected(refusal)) if already_done(&refusal) => Outcome::AlreadyDone,
            Err(error) => {
                tracing::warn!(job = job.as_str(), event_id, %error, "a job's command failed");
                Outcome::Failed(error.to_string())
            }
        }
    }
}

/// Refusals that mean the job's work is no longer to do (or, for a seat hold renewed since
/// the read model saw it, not yet).
fn already_done(refusal: &VirtualEventError) -> bool {
    use VirtualEventError as E;
    matches!(
        refusal,
        E::DigestAlreadySent
            | E::RemindersAlreadySent
            | E::Cancelled
            | E::NotFound
            | E::NotPublished
            | E::AlreadyStarted
            | E::InvitationNotFound
            | E::InvitationRevoked
            | E::SeatHoldStillActive { .. }
            | E::InvitationsAlreadyClosed
    )
}
