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

/// Exit status of `hearth serve` when it cannot start (a port taken, unusable
/// TLS files or data directory, ...). A bad configuration exits with
/// `EXIT_BAD_CONFIG` (2) instead.
const EXIT_CANNOT_START: u8 = 1;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line, never a backtrace (even with RUST_BACKTRACE=1): the
            // message names what failed; the hint says what usually causes it.
            eprintln!("hearth: {}", startup_error_line(&e));
            std::process::ExitCode::from(EXIT_CANNOT_START)
        }
    }
}

/// `error: cause: cause`, on one line, with a hint for causes a user can fix.
fn startup_error_line(e: &anyhow::Error) -> String {
    let message = format!("{e:#}").replace(['\n', '\r'], " ");
    let kind = e.chain().find_map(|c| c.downcast_ref::<std::io::Error>()).map(std::io::Error::kind);
    let hint = match kind {
        Some(std::io::ErrorKind::AddrInUse) => {
            "another program, perhaps another hearth, is using that address: stop it or choose another"
        }
        Some(std::io::ErrorKind::AddrNotAvailable) => "no network interface of this machine has that address",
        Some(std::io::ErrorKind::PermissionDenied) => {
            "permission denied: check the owner and mode of the path, or use a port above 1023"
        }
        _ => return message,
    };
    format!("{message}; {hint}")
}

fn run() -> anyhow::Result<()> {
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
