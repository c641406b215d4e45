//! The batch handler every delivery path calls: the SQS-triggered Lambda on AWS and the
//! embedded queue's consumer locally. It reports failed items instead of failing the batch,
//! and keeps FIFO order: once a message of a group fails, the later messages of that group in
//! the same batch are failed too, so they are retried after it, not before.

use std::collections::HashSet;

use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::history::RecordedFact;

use crate::builder::{Builder, Outcome, Projector};
use crate::store::ReadStore;

/// One message of a batch: `id` is what the platform needs to retry it (an SQS message id or
/// an embedded queue receipt).
#[derive(Debug, Clone)]
pub struct BatchItem {
    pub id: String,
    pub group_id: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFailure {
    pub id: String,
    pub error: String,
}

/// Handles a batch in order and returns the items that failed. A batched builder gets the
/// whole batch in one transaction; if that fails, the batch is handled item by item, so the
/// failing items are found and only they (and their groups) are retried.
pub async fn handle_batch<P: Projector, S: ReadStore, R: PersistedEventRepository>(
    builder: &Builder<P, S, R>,
    items: &[BatchItem],
) -> Vec<ItemFailure> {
    if builder.batched() && items.len() > 1 {
        let facts: Result<Vec<RecordedFact>, _> = items
            .iter()
            .map(|item| serde_json::from_str::<RecordedFact>(&item.body))
            .collect();
        if let Ok(facts) = facts {
            match builder.handle_all(facts).await {
                Ok(outcomes) => {
                    log_filled(builder.name(), items, &outcomes);
                    return Vec::new();
                }
                Err(e) => tracing::info!(
                    builder = builder.name(),
                    error = %e,
                    "the batch failed as a whole; handling it item by item"
                ),
            }
        }
    }
    let mut failed_groups = HashSet::new();
    let mut failures = Vec::new();
    for item in items {
        if failed_groups.contains(&item.group_id) {
            let error = "an earlier message of its group failed in this batch".to_owned();
            failures.push(ItemFailure {
                id: item.id.clone(),
                error,
            });
            continue;
        }
        let result = match serde_json::from_str::<RecordedFact>(&item.body) {
            Ok(fact) => builder.handle(fact).await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("not a fact: {e}")),
        };
        match result {
            Ok(outcome) => log_filled(builder.name(), std::slice::from_ref(item), &[outcome]),
            Err(error) => {
                tracing::warn!(
                    builder = builder.name(),
                    group = item.group_id,
                    error,
                    "message failed"
                );
                failed_groups.insert(item.group_id.clone());
                failures.push(ItemFailure {
                    id: item.id.clone(),
                    error,
                });
            }
        }
    }
    failures
}

fn log_filled(builder: &str, items: &[BatchItem], outcomes: &[Outcome]) {
    for (item, outcome) in items.iter().zip(outcomes) {
        if let Outcome::Applied { filled } = outcome
            && *filled > 0
        {
            tracing::info!(
                builder,
                group = item.group_id,
                filled,
                "filled a gap from the event store"
            );
        }
    }
}
