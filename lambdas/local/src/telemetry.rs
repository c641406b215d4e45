use tracing_subscriber::EnvFilter;

/// Logs to stderr, filtered by `SLSPLAY_LOG` (or `RUST_LOG`), `info` by default.
pub fn init() {
    let filter = std::env::var("SLSPLAY_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}
