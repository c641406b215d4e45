//! The local platform's composition, all in one place: the embedded adapters (event store,
//! queues, read models, outbox, search index, blob store, idempotency keys, sign-in) wired to
//! the same command service, builders and routers the Lambdas use. `run` is `slsplay dev`.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use slsplay_aggregates::virtual_event::{
    InvitationTokens, MIN_SECRET_BYTES, VirtualEvent, VirtualEventServices, upcasters,
};
use slsplay_aggregates::{Clock, SystemClock};
use slsplay_api::auth::JwtVerifier;
use slsplay_api::auth::jwt::Trust;
use slsplay_api::rate_limit::RateLimit;
use slsplay_api::{ApiLimits, ApiState, ReadProgress};
use slsplay_commands::CommandService;
use slsplay_commands::store::{Durability, SqliteEventRepository, SqliteOptions};
use slsplay_graphql::commands::CommandApi;
use slsplay_graphql::{GraphqlMode, GraphqlState};
use slsplay_jobs::Jobs;
use slsplay_projections::builder::{Builder, ReadModels};
use slsplay_projections::queue::{EmbeddedQueues, QueuePolicy};
use slsplay_projections::read_models::TABLES;
use slsplay_projections::store::Queries;
use slsplay_projections::store::sqlite::{SqliteQueries, SqliteReadStore, outdated_tables};

use slsplay_projections::email::outbox::OutboxMessage;
use slsplay_projections::email::{Emails, MailSettings};
use slsplay_projections::schema::ReadModel;

use slsplay_projections::search::{Search, SearchIndex};
use slsplay_projections::web_cache::{PageSettings, WebCache};

use crate::blobs::{LocalBlobs, LocalPages};
use crate::config::{DataDir, DataDirLock, DevConfig};
use crate::dev_oidc::{DevOidc, LocalJwks};
use crate::dev_payments::DevPayments;
use crate::idempotency::SqliteIdempotency;
use crate::pipeline::{EmailBuilder, Pipeline, ReadModelBuilder, SearchBuilder, SmtpRelay, WebCacheBuilder};
use crate::scheduler::LocalJobs;
use crate::server::{self, AppState};
use crate::web_app::{Provider, SignIn};

pub type LocalCommands = CommandService<VirtualEvent, SqliteEventRepository>;

pub struct Platform {
    pub store: SqliteEventRepository,
    pub commands: Arc<LocalCommands>,
    pub queues: EmbeddedQueues,
    pub read_models: Arc<ReadModelBuilder>,
    pub emails: Arc<EmailBuilder>,
    pub search: Arc<SearchBuilder>,
    pub web_cache: Arc<WebCacheBuilder>,
    /// The web cache's pages, which `/e/{share_id}` serves.
    pub pages: Arc<LocalPages>,
    /// The APIs' reads of the read models.
    pub queries: SqliteQueries,
    /// The scheduled jobs, over the same command service and read models.
    pub jobs: Arc<LocalJobs>,
    /// Signs the local blob store's upload policies.
    pub blob_secret: Vec<u8>,
    /// Signs the development checkout's orders and receipts.
    pub payment_secret: Vec<u8>,
    /// The one clock of the process: commands, queues, sign-in, uploads and mail read it.
    pub clock: Arc<dyn Clock>,
    /// Signalled whenever the read model builder has applied a batch: commands' answers wait
    /// on it for their own version.
    pub read_models_applied: Arc<tokio::sync::Notify>,
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
        let blob_secret = slsplay_api::blobs::hmac(&secret, b"slsplay local blob uploads");
        let payment_secret = slsplay_api::blobs::hmac(&secret, b"slsplay local payments");
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let services = VirtualEventServices::new(clock.clone(), tokens.clone());
        // The data folder's lock makes this process the event store's only writer.
        let commands =
            CommandService::new(store.clone(), upcasters(), services, clock.clone()).trust_cached_copies();
        let queues = EmbeddedQueues::open(data_dir.queues(), QueuePolicy::default(), clock.clone())
            .with_context(|| format!("opening the queues {}", data_dir.queues().display()))?;
        let read_store = SqliteReadStore::open(data_dir.read_models())
            .with_context(|| format!("opening the read models {}", data_dir.read_models().display()))?;
        let queries = SqliteQueries::open(data_dir.read_models())
            .with_context(|| format!("opening the read models {}", data_dir.read_models().display()))?;
        let read_models = Builder::new(ReadModels, read_store, store.clone(), upcasters());
        let mail_store = SqliteReadStore::open_with(data_dir.mail_store(), &[OutboxMessage::TABLE])
            .with_context(|| format!("opening the outbox {}", data_dir.mail_store().display()))?;
        let page_settings = PageSettings {
            public_url: mail.public_url.clone(),
            media_url: format!("{}/blobs", mail.public_url),
        };
        let emails = Emails::new(store.clone(), upcasters(), tokens.clone(), mail);
        let emails = Builder::new(emails, mail_store, store.clone(), upcasters());
        let index = SearchIndex::open(&data_dir.search_index(), true)
            .with_context(|| format!("opening the search index {}", data_dir.search_index().display()))?;
        let search_store = SqliteReadStore::open_with(data_dir.search_store(), &[])
            .with_context(|| format!("opening {}", data_dir.search_store().display()))?;
        let search = Search::new(store.clone(), upcasters(), Arc::new(index));
        let search = Builder::new(search, search_store, store.clone(), upcasters());
        let pages = Arc::new(LocalPages::new(data_dir.blobs()));
        let web_cache_store = SqliteReadStore::open_with(data_dir.web_cache_store(), &[])
            .with_context(|| format!("opening {}", data_dir.web_cache_store().display()))?;
        let web_cache = WebCache::new(store.clone(), upcasters(), tokens, page_settings, pages.clone());
        let web_cache = Builder::new(web_cache, web_cache_store, store.clone(), upcasters());
        let commands = Arc::new(commands);
        let jobs = Jobs::new(commands.clone(), Queries::Sqlite(queries.clone()), clock.clone());
        Ok(Self {
            store,
            commands,
            queues,
            read_models: Arc::new(read_models),
            emails: Arc::new(emails),
            search: Arc::new(search),
            web_cache: Arc::new(web_cache),
            pages,
            queries,
            jobs: Arc::new(jobs),
            blob_secret,
            payment_secret,
            clock,
            read_models_applied: Arc::new(tokio::sync::Notify::new()),
            data_dir: data_dir.clone(),
            _lock: lock,
        })
    }
}

