//! Projection builders over the embedded stores: read models, exactly-once delivery, gaps.

mod builder;
mod read_models;
