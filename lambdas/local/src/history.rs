//! `slsplay history`: what happened to one event, fact by fact, and the state it adds up to.

use std::io::Write;

use anyhow::Context;
use cqrs_es::Aggregate;
use slsplay_aggregates::history::rebuild;
use slsplay_aggregates::virtual_event::{VirtualEvent, upcasters};
use slsplay_commands::store::{SqliteEventRepository, SqliteOptions};

use crate::config::DataDir;

/// Prints the history of `event_id`; with `jsonl`, only the facts as stored, one per line (the
/// format `slsplay_aggregates::history::read_json_lines` replays in tests).
pub async fn print(
    data_dir: &DataDir,
    event_id: &str,
    jsonl: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let path = data_dir.event_store();
    anyhow::ensure!(
        path.exists(),
        "no event store at {} (is --data-dir right?)",
        path.display()
    );
    let store = SqliteEventRepository::open(&path, SqliteOptions::default())?;
    let facts = store
        .aggregate_history(VirtualEvent::TYPE, event_id)
        .await
        .context("reading the event store")?;
    anyhow::ensure!(!facts.is_empty(), "no event `{event_id}` in {}", path.display());
    if jsonl {
        for fact in &facts {
            writeln!(out, "{}", serde_json::to_string(fact)?)?;
        }
        return Ok(());
    }
    for fact in &facts {
        let meta = |key: &str| {
            fact.metadata
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or("-")
                .to_owned()
        };
        writeln!(
            out,
            "#{:<4} {} v{}  at {}  by {}  (correlation {})",
            fact.sequence,
            fact.event_type,
            fact.event_version,
            meta("recorded_at"),
            meta("actor"),
            meta("correlation_id"),
        )?;
        writeln!(out, "      {}", serde_json::to_string(&fact.payload)?)?;
    }
    let replayed = rebuild::<VirtualEvent>(facts.into_iter().map(Into::into), &upcasters())?;
    writeln!(out, "\nstate at version {}:", replayed.version)?;
    writeln!(out, "{}", serde_json::to_string_pretty(&replayed.state)?)?;
    Ok(())
}
