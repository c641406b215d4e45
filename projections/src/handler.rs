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

/// Handles a batch in order and returns the items that failed.
pub async fn handle_batch<P: Projector, S: ReadStore, R: PersistedEventRepository>(
    builder: &Builder<P, S, R>,
    items: &[BatchItem],
) -> Vec<ItemFailure> {
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
            Ok(Outcome::Applied { filled }) if filled > 0 => {
                tracing::info!(
                    builder = builder.name(),
                    group = item.group_id,
                    filled,
                    "filled a gap from the event store"
                );
            }
            Ok(_) => {}
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
