//! `hearth config default` and `hearth config check` (docs/operations.md,
//! "Configuration"): print a complete configuration file, or check one and
//! print the settings `hearth serve` would run with.

use clap::{ArgMatches, Subcommand};
use hearth::config::{default_file, Config, EXIT_BAD_CONFIG};

/// `hearth config ...`.
#[derive(Debug, Clone, Subcommand)]
#[allow(clippy::large_enum_variant)] // one per process
pub enum ConfigCommand {
    /// Print a complete configuration file: every key at its default, with a comment.
    Default,
    /// Check a configuration file and print the settings `hearth serve` would run with.
    ///
    /// The file is the one given with --config (or HEARTH_CONFIG); the settings
    /// are the file's under HEARTH_* variables and the flags given here, each
    /// noted with where it came from. Exits 2 if they cannot be used.
    Check(Config),
}

/// Run `hearth config ...`; `matches` are the whole command line's. Returns
/// the process exit code.
pub fn config(command: ConfigCommand, matches: &ArgMatches) -> i32 {
    match command {
        ConfigCommand::Default => {
            print!("{}", default_file());
            0
        }
        ConfigCommand::Check(config) => {
            let Some(check) = matches.subcommand_matches("config").and_then(|m| m.subcommand_matches("check")) else {
                eprintln!("hearth config check: no matches for `config check`");
                return EXIT_BAD_CONFIG;
            };
            match config.with_file(check).and_then(|e| e.to_toml()) {
                Ok(text) => {
                    print!("{text}");
                    0
                }
                Err(e) => {
                    eprintln!("hearth config check: {e}");
                    EXIT_BAD_CONFIG
                }
            }
        }
    }
}
