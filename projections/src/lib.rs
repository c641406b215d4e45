//! The read side of slsplay: projection builders fold facts into read models. Builders only
//! read facts; they never write any.

pub mod builder;
pub mod email;
pub mod handler;
pub mod queue;
pub mod read_models;
pub mod schema;
pub mod search;
pub mod state;
pub mod store;
pub mod web_cache;
