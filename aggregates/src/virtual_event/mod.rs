//! The `virtual_event` aggregate: one online event, from draft to its end, with its guests.

mod aggregate;
mod commands;
mod errors;
mod events;
mod services;
mod upcasters;

pub use aggregate::{Details, GuestState, Invitation, Lifecycle, Phase, VirtualEvent};
pub use commands::{
    AttachMedia, CreateEvent, InvitationCredential, ReminderKind, RsvpAnswer, UpdateDetails,
    VirtualEventCommand,
};
pub use errors::VirtualEventError;
pub use events::{
    CREATED_VERSION, Contact, Created, DetailsUpdated, InvitationIssued, MediaAttached, Promotion,
    Rescheduled, VirtualEventFact,
};
pub use services::{
    DEFAULT_SEAT_HOLD, InvitationTokens, MIN_SECRET_BYTES, VirtualEventServices, WeakSecret, invitation_id,
};
pub use upcasters::upcasters;
