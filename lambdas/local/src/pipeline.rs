//! Fan-out and consumers. The fan-out follows the event store's global order and sends each
//! fact to every builder's queue, moving its cursor in the same transaction. Each consumer
//! takes batches from its queue and hands them to the same batch handler the SQS Lambda uses.

use std::sync::Arc;
use std::time::Duration;

use cqrs_es::persist::PersistedEventRepository;
use slsplay_aggregates::Clock;
use slsplay_commands::store::SqliteEventRepository;
use slsplay_projections::builder::{Builder, Projector, ReadModels};
use slsplay_projections::email::Emails;
use slsplay_projections::email::outbox::SqliteOutbox;
use slsplay_projections::handler::{BatchItem, handle_batch};
use slsplay_projections::queue::{EmbeddedQueues, Outgoing};
use slsplay_projections::search::Search;

use crate::blobs::LocalPages;
use slsplay_projections::store::ReadStore;
use slsplay_projections::store::sqlite::SqliteReadStore;
use slsplay_projections::web_cache::WebCache;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub type ReadModelBuilder = Builder<ReadModels, SqliteReadStore, SqliteEventRepository>;
pub type EmailBuilder = Builder<Emails<SqliteEventRepository>, SqliteReadStore, SqliteEventRepository>;
pub type SearchBuilder = Builder<Search<SqliteEventRepository>, SqliteReadStore, SqliteEventRepository>;
pub type WebCacheBuilder =
    Builder<WebCache<SqliteEventRepository, LocalPages>, SqliteReadStore, SqliteEventRepository>;

/// The fan-out's position in the global order, kept with the queues.
pub const FANOUT_CURSOR: &str = "fanout";
/// Facts read per fan-out step, and messages per consumer batch (SQS's maximum).
const FANOUT_PAGE: usize = 500;
const BATCH: usize = 10;
/// Other processes can append too (they do not wake us): look at least this often.
const IDLE_POLL: Duration = Duration::from_secs(1);

pub struct Pipeline {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Pipeline {
    /// Starts the fan-out, a consumer per builder, the mail delivery and the scheduled jobs.
    pub fn start(platform: &crate::platform::Platform, smtp: Option<SmtpRelay>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let (store, queues) = (platform.store.clone(), platform.queues.clone());
        let queue_names = vec![
            platform.read_models.name(),
            platform.emails.name(),
            platform.search.name(),
            platform.web_cache.name(),
        ];
        tasks.spawn(fan_out(store, queues.clone(), queue_names, stopped.clone()));
        tasks.spawn(consume(
            queues.clone(),
            platform.read_models.clone(),
            Some(platform.read_models_applied.clone()),
            stopped.clone(),
        ));
        tasks.spawn(consume(
            queues.clone(),
            platform.emails.clone(),
            None,
            stopped.clone(),
        ));
        tasks.spawn(consume(
            queues.clone(),
            platform.search.clone(),
            None,
            stopped.clone(),
        ));
        tasks.spawn(consume(queues, platform.web_cache.clone(), None, stopped.clone()));
        let (outbox, folder) = (platform.data_dir.mail_store(), platform.data_dir.mail_folder());
        tasks.spawn(deliver_mail(
            outbox,
            folder,
            smtp,
            platform.queues.sent(),
            platform.clock.clone(),
            stopped.clone(),
        ));
        let watched = crate::scheduler::Watched {
            store: platform.store.clone(),
            queues: platform.queues.clone(),
            blobs: platform.data_dir.blobs(),
            queries: slsplay_projections::store::Queries::Sqlite(platform.queries.clone()),
        };
        tasks.spawn(crate::scheduler::schedule(
            platform.jobs.clone(),
            watched,
            platform.clock.clone(),
            stopped,
        ));
        Self { stop, tasks }
    }

