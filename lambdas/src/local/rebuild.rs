//! `slsplay projections rebuild`: replays the whole history into a fresh copy of the read
//! models, then puts the copy in place of the old one.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use slsplay_aggregates::virtual_event::upcasters;
use slsplay_commands::store::{SqliteEventRepository, SqliteOptions};
use slsplay_projections::builder::{Builder, ReadModels};
use slsplay_projections::store::sqlite::SqliteReadStore;

use crate::config::DataDir;

const PAGE: usize = 5_000;

/// Rebuilds `read_models` (the only builder with a store of its own so far).
pub async fn rebuild(data_dir: &DataDir, progress: &mut impl Write) -> anyhow::Result<u64> {
    let events_path = data_dir.event_store();
    anyhow::ensure!(
        events_path.exists(),
        "no event store at {} (is --data-dir right?)",
        events_path.display()
    );
    let _lock = data_dir
        .lock()
        .context("stop `slsplay dev` on this data folder before rebuilding")?;
    let events = SqliteEventRepository::open(&events_path, SqliteOptions::default())?;
    let fresh = data_dir.read_models().with_extension("rebuild.sqlite3");
    remove_database(&fresh)?;
    let builder = Builder::new(
        ReadModels,
        SqliteReadStore::open(&fresh)?,
        events.clone(),
        upcasters(),
    );
    let total = events.head();
    let started = Instant::now();
    // The next page is read (and its JSON parsed) on another thread while this one applies the
    // current page: the two take about as long, and the machine has two cores.
    let read_after = |position: u64| {
        let events = events.clone();
        tokio::spawn(async move { events.read_from(position, PAGE).await })
    };
    let mut next = read_after(0);
    let mut applied = 0u64;
    loop {
        let page = next.await.context("reading the event store")??;
        let Some(last) = page.last().and_then(|f| f.position) else {
            break;
        };
        next = read_after(last);
        applied += builder
            .replay(page)
            .await
            .context("replaying facts into the fresh read models")? as u64;
        draw(progress, last, total, applied, started)?;
    }
    drop(builder);
    let live = data_dir.read_models();
    remove_database(&live)?;
    std::fs::rename(&fresh, &live)
        .with_context(|| format!("moving the rebuilt read models to {}", live.display()))?;
    writeln!(progress)?;
    Ok(applied)
}

fn draw(
    out: &mut impl Write,
    position: u64,
    total: u64,
    applied: u64,
    started: Instant,
) -> std::io::Result<()> {
    const WIDTH: u64 = 30;
    let done = (position.min(total) * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let rate = applied as f64 / started.elapsed().as_secs_f64().max(1e-9);
    write!(
        out,
        "\r[{}{}] {position}/{total} facts, {rate:.0}/s",
        "#".repeat(usize::try_from(done).unwrap_or(0)),
        "-".repeat(usize::try_from(WIDTH - done).unwrap_or(0)),
    )?;
    out.flush()
}

/// Removes an SQLite database with its write-ahead log and shared-memory files.
fn remove_database(path: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}
