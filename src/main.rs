//! The `hearth` command.

use clap::{Parser, Subcommand};
use hearth::config::Config;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hearth: a self-hosted real-time community server.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP and the gateway (the default).
    Serve(Config),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = match cli.command {
        Some(Command::Serve(c)) => c,
        None => cli.serve,
    };
    actix_web::rt::System::new().block_on(hearth::server::run(config))?;
    Ok(())
}
