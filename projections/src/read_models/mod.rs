//! The read models: one struct per table, each row belonging to exactly one virtual event, so
//! builders working on different events never write the same row.

pub mod projector;
mod tables;

pub use tables::*;

use crate::schema::{ReadModel, Table};

/// Every read model table, in the order the README documents them.
pub const TABLES: &[Table] = &[
    EventPage::TABLE,
    MeetingLink::TABLE,
    GuestListEntry::TABLE,
    InvitationByEmail::TABLE,
    OrganizerEvent::TABLE,
    EventByStart::TABLE,
    DailyInvitationStats::TABLE,
];
