//! Event stores: the embedded SQLite store for one machine, DynamoDB (dynamo-es) on AWS.
//! Both are cqrs-es `PersistedEventRepository`s and pass the same contract tests.

pub mod dynamo;
pub mod sqlite;

pub use dynamo::{DynamoRepository, DynamoTables, create_tables, dynamo_repository};
pub use sqlite::{Durability, SqliteEventRepository, SqliteOptions};
