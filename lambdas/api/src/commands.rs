//! The write port of the API: the command service behind a trait object, so the same handlers
//! run over the SQLite store locally and over DynamoDB in a Lambda.

use std::future::Future;
use std::pin::Pin;

use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::virtual_event::{VirtualEvent, VirtualEventCommand, VirtualEventError};
use slsplay_commands::{CommandContext, CommandError, CommandService};

type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, CommandError<VirtualEventError>>> + Send + 'a>>;

pub trait Commands: Send + Sync {
    /// Runs a command (only at `expected_version` when given); the version afterwards.
    fn execute<'a>(
        &'a self,
        event_id: &'a str,
        command: VirtualEventCommand,
        context: &'a CommandContext,
        expected_version: Option<usize>,
    ) -> Answer<'a, usize>;

    /// The organizer of an event as the write side knows it this instant (uploads are
    /// authorized against it, since the read models may not show a just-created event yet).
    fn organizer<'a>(&'a self, event_id: &'a str) -> Answer<'a, Option<String>>;
}

impl<R> Commands for CommandService<VirtualEvent, R>
where
    R: PersistedEventRepository + Send + Sync + 'static,
{
    fn execute<'a>(
        &'a self,
        event_id: &'a str,
        command: VirtualEventCommand,
        context: &'a CommandContext,
        expected_version: Option<usize>,
    ) -> Answer<'a, usize> {
        Box::pin(async move {
            self.execute_at(event_id, command, context, expected_version)
                .await
                .map(|c| c.version)
        })
    }

    fn organizer<'a>(&'a self, event_id: &'a str) -> Answer<'a, Option<String>> {
        Box::pin(async move {
            let (event, version) = self.load(event_id).await?;
            Ok((version > 0).then_some(event.organizer))
        })
    }
}
