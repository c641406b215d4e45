//! The slsplay domain: aggregates, their facts and invariants, and the validation rules every
//! entry point shares. Knows nothing about storage, AWS or HTTP.

pub mod clock;
pub mod history;
pub mod validation;
pub mod virtual_event;

pub use clock::{Clock, FixedClock, SystemClock};
