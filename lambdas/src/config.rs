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

/// Held while a process owns the data folder.
#[derive(Debug)]
pub struct DataDirLock(#[allow(dead_code)] std::fs::File);
