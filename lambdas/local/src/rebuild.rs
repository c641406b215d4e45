//! `slsplay projections rebuild`: replays the whole history into a fresh copy of the read
//! models, then puts the copy in place of the old one.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use slsplay_aggregates::virtual_event::upcasters;
use slsplay_commands::store::{SqliteEventRepository, SqliteOptions};
use std::sync::Arc;

use cqrs_es::persist::PersistedEventRepository;
use slsplay_projections::builder::{Builder, Projector, ReadModels, decode_page};
use slsplay_projections::read_models::TABLES;
use slsplay_projections::search::{Search, SearchIndex};
use slsplay_projections::store::ReadStore;
use slsplay_projections::store::sqlite::SqliteReadStore;

use crate::config::DataDir;

/// Facts per replay transaction (and per read of the event store).
pub const PAGE: usize = 5_000;

/// The builders a rebuild can replay, as the CLI names them.
pub const BUILDERS: [&str; 2] = ["read_models", "search"];

/// Rebuilds one builder's store from the whole history: `read_models` (the SQLite read model
/// file) or `search` (the tantivy index). The email outbox is never rebuilt: it is the record of
/// what was sent.
pub async fn rebuild(data_dir: &DataDir, name: &str, progress: &mut impl Write) -> anyhow::Result<u64> {
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
    match name {
        "read_models" => {
            let (live, fresh) = (
                data_dir.read_models(),
                data_dir.read_models().with_extension("rebuild.sqlite3"),
            );
            remove_database(&fresh)?;
            let builder = Builder::new(
                ReadModels,
                SqliteReadStore::open_scratch(&fresh, TABLES)?,
                events.clone(),
                upcasters(),
            );
            let applied = replay_all(&events, &builder, progress).await?;
            drop(builder);
            sync(&fresh)?;
            remove_database(&live)?;
            std::fs::rename(&fresh, &live)
                .with_context(|| format!("moving the rebuilt read models to {}", live.display()))?;
            Ok(applied)
        }
        "search" => {
            let (live_index, live_store) = (data_dir.search_index(), data_dir.search_store());
            let fresh_index = live_index.with_extension("rebuild");
            let fresh_store = live_store.with_extension("rebuild.sqlite3");
            remove_folder(&fresh_index)?;
            remove_database(&fresh_store)?;
            let index = Arc::new(SearchIndex::open(&fresh_index, true)?);
            let search = Search::new(events.clone(), upcasters(), index);
            let builder = Builder::new(
                search,
                SqliteReadStore::open_scratch(&fresh_store, &[])?,
                events.clone(),
                upcasters(),
            );
            let applied = replay_all(&events, &builder, progress).await?;
            drop(builder);
            sync(&fresh_store)?;
            remove_folder(&live_index)?;
            remove_database(&live_store)?;
            std::fs::rename(&fresh_index, &live_index)?;
            std::fs::rename(&fresh_store, &live_store)?;
            Ok(applied)
        }
        other => anyhow::bail!("no builder `{other}` can be rebuilt (read_models or search)"),
    }
}

/// Replays every fact into `builder`, a page per transaction, drawing the progress.
async fn replay_all<P: Projector, S: ReadStore, R: PersistedEventRepository>(
    events: &SqliteEventRepository,
    builder: &Builder<P, S, R>,
    progress: &mut impl Write,
) -> anyhow::Result<u64> {
    let total = events.head();
    let started = Instant::now();
    let upcasters = Arc::new(upcasters());
    // The next page is read and decoded on another thread while this one applies the current
    // page: applying is the slower of the two, and the machine has two cores.
    let read_after = |position: u64| {
        let (events, upcasters) = (events.clone(), upcasters.clone());
        tokio::spawn(async move {
            let page = events.read_from(position, PAGE).await?;
            let last = page.last().and_then(|f| f.position);
            anyhow::Ok((last, decode_page(page, &upcasters)?))
        })
    };
    let mut next = read_after(0);
    let mut applied = 0u64;
    loop {
        let (last, page) = next.await.context("reading the event store")??;
        let Some(last) = last else {
            break;
        };
        next = read_after(last);
        applied += builder
            .replay_decoded(page)
            .await
            .context("replaying facts into the fresh store")? as u64;
        draw(progress, last, total, applied, started)?;
    }
    writeln!(progress)?;
    Ok(applied)
}

fn remove_folder(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
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

/// Makes a rebuilt file durable before it replaces the live one: the scratch store never syncs.
fn sync(path: &Path) -> anyhow::Result<()> {
    std::fs::File::open(path)
        .and_then(|file| file.sync_all())
        .with_context(|| format!("syncing {}", path.display()))
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
