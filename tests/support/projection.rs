//! A read model builder over an embedded event store, and helpers to feed it.

use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::virtual_event::{InvitationTokens, upcasters};
use slsplay_commands::store::SqliteEventRepository;
use slsplay_projections::builder::{Builder, Projector, ReadModels};
use slsplay_projections::email::outbox::OutboxMessage;
use slsplay_projections::email::{Emails, MailSettings};
use slsplay_projections::schema::ReadModel;
use slsplay_projections::store::{ReadStore, ReadTx};

use crate::stores::{SqliteStore, StoreUnderTest};
use slsplay_projections::store::sqlite::SqliteReadStore;

pub type ReadModelBuilder = Builder<ReadModels, SqliteReadStore, SqliteEventRepository>;
pub type EmailBuilder = Builder<Emails<SqliteEventRepository>, SqliteReadStore, SqliteEventRepository>;

/// The email builder as the platform runs it, with its outbox in `dir`: links point at
/// `https://app.test`, mail comes from `events@slsplay.test`.
pub fn email_builder(store: &SqliteStore, dir: &std::path::Path) -> EmailBuilder {
    let settings = MailSettings {
        from: "slsplay <events@slsplay.test>".into(),
        public_url: "https://app.test".into(),
    };
    let tokens = InvitationTokens::new(&crate::fixtures::SECRET).expect("test secret is long enough");
    let emails = Emails::new(store.open(), upcasters(), tokens, settings);
    let outbox =
        SqliteReadStore::open_with(dir.join("mail.sqlite3"), &[OutboxMessage::TABLE]).expect("open outbox");
    Builder::new(emails, outbox, store.open(), upcasters())
}

pub fn read_model_builder(events: SqliteEventRepository, dir: &std::path::Path) -> ReadModelBuilder {
    let store = SqliteReadStore::open(dir.join("read_models.sqlite3")).expect("open read models");
    Builder::new(ReadModels, store, events, upcasters())
}

/// The emails in the outbox for `to`, every kind.
pub async fn outbox(builder: &EmailBuilder, to: &str) -> Vec<OutboxMessage> {
    builder
        .store()
        .begin()
        .await
        .expect("begin")
        .list(&serde_json::Value::from(to))
        .await
        .expect("the outbox")
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
