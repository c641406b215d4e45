//! The statuses the read models keep. Each is stored as its text (`as_str`), exactly as
//! analysts query it (`status = 'published'`, `payment = 'paid'`): the rows go through serde on
//! both stores, so a SQLite `TEXT` column and a DynamoDB `S` attribute hold that text, and a
//! stored value that is none of these fails to decode instead of being taken for another.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an event's page stands (started and ended follow from its times).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    #[default]
    Draft,
    Published,
    Cancelled,
    /// A draft its organizer deleted; its page stays, read by no one.
    Deleted,
}

impl EventStatus {
    pub const ALL: [Self; 4] = [Self::Draft, Self::Published, Self::Cancelled, Self::Deleted];

    /// The stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Cancelled => "cancelled",
            Self::Deleted => "deleted",
        }
    }

    /// Whether invited guests may see the event: out of draft (published or cancelled) and
    /// not deleted.
    pub const fn is_visible_to_guests(self) -> bool {
        matches!(self, Self::Published | Self::Cancelled)
    }

    pub const fn is_deleted(self) -> bool {
        matches!(self, Self::Deleted)
    }
}

/// A guest's answer so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RsvpStatus {
    #[default]
    Invited,
    /// A confirmed seat: the guest gets the meeting link.
    Attending,
    /// Accepted a paid event: the seat waits for the payment until `hold_until`.
    SeatHeld,
    Waitlisted,
    Declined,
    Revoked,
    /// Never answered, and the event has started: it can no longer be.
    NoAnswer,
}

impl RsvpStatus {
    pub const ALL: [Self; 7] = [
        Self::Invited,
        Self::Attending,
        Self::SeatHeld,
        Self::Waitlisted,
        Self::Declined,
        Self::Revoked,
        Self::NoAnswer,
    ];

    /// The stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Attending => "attending",
            Self::SeatHeld => "seat_held",
            Self::Waitlisted => "waitlisted",
            Self::Declined => "declined",
            Self::Revoked => "revoked",
            Self::NoAnswer => "no_answer",
        }
    }

    /// A confirmed seat (not merely held), which shows the meeting link.
    pub const fn is_attending(self) -> bool {
        matches!(self, Self::Attending)
    }

    /// The organizer withdrew the invitation: the guest no longer sees it.
    pub const fn is_revoked(self) -> bool {
        matches!(self, Self::Revoked)
    }
}

/// What a guest owes for their ticket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Nothing: a free event, or no seat accepted or held.
    #[default]
    None,
    /// A seat is held until paid.
    Due,
    Paid,
}

impl PaymentStatus {
    pub const ALL: [Self; 3] = [Self::None, Self::Due, Self::Paid];

    /// The stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Due => "due",
            Self::Paid => "paid",
        }
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

display_as_str!(EventStatus, RsvpStatus, PaymentStatus);

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    use super::*;

    /// `stored` is the text as the tables hold it today (README, analysts' queries): each
    /// value serializes to it, `as_str` and `Display` agree, and it reads back as the value.
    fn stored_as<S>(all: &[S], stored: &[(S, &str)])
    where
        S: Serialize + DeserializeOwned + PartialEq + fmt::Debug + fmt::Display + Copy,
    {
        assert_eq!(
            all,
            stored.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            "every value is listed once"
        );
        for (status, text) in stored {
            assert_eq!(serde_json::to_value(status).unwrap(), Value::from(*text));
            assert_eq!(status.to_string(), *text);
            assert_eq!(serde_json::from_value::<S>(Value::from(*text)).unwrap(), *status);
        }
    }

    /// Not one of the values (nor a near miss of one): a decode error, not a default.
    fn rejects<S: DeserializeOwned + fmt::Debug>(texts: &[&str]) {
        for text in texts {
            let decoded = serde_json::from_value::<S>(Value::from(*text));
            assert!(decoded.is_err(), "{text:?} decoded as {decoded:?}");
        }
        assert!(serde_json::from_value::<S>(Value::Null).is_err());
    }

    #[test]
    fn event_statuses_are_stored_as_todays_text() {
        stored_as(
            &EventStatus::ALL,
            &[
                (EventStatus::Draft, "draft"),
                (EventStatus::Published, "published"),
                (EventStatus::Cancelled, "cancelled"),
                (EventStatus::Deleted, "deleted"),
            ],
        );
        rejects::<EventStatus>(&["", "archived", "Published", "PUBLISHED", " draft", "canceled"]);
    }

    #[test]
    fn rsvp_statuses_are_stored_as_todays_text() {
        stored_as(
            &RsvpStatus::ALL,
            &[
                (RsvpStatus::Invited, "invited"),
                (RsvpStatus::Attending, "attending"),
                (RsvpStatus::SeatHeld, "seat_held"),
                (RsvpStatus::Waitlisted, "waitlisted"),
                (RsvpStatus::Declined, "declined"),
                (RsvpStatus::Revoked, "revoked"),
                (RsvpStatus::NoAnswer, "no_answer"),
            ],
        );
        rejects::<RsvpStatus>(&["", "accepted", "seatHeld", "SeatHeld", "seat-held", "Attending"]);
    }

    #[test]
    fn payment_statuses_are_stored_as_todays_text() {
        stored_as(
            &PaymentStatus::ALL,
            &[
                (PaymentStatus::None, "none"),
                (PaymentStatus::Due, "due"),
                (PaymentStatus::Paid, "paid"),
            ],
        );
        rejects::<PaymentStatus>(&["", "refunded", "None", "null", "PAID"]);
    }

    #[test]
    fn guests_see_published_and_cancelled_events_only() {
        let visible: Vec<_> = EventStatus::ALL
            .into_iter()
            .filter(|s| s.is_visible_to_guests())
            .collect();
        assert_eq!(visible, [EventStatus::Published, EventStatus::Cancelled]);
    }
}
