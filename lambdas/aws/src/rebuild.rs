//! Rebuilding a builder's store on AWS, past the stream's 24 hours: the fact index gives the
//! keys in order, the event table the facts (by key, in batches), the builder applies them.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use cqrs_es::persist::{PersistedEventRepository, PersistenceError};
use slsplay_aggregates::history::RecordedFact;
use slsplay_commands::store::dynamo::decode;
use slsplay_projections::builder::{BuildError, Builder, Projector};
use slsplay_projections::store::ReadStore;

use super::fact_index::{DynamoFactIndex, FactIndexError};

/// BatchGetItem takes at most 100 keys.
const BATCH: usize = 100;

/// Why a rebuild stopped. Every variant leaves the fresh store part-built: an operator fixes
/// the cause and runs the rebuild again into empty tables.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// Handling: see the index error; retry when DynamoDB answers, or repair the index.
    #[error("reading the fact index")]
    Index(#[from] FactIndexError),
    /// Handling: the index and the event table disagree; a person must look.
    #[error("fact {id}#{sequence} is indexed but not stored")]
    NotStored { id: String, sequence: usize },
    /// Handling: a bug (a request DynamoDB cannot take).
    #[error("building the BatchGetItem request")]
    Request(#[source] aws_sdk_dynamodb::error::BuildError),
    /// Handling: DynamoDB failed or is unreachable; retry.
    #[error("BatchGetItem from {table}")]
    Fetch {
        table: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Handling: poison in the event table; a person must look.
    #[error("a fact in {table} cannot be read")]
    Decode {
        table: String,
        #[source]
        source: PersistenceError,
    },
    /// Handling: see the builder's error; retry when the store answers.
    #[error("applying fact {id}#{sequence}")]
    Apply {
        id: String,
        sequence: usize,
        #[source]
        source: BuildError,
    },
}

/// Applies every indexed fact, in order, to `builder`; returns how many were applied.
pub async fn rebuild_from_index<P: Projector, S: ReadStore, R: PersistedEventRepository>(
    index: &DynamoFactIndex,
    client: &Client,
    events_table: &str,
    builder: &Builder<P, S, R>,
) -> Result<u64, RebuildError> {
    let keys = index.keys_in_order().await?;
    let mut applied = 0;
    for chunk in keys.chunks(BATCH) {
        let mut facts = fetch(client, events_table, chunk).await?;
        for (id, sequence) in chunk {
            let key = (id.clone(), *sequence);
            let fact = facts.remove(&key).ok_or_else(|| RebuildError::NotStored {
                id: id.clone(),
                sequence: *sequence,
            })?;
            builder.handle(fact).await.map_err(|source| RebuildError::Apply {
                id: id.clone(),
                sequence: *sequence,
                source,
            })?;
            applied += 1;
        }
    }
    Ok(applied)
}

/// The facts with these keys, by key (BatchGetItem answers in no particular order).
async fn fetch(
    client: &Client,
    table: &str,
    keys: &[(String, usize)],
) -> Result<HashMap<(String, usize), RecordedFact>, RebuildError> {
    let mut wanted = KeysAndAttributes::builder().consistent_read(true);
    for (id, sequence) in keys {
        wanted = wanted.keys(HashMap::from([
            ("AggregateTypeAndId".to_owned(), AttributeValue::S(id.clone())),
            (
                "AggregateIdSequence".to_owned(),
                AttributeValue::N(sequence.to_string()),
            ),
        ]));
    }
    let wanted = wanted.build().map_err(RebuildError::Request)?;
    let mut pending = Some(HashMap::from([(table.to_owned(), wanted)]));
    let mut found = HashMap::new();
    while let Some(request) = pending.take().filter(|p| !p.is_empty()) {
        let answer = client
            .batch_get_item()
            .set_request_items(Some(request))
            .send()
            .await
            .map_err(|e| RebuildError::Fetch {
                table: table.to_owned(),
                source: e.into(),
            })?;
        // A key DynamoDB does not answer is not stored: the caller names the first.
        for item in answer
            .responses()
            .and_then(|r| r.get(table))
            .into_iter()
            .flatten()
        {
            let stored = decode(item).map_err(|source| RebuildError::Decode {
                table: table.to_owned(),
                source,
            })?;
            let fact = RecordedFact::new(None, stored);
            found.insert(
                (
                    format!("{}:{}", fact.aggregate_type, fact.aggregate_id),
                    fact.sequence,
                ),
                fact,
            );
        }
        pending = answer.unprocessed_keys;
        if pending.as_ref().is_some_and(|p| !p.is_empty()) {
            // Throttled: give the table a moment before asking again.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    Ok(found)
}
