//! Entry points. `slsplay` (src/main.rs) hosts the whole platform on one machine; the Lambda
//! binaries (added with the asynchronous tier) wire AWS adapters to the same handlers.

pub mod api;
pub mod auth;
pub mod aws;
pub mod cli;
pub mod config;
pub mod graphql;
pub mod history;
pub mod local;
pub mod platform;
pub mod server;
pub mod telemetry;
pub mod unread_body;
