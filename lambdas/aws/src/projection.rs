//! A projection Lambda: an SQS FIFO batch in, the builder's batch handler applied, the failed
//! messages reported (needs `ReportBatchItemFailures` on the event source mapping; without it
//! a partial failure would fail, and retry, the whole batch).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use cqrs_es::persist::PersistedEventRepository;
use slsplay_projections::builder::{Builder, Projector};
use slsplay_projections::handler::{BatchItem, handle_batch};
use slsplay_projections::store::ReadStore;

pub async fn project<P: Projector, S: ReadStore, R: PersistedEventRepository>(
    builder: &Builder<P, S, R>,
    event: &SqsEvent,
) -> SqsBatchResponse {
    // SQS always sets all three on a FIFO delivery. Were one missing, the default is safe:
    // an empty id fails the whole batch (Lambda's rule for a failure it cannot place), an
    // empty body fails its message as "not a fact", an empty group only orders more strictly.
    let items: Vec<BatchItem> = event
        .records
        .iter()
        .map(|m| BatchItem {
            id: m.message_id.clone().unwrap_or_default(),
            group_id: m.attributes.get("MessageGroupId").cloned().unwrap_or_default(),
            body: m.body.clone().unwrap_or_default(),
        })
        .collect();
    let mut response = SqsBatchResponse::default();
    for failure in handle_batch(builder, &items).await {
        let mut failed = BatchItemFailure::default();
        failed.item_identifier = failure.id;
        response.batch_item_failures.push(failed);
    }
    response
}