    /// Lets each loop finish the batch in hand, then returns.
    pub async fn stop(mut self) {
        // Fails only when every loop has already ended, which is what this asks for.
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn fan_out(
    store: SqliteEventRepository,
    queues: EmbeddedQueues,
    queue_names: Vec<&'static str>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut head = store.subscribe();
    let mut position = match queues.cursor(FANOUT_CURSOR).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "fan-out cannot read its cursor; not started");
            return;
        }
    };
    while !*stopped.borrow() {
        let step = async {
            let facts = store
                .read_from(position, FANOUT_PAGE)
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = facts.last().and_then(|f| f.position) else {
                return Ok(None);
            };
            let messages = facts
                .iter()
                .map(Outgoing::carrying)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            let batches: Vec<_> = queue_names.iter().map(|q| (*q, messages.clone())).collect();
            queues
                .send_and_advance(&batches, Some((FANOUT_CURSOR, last)))
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(Some(last))
        };
        match step.await {
            Ok(Some(last)) => position = last,
            Ok(None) => {
                tokio::select! {
                    _ = head.changed() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = stopped.changed() => {}
                }
            }
            Err(error) => {
                tracing::error!(error, position, "fan-out failed; retrying");
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }
}

/// Hands `builder` its queue's batches; `applied`, if given, is signalled after each batch.
async fn consume<P, S, R>(
    queues: EmbeddedQueues,
    builder: Arc<Builder<P, S, R>>,
    applied: Option<Arc<tokio::sync::Notify>>,
    mut stopped: watch::Receiver<bool>,
) where
    P: Projector + 'static,
    S: ReadStore + 'static,
    R: PersistedEventRepository + 'static,
{
    let queue = builder.name();
    let sent = queues.sent();
    while !*stopped.borrow() {
        // Registered before looking, so a send between the look and the wait still wakes us.
        let notified = sent.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let deliveries = match queues.receive(queue, BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, queue, "cannot receive");
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
        };
        if deliveries.is_empty() {
            let due = match queues.next_due_in(queue).await {
                Ok(due) => due.unwrap_or(IDLE_POLL).min(IDLE_POLL),
                Err(e) => {
                    // Only the wait is at stake: the next look comes after the idle poll.
                    tracing::warn!(error = %e, queue, "cannot tell when the next message is due");
                    IDLE_POLL
                }
            };
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(due) => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        let items: Vec<BatchItem> = deliveries
            .iter()
            .map(|d| BatchItem {
                id: d.receipt.to_string(),
                group_id: d.group_id.clone(),
                body: d.body.clone(),
            })
            .collect();
        let failures = handle_batch(builder.as_ref(), &items).await;
        if let Some(applied) = &applied {
            applied.notify_waiters();
        }
        let mut done = Vec::with_capacity(deliveries.len());
        for delivery in &deliveries {
            match failures.iter().find(|f| f.id == delivery.receipt.to_string()) {
                Some(f) => {
                    if let Err(e) = queues.fail(delivery, &f.error).await {
                        tracing::error!(error = %e, queue, "cannot release a failed delivery");
                    }
                }
                None => done.push(delivery.receipt),
            }
        }
        if let Err(e) = queues.ack_all(&done).await {
            // Those messages come back after their visibility timeout, and are skipped then.
            tracing::error!(error = %e, queue, "cannot acknowledge deliveries");
        }
    }
}

/// Plain SMTP to a relay, for `--smtp host:port`.
pub struct SmtpRelay {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::Address,
}

impl SmtpRelay {
    pub fn new(host_port: &str, from: &str) -> anyhow::Result<Self> {
        let (host, port) = host_port
            .rsplit_once(':')
            .ok_or_else(|| anyhow::anyhow!("--smtp takes host:port, got `{host_port}`"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| anyhow::anyhow!("--smtp: `{port}` is not a port"))?;
        let from: lettre::message::Mailbox = from.parse().map_err(|e| anyhow::anyhow!("--mail-from: {e}"))?;
        // Plain SMTP on purpose: this is for a relay or mail catcher on a trusted network.
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .build();
        Ok(Self {
            transport,
            from: from.email,
        })
    }

    async fn send(&self, recipient: &str, eml: &str) -> anyhow::Result<()> {
        use lettre::AsyncTransport;
        let to: lettre::Address = recipient.parse()?;
        let envelope = lettre::address::Envelope::new(Some(self.from.clone()), vec![to])?;
        self.transport.send_raw(&envelope, eml.as_bytes()).await?;
        Ok(())
    }
}

/// Hands every email in the outbox to delivery, locally: an .eml file per message in the mail
/// folder, named by its id, so a retry after a crash rewrites the same file; and, when a relay
/// is configured, SMTP. An email is confirmed once both are done; one claimed by a run that
/// died before confirming it is delivered again at the start of this one.
async fn deliver_mail(
    outbox: std::path::PathBuf,
    folder: std::path::PathBuf,
    smtp: Option<SmtpRelay>,
    sent: Arc<tokio::sync::Notify>,
    clock: Arc<dyn Clock>,
    mut stopped: watch::Receiver<bool>,
) {
    let opened = std::fs::create_dir_all(&folder)
        .map_err(anyhow::Error::from)
        .and_then(|()| SqliteOutbox::open(&outbox).map_err(anyhow::Error::from))
        .and_then(|outbox| {
            let freed = outbox.free_claims_of_earlier_runs()?;
            if freed > 0 {
                tracing::warn!(
                    emails = freed,
                    "emails claimed by the last run but never confirmed are delivered again"
                );
            }
            Ok(outbox)
        })
        // A mutex only to share the connection with the SMTP awaits; nothing else uses it.
        .map(std::sync::Mutex::new);
    let outbox = match opened {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "mail delivery not started");
            return;
        }
    };
    while !*stopped.borrow() {
        let notified = sent.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let wait = match deliver_waiting(&outbox, &folder, smtp.as_ref(), clock.as_ref()).await {
            Ok(0) => MAIL_POLL,
            Ok(n) => {
                tracing::info!(emails = n, folder = %folder.display(), "emails delivered");
                MAIL_POLL
            }
            Err(e) => {
                tracing::error!(error = %e, "mail delivery failed; retrying");
                MAIL_RETRY
            }
        };
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => {}
        }
    }
}

/// The outbox is filled by the email consumer, which wakes us only indirectly.
const MAIL_POLL: Duration = Duration::from_millis(200);
const MAIL_RETRY: Duration = Duration::from_secs(5);

async fn deliver_waiting(
    outbox: &std::sync::Mutex<SqliteOutbox>,
    folder: &std::path::Path,
    smtp: Option<&SmtpRelay>,
    clock: &dyn Clock,
) -> anyhow::Result<usize> {
    let waiting = outbox.lock().expect("outbox poisoned").unsent(100, clock.now())?;
    let mut delivered = 0;
    for email in &waiting {
        if !outbox
            .lock()
            .expect("outbox poisoned")
            .claim(&email.id, clock.now())?
        {
            continue;
        }
        let path = folder.join(format!("{}.eml", email.id));
        let partial = folder.join(format!(".{}.eml.partial", email.id));
        let sent = async {
            std::fs::write(&partial, &email.eml)?;
            std::fs::rename(&partial, &path)?;
            if let Some(relay) = smtp {
                relay.send(&email.recipient, &email.eml).await?;
            }
            Ok::<_, anyhow::Error>(())
        };
        if let Err(e) = sent.await {
            outbox.lock().expect("outbox poisoned").release(&email.id)?;
            return Err(e);
        }
        outbox
            .lock()
            .expect("outbox poisoned")
            .confirm(&email.id, clock.now())?;
        delivered += 1;
    }
    Ok(delivered)
}
