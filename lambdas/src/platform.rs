//! The local platform's composition: the embedded adapters wired to the same command service
//! the Lambdas use. Built once at start-up and shared by every request.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use slsplay_aggregates::SystemClock;
use slsplay_aggregates::virtual_event::{
    InvitationTokens, MIN_SECRET_BYTES, VirtualEvent, VirtualEventServices, upcasters,
};
use slsplay_commands::CommandService;
use slsplay_commands::store::{Durability, SqliteEventRepository, SqliteOptions};
use slsplay_projections::builder::{Builder, ReadModels};
use slsplay_projections::queue::{EmbeddedQueues, QueuePolicy};
use slsplay_projections::store::sqlite::{SqliteQueries, SqliteReadStore};

use slsplay_projections::email::outbox::OutboxMessage;
use slsplay_projections::email::{Emails, MailSettings};
use slsplay_projections::schema::ReadModel;

use crate::config::{DataDir, DataDirLock};
use slsplay_projections::search::{Search, SearchIndex};

use crate::local::pipeline::{EmailBuilder, ReadModelBuilder, SearchBuilder};

pub type LocalCommands = CommandService<VirtualEvent, SqliteEventRepository>;

pub struct Platform {
    pub store: SqliteEventRepository,
    pub commands: Arc<LocalCommands>,
    pub queues: EmbeddedQueues,
    pub read_models: Arc<ReadModelBuilder>,
    pub emails: Arc<EmailBuilder>,
    pub search: Arc<SearchBuilder>,
    /// The APIs' reads of the read models.
    pub queries: SqliteQueries,
    /// Signs the local blob store's upload policies.
    pub blob_secret: Vec<u8>,
    pub data_dir: DataDir,
    _lock: DataDirLock,
}

impl Platform {
    pub fn open(data_dir: &DataDir, durability: Durability, mail: MailSettings) -> anyhow::Result<Self> {
        fs::create_dir_all(&data_dir.path)
            .with_context(|| format!("creating the data folder {}", data_dir.path.display()))?;
        let lock = data_dir.lock()?;
        let options = SqliteOptions {
            durability,
            ..SqliteOptions::default()
        };
        let store = SqliteEventRepository::open(data_dir.event_store(), options)
            .with_context(|| format!("opening the event store {}", data_dir.event_store().display()))?;
        let secret = invitation_secret(data_dir)?;
        let tokens = InvitationTokens::new(&secret)?;
        // Uploads get a key of their own, derived from the platform's secret.
        let blob_secret = crate::api::blobs::hmac(&secret, b"slsplay local blob uploads");
        let clock = Arc::new(SystemClock);
        let services = VirtualEventServices::new(clock.clone(), tokens.clone());
        let commands = CommandService::new(store.clone(), upcasters(), services, clock.clone());
        let queues = EmbeddedQueues::open(data_dir.queues(), QueuePolicy::default(), clock.clone())
            .with_context(|| format!("opening the queues {}", data_dir.queues().display()))?;
        let read_store = SqliteReadStore::open(data_dir.read_models())
            .with_context(|| format!("opening the read models {}", data_dir.read_models().display()))?;
        let queries = SqliteQueries::open(data_dir.read_models())
            .with_context(|| format!("opening the read models {}", data_dir.read_models().display()))?;
        let read_models = Builder::new(ReadModels, read_store, store.clone(), upcasters());
        let mail_store = SqliteReadStore::open_with(data_dir.mail_store(), &[OutboxMessage::TABLE])
            .with_context(|| format!("opening the outbox {}", data_dir.mail_store().display()))?;
        let emails = Emails::new(store.clone(), upcasters(), tokens, mail);
        let emails = Builder::new(emails, mail_store, store.clone(), upcasters());
        let index = SearchIndex::open(&data_dir.search_index(), true)
            .with_context(|| format!("opening the search index {}", data_dir.search_index().display()))?;
        let search_store = SqliteReadStore::open_with(data_dir.search_store(), &[])
            .with_context(|| format!("opening {}", data_dir.search_store().display()))?;
        let search = Search::new(store.clone(), upcasters(), Arc::new(index));
        let search = Builder::new(search, search_store, store.clone(), upcasters());
        Ok(Self {
            store,
            commands: Arc::new(commands),
            queues,
            read_models: Arc::new(read_models),
            emails: Arc::new(emails),
            search: Arc::new(search),
            queries,
            blob_secret,
            data_dir: data_dir.clone(),
            _lock: lock,
        })
    }
}

/// The key of invitation tokens: `SLSPLAY_INVITATION_SECRET` (base64url) when set, else a
/// random key made on first start and kept in the data folder (readable by its owner only),
/// so links sent before a restart keep working.
fn invitation_secret(data_dir: &DataDir) -> anyhow::Result<Vec<u8>> {
    if let Ok(encoded) = std::env::var("SLSPLAY_INVITATION_SECRET") {
        return URL_SAFE_NO_PAD
            .decode(encoded.trim())
            .context("SLSPLAY_INVITATION_SECRET must be base64url without padding");
    }
    let path = data_dir.invitation_secret();
    match fs::read_to_string(&path) {
        Ok(encoded) => URL_SAFE_NO_PAD
            .decode(encoded.trim())
            .with_context(|| format!("{} is corrupt", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = vec![0u8; MIN_SECRET_BYTES];
            getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness for the secret: {e}"))?;
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            writeln!(file, "{}", URL_SAFE_NO_PAD.encode(&secret))?;
            file.sync_all()?;
            Ok(secret)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
