//! The local platform's HTTP server. Later issues mount the REST API, GraphQL and the web app
//! on this router; it stops gracefully so no in-flight command is cut off.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::platform::Platform;

#[derive(Clone)]
pub struct AppState {
    pub platform: Arc<Platform>,
    pub started: Instant,
}

pub fn app(state: AppState) -> Router {
    Router::new().route("/health", get(health)).with_state(state)
}

/// Healthy when the event store answers a read, not just when the process is up.
async fn health(State(state): State<AppState>) -> Response {
    let store = &state.platform.store;
    let head = store.head();
    match store.read_from(head, 1).await {
        Ok(_) => Json(json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": state.started.elapsed().as_secs(),
            "event_store": { "kind": "sqlite", "head_position": head },
        }))
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: event store unreadable");
            let body = json!({
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
                "detail": "the event store does not answer",
            });
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [("content-type", "application/problem+json")],
                body.to_string(),
            )
                .into_response()
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
    axum::serve(listener, app(state))
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
