use clap::Parser;

// Read model rebuilds and projections allocate many small rows; mimalloc made a rebuild 45%
// faster than the system allocator (lambdas/local/benches/async_tier.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use slsplay_local::cli::{self, Cli};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    slsplay_local::telemetry::init();
    match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slsplay: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
