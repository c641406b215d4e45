//! Projection builders over the embedded stores: read models, exactly-once delivery, gaps.

mod builder;
mod dynamo_read_store;
mod emails;
mod event_states;
mod live_equals_rebuilt;
mod read_models;
mod search;
