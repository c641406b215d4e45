//! The event store contract, run on the embedded SQLite store and on DynamoDB (moto).

mod concurrency;
mod contract;
mod global_order;
mod replay;
