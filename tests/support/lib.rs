//! Shared test support: a moto server per test binary, stores under test, and fixtures.

pub mod fixtures;
pub mod moto;
pub mod projection;
pub mod stores;
