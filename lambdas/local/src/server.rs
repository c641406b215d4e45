//! The local platform's HTTP server: the REST API under /api, the development sign-in, the
//! blob store, and the development pages. It stops gracefully so no in-flight command is cut
//! off.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use slsplay_aggregates::validation::VIDEO_MAX_BYTES;

use crate::blobs::{self, LocalBlobs};
use crate::dev_oidc::{self, DevOidc};
use axum::{Json, Router};
use serde_json::json;
use slsplay_api::idempotency::IdempotencyKeys;
use slsplay_api::rate_limit::RateLimiter;
use slsplay_api::{ApiLimits, ApiState};
use slsplay_graphql::GraphqlState;

use slsplay_projections::email::compose::html_escape;
use slsplay_projections::email::outbox::SqliteOutbox;

use crate::platform::Platform;

#[derive(Clone)]
pub struct AppState {
    pub platform: Arc<Platform>,
    pub started: Instant,
    pub api: ApiState,
    pub limits: ApiLimits,
    pub idempotency: Arc<dyn IdempotencyKeys>,
    /// Present when the platform signs users in itself (no external issuer configured).
    pub dev_oidc: Option<Arc<DevOidc>>,
    /// The stand-in for a payment provider's checkout.
    pub dev_payments: Arc<crate::dev_payments::DevPayments>,
    pub blobs: Arc<LocalBlobs>,
    pub graphql: GraphqlState,
    pub web: Arc<crate::web_app::WebApp>,
    pub diagnostics: Arc<crate::diagnostics::RecentDiagnostics>,
}

pub fn app(state: AppState) -> Router {
    let blobs = Router::new()
        .route("/", post(blobs::upload))
        .route("/{*key}", get(blobs::download))
        // Uploads stream to disk; the policy of each bounds its size.
        .layer(DefaultBodyLimit::max(VIDEO_MAX_BYTES as usize + 64 * 1024))
        .with_state(state.blobs.clone());
    let mut dev = dev_routes().nest("/pay", crate::dev_payments::routes(state.dev_payments.clone()));
    if let Some(provider) = &state.dev_oidc {
        dev = dev.nest("/oidc", dev_oidc::routes(provider.clone()));
    }
    Router::new()
        .route("/health", get(health))
        .route("/config.json", get(crate::web_app::config))
        .nest("/dev", dev)
        .nest(
            "/api",
            slsplay_api::router(state.api.clone(), state.limits, state.idempotency.clone()),
        )
        .nest("/blobs", blobs)
        .nest(
            "/graphql",
            slsplay_graphql::router(state.graphql.clone(), RateLimiter::new(state.limits.rate)),
        )
        .fallback(crate::web_app::serve)
        .layer(axum::middleware::from_fn(
            crate::unread_body::close_when_body_unread,
        ))
        .with_state(state)
}

/// Development pages of the local platform only (never deployed): the mail catcher, and a
/// job run by hand (`slsplay jobs run NAME` while the platform runs).
fn dev_routes() -> Router<AppState> {
    Router::new()
        .route("/mail", get(mail_page))
        .route("/mail.json", get(mail_json))
        .route("/mail/{id}", get(mail_eml))
        .route("/jobs/{name}", axum::routing::post(run_job))
}

async fn run_job(
    State(state): State<AppState>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    let Ok(job) = name.parse::<slsplay_jobs::JobName>() else {
        return problem(
            StatusCode::NOT_FOUND,
            "no such job (digest, reminders, seat-holds, close-invitations, retention)",
        );
    };
    match state.platform.jobs.run(job).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => {
            tracing::error!(job = job.as_str(), error = %e, "a job run by hand could not run");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the job could not read the read models",
            )
        }
    }
}

/// The outbox could not be read; the details are logged, not shown.
struct OutboxUnavailable;

impl IntoResponse for OutboxUnavailable {
    fn into_response(self) -> Response {
        problem(StatusCode::SERVICE_UNAVAILABLE, "the outbox cannot be read")
    }
}

fn read_outbox<T>(
    state: &AppState,
    read: impl FnOnce(&SqliteOutbox) -> rusqlite::Result<T>,
) -> Result<T, OutboxUnavailable> {
    SqliteOutbox::open(state.platform.data_dir.mail_store())
        .and_then(|outbox| read(&outbox))
        .map_err(|e| {
            tracing::error!(error = %e, "cannot read the outbox");
            OutboxUnavailable
        })
}

pub(crate) fn problem(status: StatusCode, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [("content-type", "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

const MAIL_LIST_LIMIT: usize = 500;

async fn mail_json(State(state): State<AppState>) -> Result<Response, OutboxUnavailable> {
    Ok(Json(read_outbox(&state, |o| o.list(MAIL_LIST_LIMIT))?).into_response())
}

async fn mail_page(State(state): State<AppState>) -> Result<Response, OutboxUnavailable> {
    let list = read_outbox(&state, |o| o.list(MAIL_LIST_LIMIT))?;
    let rows: String = list
        .iter()
        .map(|m| {
            format!(
                "<tr><td>{}</td><td>{}</td><td><a href=\"/dev/mail/{}\">{}</a></td><td>{}</td><td>{}</td></tr>",
                html_escape(&m.created_at),
                html_escape(&m.recipient),
                html_escape(&m.id),
                html_escape(&m.subject),
                html_escape(&m.kind),
                if m.sent_at.is_some() { "delivered" } else { "waiting" },
            )
        })
        .collect();
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Mail (development)</title><style>body{{font-family:system-ui,sans-serif;margin:1rem}}table{{border-collapse:collapse;width:100%}}\
         td,th{{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}}</style></head><body>\
         <h1>Mail</h1><p>Development only: every email the platform would send, newest first ({} shown). \
         Also as <a href=\"/dev/mail.json\">JSON</a>.</p><table><thead><tr><th>Created</th><th>To</th><th>Subject</th><th>Kind</th><th>State</th></tr></thead>\
         <tbody>{rows}</tbody></table></body></html>",
        list.len()
    );
    Ok(([("content-type", "text/html; charset=utf-8")], page).into_response())
}

async fn mail_eml(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, OutboxUnavailable> {
    let id = id.trim_end_matches(".eml").to_owned();
    Ok(match read_outbox(&state, |o| o.eml(&id))? {
        Some(eml) => ([("content-type", "message/rfc822")], eml).into_response(),
        None => problem(StatusCode::NOT_FOUND, "no such email"),
    })
}

/// Healthy when the event store answers a read, not just when the process is up.
async fn health(State(state): State<AppState>) -> Response {
    let platform = &state.platform;
    let now = platform.clock.now();
    match state
        .diagnostics
        .get(&platform.store, &platform.queues, now)
        .await
    {
        Ok(d) => Json(json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": state.started.elapsed().as_secs(),
            "event_store": d.event_store,
            "fan_out": d.fan_out,
            "builders": d.builders,
        }))
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: event store unreadable");
            problem(StatusCode::SERVICE_UNAVAILABLE, "the event store does not answer")
        }
    }
}

/// Serves until Ctrl-C or SIGTERM, then lets in-flight requests finish before returning.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> anyhow::Result<()> {
    // Handlers are installed before announcing the address: a signal sent as soon as the
    // platform says it listens must stop it gracefully, not kill it.
    let shutdown = shutdown_signal()?;
    let address: SocketAddr = listener.local_addr()?;
    tracing::info!(%address, "slsplay is listening on http://{address}");
    let app = app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutting down: finishing requests in flight");
    })
}
