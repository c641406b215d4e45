//! The slsplay domain: aggregates, their facts and invariants, and the validation rules every
//! entry point shares. Knows nothing about storage, AWS or HTTP.

pub mod clock;
pub mod history;
/// The field rules live in their own crate so the web app compiles the same ones to wasm.
pub use slsplay_rules as validation;
pub mod virtual_event;

pub use clock::{Clock, FixedClock, SystemClock};
