use clap::Parser;
use slsplay_lambdas::cli::{self, Cli};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    slsplay_lambdas::telemetry::init();
    match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slsplay: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
