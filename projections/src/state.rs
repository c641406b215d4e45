//! The state of an event as of one fact, for builders that need more than the fact itself
//! (who is invited, the title, the time zone). Replayed from the event store, so builders need
//! no state of their own and never disagree with the aggregate.

use cqrs_es::EventEnvelope;
use cqrs_es::persist::{EventUpcaster, PersistedEventRepository};
use slsplay_aggregates::history::rebuild;
use slsplay_aggregates::virtual_event::VirtualEvent;

use crate::store::ReadStoreError;

/// The event right after `fact`, and whether it had been published before `fact`.
pub async fn state_after<R: PersistedEventRepository>(
    events: &R,
    upcasters: &[Box<dyn EventUpcaster>],
    fact: &EventEnvelope<VirtualEvent>,
) -> Result<(VirtualEvent, bool), ReadStoreError> {
    let history = events
        .get_events::<VirtualEvent>(&fact.aggregate_id)
        .await
        .map_err(|e| ReadStoreError::Storage(Box::new(e)))?;
    let upto: Vec<_> = history
        .into_iter()
        .take_while(|f| f.sequence <= fact.sequence)
        .collect();
    let was_published = upto
        .iter()
        .any(|f| f.event_type == "VirtualEventPublished" && f.sequence < fact.sequence);
    let replayed =
        rebuild::<VirtualEvent>(upto, upcasters).map_err(|e| ReadStoreError::Storage(Box::new(e)))?;
    Ok((replayed.state, was_published))
}
