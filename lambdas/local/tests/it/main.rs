//! The local platform as its users run it: the `slsplay` binary over real HTTP, its CLI, the
//! GraphQL schema over the local stores, sign-in, and the crate layout. One test binary, so
//! one link.

mod api;
mod async_tier;
mod graphql;
mod jwt;
mod layout;
mod schemathesis;
mod slsplay_cli;
mod support;
mod web_app;
