//! Rebuilding a builder's store on AWS, past the stream's 24 hours: the fact index gives the
//! keys in order, the event table the facts (by key, in batches), the builder applies them.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::history::RecordedFact;
use slsplay_commands::store::dynamo::decode;
use slsplay_projections::builder::{Builder, Projector};
use slsplay_projections::store::ReadStore;

use super::fact_index::DynamoFactIndex;

/// BatchGetItem takes at most 100 keys.
const BATCH: usize = 100;

/// Applies every indexed fact, in order, to `builder`; returns how many were applied.
pub async fn rebuild_from_index<P: Projector, S: ReadStore, R: PersistedEventRepository>(
    index: &DynamoFactIndex,
    client: &Client,
    events_table: &str,
    builder: &Builder<P, S, R>,
) -> anyhow::Result<u64> {
    let keys = index.keys_in_order().await.map_err(anyhow::Error::msg)?;
    let mut applied = 0;
    for chunk in keys.chunks(BATCH) {
        let mut facts = fetch(client, events_table, chunk).await?;
        for key in chunk {
            let fact = facts
                .remove(key)
                .ok_or_else(|| anyhow::anyhow!("fact {}#{} is indexed but not stored", key.0, key.1))?;
            builder.handle(fact).await?;
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
) -> anyhow::Result<HashMap<(String, usize), RecordedFact>> {
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
    let mut pending = Some(HashMap::from([(table.to_owned(), wanted.build()?)]));
    let mut found = HashMap::new();
    while let Some(request) = pending.take().filter(|p| !p.is_empty()) {
        let answer = client
            .batch_get_item()
            .set_request_items(Some(request))
            .send()
            .await?;
        for item in answer
            .responses()
            .and_then(|r| r.get(table))
            .into_iter()
            .flatten()
        {
            let fact = RecordedFact::new(None, decode(item)?);
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
