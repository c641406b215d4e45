//! Event stores: the embedded SQLite store for one machine, DynamoDB (dynamo-es) on AWS.
//! Both are cqrs-es `PersistedEventRepository`s and pass the same contract tests.

#[cfg(feature = "dynamo")]
pub mod dynamo;
pub mod sqlite;

#[cfg(feature = "dynamo")]
pub use dynamo::{DynamoRepository, DynamoTables, create_tables, dynamo_repository};
pub use sqlite::{Durability, SqliteEventRepository, SqliteOptions};
