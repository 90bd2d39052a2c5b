//! The command line: the shared options ([`Common`]) and the scenario to run
//! with its own arguments. Only `main` reads it; nothing else imports it.

use clap::Parser;

use crate::options::Common;
use crate::scenarios::Scenario;

/// Load generator for Hearth and the reference servers. Load goes to loopback
/// addresses only; every run is bounded in time and in connections.
#[derive(Debug, Parser)]
#[command(name = "hearth-loadtest", version)]
pub struct Cli {
    /// Options for every scenario.
    #[command(flatten)]
    pub common: Common,
    /// What to run.
    #[command(subcommand)]
    pub scenario: Scenario,
}
