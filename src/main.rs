//! The `hearth` command.

mod cli;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
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
    /// Take a consistent backup of the database, also while the server runs.
    Backup(cli::BackupArgs),
    /// Restore a backup into a new or empty data directory.
    Restore(cli::RestoreArgs),
    /// Check a backup (or a stopped server's data directory) for damage.
    Verify(cli::VerifyArgs),
    /// Operator commands on a stopped server's database: users, guilds, compaction, stats.
    Admin(cli::AdminArgs),
    /// Print a default configuration file, or check one.
    #[command(subcommand)]
    Config(cli::ConfigCommand),
}

fn main() -> anyhow::Result<()> {
    // Parsed in two steps: the configuration file needs to know which values
    // came from variables and flags (ArgMatches::value_source).
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if !matches!(cli.command, None | Some(Command::Serve(_))) {
        // The operational commands print their results on stdout; logs go to stderr.
        hearth::logging::init(hearth::logging::LogFormat::Human, "info")?;
    }
    let config = match cli.command {
        Some(Command::Serve(c)) => c,
        Some(Command::Backup(a)) => std::process::exit(crate::cli::backup(a)),
        Some(Command::Restore(a)) => std::process::exit(crate::cli::restore(a)),
        Some(Command::Verify(a)) => std::process::exit(crate::cli::verify(a)),
        Some(Command::Admin(a)) => std::process::exit(crate::cli::admin(a)),
        Some(Command::Config(c)) => std::process::exit(crate::cli::config(c, &matches)),
        None => cli.serve,
    };
    // The --config file, under HEARTH_* variables and flags; a bad file stops here.
    let effective = config.with_file(matches.subcommand_matches("serve").unwrap_or(&matches)).unwrap_or_else(|e| {
        eprintln!("hearth: {e}");
        std::process::exit(hearth::config::EXIT_BAD_CONFIG)
    });
    let config = effective.config.clone();
    // Logs (stderr) as the resolved configuration says.
    hearth::logging::init(config.log_format, &config.log_level)?;
    effective.log();
    // `hearth backup` proves it may take a backup with this token (see http::admin).
    if let Err(e) = hearth::http::admin::install_token(&config.data) {
        tracing::warn!(error = %e, "no admin token: `hearth backup` cannot take backups through this server");
    }
    actix_web::rt::System::new().block_on(hearth::server::run(config))?;
    Ok(())
}
