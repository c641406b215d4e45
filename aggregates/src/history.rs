//! Recorded histories: the JSON-lines form of stored facts, and rebuilding an aggregate from
//! them. Developers export a history with `slsplay history --jsonl` and replay it in tests.

use std::io::BufRead;

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use cqrs_es::{Aggregate, EventEnvelope};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One stored fact, as one line of a recorded history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedFact {
    /// Position in the store's global order, where the store has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: usize,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    #[serde(default)]
    pub metadata: Value,
}

impl RecordedFact {
    pub fn new(position: Option<u64>, event: SerializedEvent) -> Self {
        Self {
            position,
            aggregate_type: event.aggregate_type,
            aggregate_id: event.aggregate_id,
            sequence: event.sequence,
            event_type: event.event_type,
            event_version: event.event_version,
            payload: event.payload,
            metadata: event.metadata,
        }
    }
}

impl From<RecordedFact> for SerializedEvent {
    fn from(f: RecordedFact) -> Self {
        let metadata = if f.metadata.is_null() {
            Value::Object(Default::default())
        } else {
            f.metadata
        };
        SerializedEvent::new(
            f.aggregate_id,
            f.sequence,
            f.aggregate_type,
            f.event_type,
            f.event_version,
            f.payload,
            metadata,
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("line {line}: {source}")]
    Parse { line: usize, source: serde_json::Error },
    #[error("reading the history: {0}")]
    Io(#[from] std::io::Error),
    #[error("fact {sequence} of `{aggregate_id}` cannot be decoded: {reason}")]
    Decode {
        aggregate_id: String,
        sequence: usize,
        reason: String,
    },
    #[error(
        "expected fact {expected} of `{aggregate_id}`, found {found}: the history has a gap or is out of order"
    )]
    OutOfOrder {
        aggregate_id: String,
        expected: usize,
        found: usize,
    },
    #[error("the history mixes aggregates `{first}` and `{other}`")]
    MixedAggregates { first: String, other: String },
}

/// Reads a JSON-lines history; blank lines are skipped, errors name the line.
pub fn read_json_lines(reader: impl BufRead) -> Result<Vec<RecordedFact>, HistoryError> {
    let mut facts = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let fact =
            serde_json::from_str(&line).map_err(|source| HistoryError::Parse { line: i + 1, source })?;
        facts.push(fact);
    }
    Ok(facts)
}

/// Applies the upcasters that match, in order (what cqrs-es does inside its stores).
pub fn upcast(event: SerializedEvent, upcasters: &[Box<dyn EventUpcaster>]) -> SerializedEvent {
    upcasters.iter().fold(event, |event, upcaster| {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            upcaster.upcast(event)
        } else {
            event
        }
    })
}

/// An aggregate rebuilt from its history.
#[derive(Debug)]
pub struct Replayed<A: Aggregate> {
    pub state: A,
    /// The sequence of the last fact applied (0 for an empty history).
    pub version: usize,
    pub envelopes: Vec<EventEnvelope<A>>,
}

/// Rebuilds one aggregate from its facts, which must be that aggregate's, contiguous from 1.
pub fn rebuild<A: Aggregate>(
    facts: impl IntoIterator<Item = SerializedEvent>,
    upcasters: &[Box<dyn EventUpcaster>],
) -> Result<Replayed<A>, HistoryError> {
    let mut replayed = Replayed {
        state: A::default(),
        version: 0,
        envelopes: Vec::new(),
    };
    let mut aggregate_id: Option<String> = None;
    for fact in facts {
        match &aggregate_id {
            Some(first) if *first != fact.aggregate_id => {
                return Err(HistoryError::MixedAggregates {
                    first: first.clone(),
                    other: fact.aggregate_id,
                });
            }
            _ => aggregate_id = Some(fact.aggregate_id.clone()),
        }
        if fact.sequence != replayed.version + 1 {
            return Err(HistoryError::OutOfOrder {
                aggregate_id: fact.aggregate_id,
                expected: replayed.version + 1,
                found: fact.sequence,
            });
        }
        let (id, sequence) = (fact.aggregate_id.clone(), fact.sequence);
        let envelope =
            EventEnvelope::<A>::try_from(upcast(fact, upcasters)).map_err(|e| HistoryError::Decode {
                aggregate_id: id,
                sequence,
                reason: e.to_string(),
            })?;
        replayed.state.apply(envelope.payload.clone());
        replayed.version = sequence;
        replayed.envelopes.push(envelope);
    }
    Ok(replayed)
}