impl Platform {
    /// The jobs keep ended events `days` days (30 unless told).
    pub fn with_retention_days(mut self, days: u32) -> Self {
        let jobs = Jobs::new(
            self.commands.clone(),
            Queries::Sqlite(self.queries.clone()),
            self.clock.clone(),
        );
        self.jobs = Arc::new(jobs.with_retention_days(days));
        self
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

/// `slsplay dev`: opens the data folder, starts the asynchronous tier and serves HTTP until
/// Ctrl-C or SIGTERM, then stops in order so nothing acknowledged is lost.
pub async fn run(config: DevConfig) -> anyhow::Result<()> {
    rebuild_outdated_read_models(&config.data_dir).await?;
    let platform = Arc::new(
        Platform::open(&config.data_dir, config.durability, config.mail.settings())?
            .with_retention_days(config.retention_days),
    );
    tracing::info!(
        data_dir = %config.data_dir.path.display(),
        durability = ?config.durability,
        head_position = platform.store.head(),
        "event store open"
    );
    // This process holds the data folder: what an earlier run had received, it died with.
    let released = platform.queues.release_deliveries_of_earlier_runs().await?;
    if released > 0 {
        tracing::info!(messages = released, "deliveries of the last run are due again");
    }
    let address = SocketAddr::new(config.bind, config.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("listening on {address}"))?;
    let smtp = match &config.mail.smtp {
        Some(relay) => Some(SmtpRelay::new(relay, &config.mail.from)?),
        None => None,
    };
    let pipeline = Pipeline::start(&platform, smtp);
    let state = app_state(&config, &platform, listener.local_addr()?)?;
    if state.web.is_built() {
        tracing::info!(web_dir = %config.web_dir.display(), "serving the web app at /");
    } else {
        tracing::warn!(
            web_dir = %config.web_dir.display(),
            "the web app is not built: run .ci/build-web (or start with .ci/dev)"
        );
    }
    let served = server::serve(listener, state).await;
    // The pipeline finishes the batches in hand before the store closes.
    pipeline.stop().await;
    served?;
    // Every request and batch has finished; dropping the last handle closes SQLite, which
    // checkpoints the write-ahead log into the database file.
    drop(platform);
    tracing::info!("stopped");
    Ok(())
}

/// A data folder from an earlier version whose read model tables lack today's columns (or
/// tables) gets its read models rebuilt from the facts before anything reads them.
pub async fn rebuild_outdated_read_models(data_dir: &DataDir) -> anyhow::Result<()> {
    let outdated = outdated_tables(data_dir.read_models(), TABLES)?;
    if outdated.is_empty() {
        return Ok(());
    }
    tracing::warn!(tables = ?outdated, "the read models were built by an earlier version: rebuilding them");
    let applied = crate::rebuild::rebuild(data_dir, "read_models", &mut std::io::sink()).await?;
    tracing::info!(facts = applied, "read models rebuilt");
    Ok(())
}

/// The HTTP side of the local platform: the API over the platform's stores, the sign-in it
/// trusts, and the blob store at this server's own address.
fn app_state(config: &DevConfig, platform: &Arc<Platform>, address: SocketAddr) -> anyhow::Result<AppState> {
    let data_dir = &config.data_dir;
    let (verifier, dev_oidc, sign_in) = match &config.api.oidc_issuer {
        Some(issuer) => {
            let trust = Trust::new(
                issuer,
                config.api.oidc_audience.clone(),
                config.api.oidc_jwks_url.clone(),
            );
            let sign_in = SignIn {
                issuer: issuer.clone(),
                client_id: config.api.oidc_audience.first().cloned().unwrap_or_default(),
                // Cognito's names of its social providers.
                providers: [
                    ("Google", "Google"),
                    ("Facebook", "Facebook"),
                    ("Apple", "SignInWithApple"),
                ]
                .map(|(label, name)| Provider {
                    label: label.into(),
                    identity_provider: name.into(),
                })
                .into(),
            };
            (trust.verifier(platform.clock.clone()), None, sign_in)
        }
        None => {
            let provider = Arc::new(DevOidc::open(
                &data_dir.dev_oidc_key(),
                &config.mail.platform.public_url,
                platform.clock.clone(),
            )?);
            tracing::warn!(
                issuer = provider.settings().issuer,
                "development sign-in is on: anyone can sign in as anyone (local use only)"
            );
            let verifier = JwtVerifier::new(
                provider.settings(),
                Box::new(LocalJwks(provider.clone())),
                platform.clock.clone(),
            );
            let sign_in = SignIn {
                issuer: provider.settings().issuer,
                client_id: crate::dev_oidc::CLIENT_ID.into(),
                providers: crate::dev_oidc::PROVIDERS
                    .map(|name| Provider {
                        label: name.into(),
                        identity_provider: name.into(),
                    })
                    .into(),
            };
            (verifier, Some(provider), sign_in)
        }
    };
    let host = if address.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        address.ip()
    };
    let own_url = format!("http://{}", SocketAddr::new(host, address.port()));
    let blobs = Arc::new(LocalBlobs::new(
        data_dir.blobs(),
        platform.blob_secret.clone(),
        &own_url,
        platform.clock.clone(),
    ));
    let verifier = Arc::new(verifier);
    let dev_payments = Arc::new(DevPayments::new(
        &platform.payment_secret,
        &config.mail.platform.public_url,
        platform.clock.clone(),
    ));
    let queries = Queries::Sqlite(platform.queries.clone());
    let api = ApiState {
        commands: platform.commands.clone(),
        queries: queries.clone(),
        verifier: verifier.clone(),
        blobs: blobs.clone(),
        clock: platform.clock.clone(),
        progress: ReadProgress::Signalled(platform.read_models_applied.clone()),
        payments: Some(dev_payments.clone()),
    };
    let mode = GraphqlMode { introspection: true };
    let services = slsplay_graphql::Services {
        queries: queries.clone(),
        blobs: blobs.clone(),
        commands: CommandApi::new(format!("{own_url}/api")),
    };
    let graphql = GraphqlState {
        schema: slsplay_graphql::schema(services, mode),
        verifier,
        queries,
        mode,
    };
    let limits = ApiLimits {
        rate: RateLimit {
            per_second: config.api.rate_limit,
            burst: config.api.rate_limit * 3.0,
        },
        ..ApiLimits::default()
    };
    Ok(AppState {
        platform: platform.clone(),
        started: Instant::now(),
        api,
        limits,
        idempotency: Arc::new(SqliteIdempotency::open(data_dir.api_store())?),
        dev_oidc,
        dev_payments,
        blobs,
        graphql,
        web: Arc::new(crate::web_app::WebApp::new(&config.web_dir, sign_in)),
        diagnostics: Arc::default(),
    })
}
