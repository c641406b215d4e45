//! A read model builder over an embedded event store, and helpers to feed it.

use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::virtual_event::upcasters;
use slsplay_commands::store::SqliteEventRepository;
use slsplay_projections::builder::{Builder, Projector, ReadModels};
use slsplay_projections::store::ReadStore;
use slsplay_projections::store::sqlite::SqliteReadStore;

pub type ReadModelBuilder = Builder<ReadModels, SqliteReadStore, SqliteEventRepository>;

pub fn read_model_builder(events: SqliteEventRepository, dir: &std::path::Path) -> ReadModelBuilder {
    let store = SqliteReadStore::open(dir.join("read_models.sqlite3")).expect("open read models");
    Builder::new(ReadModels, store, events, upcasters())
}

/// Hands every stored fact to the builder once, in global order.
pub async fn catch_up<P: Projector, S: ReadStore, R: PersistedEventRepository>(
    events: &SqliteEventRepository,
    builder: &Builder<P, S, R>,
) {
    for fact in events.read_from(0, usize::MAX).await.expect("read facts") {
        builder.handle(fact).await.expect("applied");
    }
}
