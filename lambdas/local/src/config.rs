//! Configuration of the local platform: flags, each with an environment variable and a default
//! that works on a fresh machine.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use slsplay_commands::store::Durability;

/// Where the local platform keeps its state, shared by every subcommand that reads it.
#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// Folder for the event store and the other local state (created when missing).
    #[arg(long = "data-dir", env = "SLSPLAY_DATA_DIR", default_value = ".slsplay")]
    pub path: PathBuf,
}

impl DataDir {
    pub fn event_store(&self) -> PathBuf {
        self.path.join("events.sqlite3")
    }

    pub fn read_models(&self) -> PathBuf {
        self.path.join("read_models.sqlite3")
    }

    pub fn queues(&self) -> PathBuf {
        self.path.join("queues.sqlite3")
    }

    /// The email builder's outbox.
    pub fn mail_store(&self) -> PathBuf {
        self.path.join("mail.sqlite3")
    }

    /// The search index, and the search builder's checkpoints.
    pub fn search_index(&self) -> PathBuf {
        self.path.join("search")
    }

    pub fn search_store(&self) -> PathBuf {
        self.path.join("search.sqlite3")
    }

    /// The web cache builder's checkpoints (its pages sit in the blob store).
    pub fn web_cache_store(&self) -> PathBuf {
        self.path.join("web-cache.sqlite3")
    }

    /// Where sent emails land as .eml files.
    pub fn mail_folder(&self) -> PathBuf {
        self.path.join("mail")
    }

    /// Claims the folder for this process: `slsplay dev` holds it while running, and commands
    /// that replace files in it (a rebuild) refuse to run beside it.
    pub fn lock(&self) -> anyhow::Result<DataDirLock> {
        std::fs::create_dir_all(&self.path)?;
        let path = self.path.join("slsplay.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        // SAFETY: flock(2) on a descriptor this function owns; released when the file closes.
        let taken = unsafe {
            libc::flock(
                std::os::fd::AsRawFd::as_raw_fd(&file),
                libc::LOCK_EX | libc::LOCK_NB,
            )
        };
        anyhow::ensure!(
            taken == 0,
            "another slsplay process is using {}",
            self.path.display()
        );
        Ok(DataDirLock(file))
    }

    /// The development OpenID provider's signing key (PKCS#8 DER).
    pub fn dev_oidc_key(&self) -> PathBuf {
        self.path.join("dev-oidc-key.der")
    }

    /// The API's own state: idempotency keys.
    pub fn api_store(&self) -> PathBuf {
        self.path.join("api.sqlite3")
    }

    /// Uploaded media.
    pub fn blobs(&self) -> PathBuf {
        self.path.join("blobs")
    }

    pub fn invitation_secret(&self) -> PathBuf {
        self.path.join("invitation-secret")
    }
}

#[derive(Debug, Clone, Args)]
pub struct DevConfig {
    #[command(flatten)]
    pub data_dir: DataDir,
    /// Port of the HTTP server (0 picks a free one and logs it).
    #[arg(long, env = "SLSPLAY_PORT", default_value_t = 3000)]
    pub port: u16,
    /// Address to listen on; the default keeps the platform private to this machine.
    #[arg(long, env = "SLSPLAY_BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// `full`: an acknowledged command survives a power cut; `normal`: only a process crash.
    #[arg(long, env = "SLSPLAY_DURABILITY", default_value = "full")]
    pub durability: Durability,
    #[command(flatten)]
    pub mail: MailConfig,
    #[command(flatten)]
    pub api: ApiConfig,
    /// The web app's built files (`.ci/build-web` writes them), served at `/`.
    #[arg(long = "web-dir", env = "SLSPLAY_WEB_DIR", default_value = "web/dist")]
    pub web_dir: std::path::PathBuf,
    /// Days an ended (or cancelled) event stays in the read models the apps use; its daily
    /// counts stay for good.
    #[arg(long = "retention-days", env = "SLSPLAY_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u32,
}

#[derive(Debug, Clone, Args)]
pub struct ApiConfig {
    /// Requests per second each caller may send to /api (bursts of three times that); 0: no limit.
    #[arg(long = "rate-limit", env = "SLSPLAY_RATE_LIMIT", default_value_t = 20.0)]
    pub rate_limit: f64,
    /// Trust this OpenID Connect issuer instead of the development sign-in (e.g. a Cognito
    /// user pool: https://cognito-idp.REGION.amazonaws.com/POOL_ID).
    #[arg(long = "oidc-issuer", env = "SLSPLAY_OIDC_ISSUER", requires = "oidc_audience")]
    pub oidc_issuer: Option<String>,
    /// The app client id(s) whose tokens the API accepts, comma separated.
    #[arg(long = "oidc-audience", env = "SLSPLAY_OIDC_AUDIENCE", value_delimiter = ',')]
    pub oidc_audience: Vec<String>,
    /// The issuer's JWKS (default: ISSUER/.well-known/jwks.json, where Cognito publishes it).
    #[arg(long = "oidc-jwks-url", env = "SLSPLAY_OIDC_JWKS_URL")]
    pub oidc_jwks_url: Option<String>,
}

/// Where the platform answers: the web app's address, which the links in emails point at, and
/// where the other commands find a running `slsplay dev`.
#[derive(Debug, Clone, Args)]
pub struct PublicUrl {
    /// The platform's public address (the web app's, where the links in emails point).
    #[arg(
        long = "public-url",
        env = "SLSPLAY_PUBLIC_URL",
        default_value = "http://127.0.0.1:3000"
    )]
    pub public_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct MailConfig {
    /// The sender of every email.
    #[arg(
        long = "mail-from",
        env = "SLSPLAY_MAIL_FROM",
        default_value = "slsplay <events@slsplay.localhost>"
    )]
    pub from: String,
    #[command(flatten)]
    pub platform: PublicUrl,
    /// Also send every email to this SMTP relay (`host:port`, plain SMTP, no TLS or login:
    /// a local relay or mail catcher). Without it emails only land in the data folder.
    #[arg(long = "smtp", env = "SLSPLAY_SMTP")]
    pub smtp: Option<String>,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            from: "slsplay <events@slsplay.localhost>".into(),
            platform: PublicUrl {
                public_url: "http://127.0.0.1:3000".into(),
            },
            smtp: None,
        }
    }
}

impl MailConfig {
    pub fn settings(&self) -> slsplay_projections::email::MailSettings {
        slsplay_projections::email::MailSettings {
            from: self.from.clone(),
            public_url: self.platform.public_url.trim_end_matches('/').to_owned(),
        }
    }
}

/// Held while a process owns the data folder.
#[derive(Debug)]
pub struct DataDirLock(#[allow(dead_code)] std::fs::File);
