use chrono::{DateTime, Utc};

use crate::validation::{Money, ValidationErrors};

/// Why a command was refused. Every variant is the caller's problem to fix (an HTTP 4xx);
/// storage and concurrency failures are cqrs-es's `AggregateError`, not these.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VirtualEventError {
    /// Handling: show the caller each failing field.
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    #[error("no such event")]
    NotFound,
    #[error("an event with this id already exists")]
    AlreadyExists,
    #[error("only the organizer of this event can do that")]
    NotTheOrganizer,
    #[error("only a draft can be deleted")]
    NotADraft,
    #[error("the event is not published yet")]
    NotPublished,
    #[error("the event was cancelled")]
    Cancelled,
    #[error("the event has already started")]
    AlreadyStarted,
    #[error("the event has already ended")]
    AlreadyEnded,
    #[error("the event starts in the past; move its start to the future first")]
    StartNotInFuture,
    #[error("no invitation matches")]
    InvitationNotFound,
    #[error("this invitation was revoked")]
    InvitationRevoked,
    #[error("the guest has already answered this invitation")]
    AlreadyAnswered,
    #[error("the capacity cannot be lower than the {seats_taken} seats already taken")]
    CapacityBelowSeatsTaken { seats_taken: u32 },
    #[error("the ticket price cannot change once the event is published")]
    PriceLocked,
    #[error("this event is free: there is nothing to pay")]
    NotAPaidEvent,
    #[error("no seat is held for this invitation: accept the invitation first")]
    NoSeatHeld,
    #[error("the seat hold ran out at {until}; accept again to get a new one")]
    SeatHoldExpired { until: DateTime<Utc> },
    #[error("the seat hold runs until {until}")]
    SeatHoldStillActive { until: DateTime<Utc> },
    #[error("the ticket costs {expected}, the payment was {paid}")]
    WrongAmount { expected: Money, paid: Money },
    #[error("this ticket was already paid with another payment")]
    AlreadyPaid,
    #[error("this payment already paid for another ticket")]
    PaymentAlreadyUsed,
    #[error("the digest for this event was already sent")]
    DigestAlreadySent,
    #[error("these reminders for this event were already sent")]
    RemindersAlreadySent,
    #[error("the event has not started yet")]
    NotStartedYet,
    #[error("the event has not ended yet")]
    NotEndedYet,
    #[error("the invitations of this event were already closed")]
    InvitationsAlreadyClosed,
}

impl From<ValidationErrors> for VirtualEventError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Invalid(errors)
    }
}
