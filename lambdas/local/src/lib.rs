//! The `slsplay` binary: the whole platform on one machine over embedded adapters, running the
//! same command service, builders and routers as the Lambdas. It never depends on
//! `slsplay-aws` (checked by `tests/it/layout.rs`).

pub mod blobs;
pub mod cli;
pub mod config;
pub mod dev_oidc;
pub mod dev_payments;
pub mod diagnostics;
pub mod history;
pub mod idempotency;
pub mod pipeline;
pub mod platform;
pub mod rebuild;
pub mod scheduler;
pub mod server;
pub mod telemetry;
pub mod unread_body;
pub mod uploads;
pub mod web_app;
