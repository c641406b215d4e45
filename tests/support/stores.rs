//! The stores under test. Each can be opened more than once on the same storage, which is how
//! tests stand for several processes (or Lambda instances) sharing one store.

use std::sync::Arc;

use slsplay_aggregates::FixedClock;
use slsplay_aggregates::virtual_event::{InvitationTokens, VirtualEvent, VirtualEventServices, upcasters};
use slsplay_commands::CommandService;
use slsplay_commands::store::{
    DynamoTables, SqliteEventRepository, SqliteOptions, create_tables, dynamo_repository,
};

use crate::fixtures;

pub trait StoreUnderTest: Send + Sync {
    type Repo: cqrs_es::persist::PersistedEventRepository + 'static;
    /// A new handle on the same storage (a new connection or client each time).
    fn open(&self) -> Self::Repo;
}

pub struct SqliteStore {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl SqliteStore {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.sqlite3");
        Self { _dir: dir, path }
    }
}

impl Default for SqliteStore {
    fn default() -> Self {
        Self::new()
    }
}

impl StoreUnderTest for SqliteStore {
    type Repo = SqliteEventRepository;
    fn open(&self) -> SqliteEventRepository {
        SqliteEventRepository::open(&self.path, SqliteOptions::default()).expect("open sqlite store")
    }
}

pub struct DynamoStore {
    tables: DynamoTables,
}

impl DynamoStore {
    /// Fresh tables with a unique prefix on the shared moto server.
    pub async fn new() -> Self {
        let tables = DynamoTables::with_prefix(&format!("t{}", uuid::Uuid::new_v4().simple()));
        create_tables(&crate::moto::moto().dynamodb(), &tables)
            .await
            .expect("create tables on moto");
        Self { tables }
    }
}

impl DynamoStore {
    pub fn tables(&self) -> &DynamoTables {
        &self.tables
    }
}

impl StoreUnderTest for DynamoStore {
    type Repo = slsplay_commands::store::DynamoRepository;
    fn open(&self) -> Self::Repo {
        dynamo_repository(crate::moto::moto().dynamodb(), &self.tables)
    }
}

/// A command service over a store, with the clock the test controls.
pub fn service<R: cqrs_es::persist::PersistedEventRepository>(
    repo: R,
    clock: &FixedClock,
) -> CommandService<VirtualEvent, R> {
    let tokens = InvitationTokens::new(&fixtures::SECRET).expect("test secret is long enough");
    let services = VirtualEventServices::new(Arc::new(clock.clone()), tokens);
    CommandService::new(repo, upcasters(), services, Arc::new(clock.clone()))
}
