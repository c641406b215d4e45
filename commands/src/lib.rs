//! The write side of slsplay: the command service and the event stores it commits to.

pub mod service;
pub mod store;

pub use service::{CommandContext, CommandError, CommandService, Committed, RetryPolicy};
