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
}
