//! The read models: one struct per table, each row belonging to exactly one virtual event, so
//! builders working on different events never write the same row.

pub mod access;
pub mod projector;
mod status;
mod tables;

pub use status::*;
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
    SeatHold::TABLE,
    DailyInvitationStats::TABLE,
    InvitationToken::TABLE,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ReadModel;

    fn check<M: ReadModel + Default>(mut model: M, fill: impl FnOnce(&mut M)) {
        fill(&mut model);
        assert_eq!(model.key(), M::TABLE.key_of(&model.to_row()), "{}", M::TABLE.name);
    }

    #[test]
    fn each_model_names_the_key_its_table_declares() {
        check(EventPage::default(), |m| m.event_id = "e".into());
        check(MeetingLink::default(), |m| m.event_id = "e".into());
        check(GuestListEntry::default(), |m| {
            (m.event_id, m.invitation_id) = ("e".into(), "i".into())
        });
        check(InvitationByEmail::default(), |m| {
            (m.email, m.event_id) = ("a@b.c".into(), "e".into())
        });
        check(OrganizerEvent::default(), |m| {
            (m.organizer, m.event_id) = ("o".into(), "e".into())
        });
        check(EventByStart::default(), |m| {
            (m.start_day, m.start_key) = ("d".into(), "k".into())
        });
        check(SeatHold::new("e", "i", "2030-01-01T10:00:00Z"), |_| {});
        check(DailyInvitationStats::default(), |m| {
            (m.event_id, m.day) = ("e".into(), "d".into())
        });
        check(InvitationToken::default(), |m| m.token_hash = "h".into());
        check(crate::email::outbox::OutboxMessage::default(), |m| {
            (m.recipient, m.cause) = ("a@b.c".into(), "invitation:i".into())
        });
    }
}
