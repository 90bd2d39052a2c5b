//! Options every scenario shares, and the target protocols. A leaf module:
//! the scenarios read it, and `cli` puts it together with their arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// The server protocol to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Hearth's gateway (MessagePack) with setup over its REST API.
    Hearth,
    /// The Socket.IO room broadcast server in loadtest/reference/socketio.
    Socketio,
    /// nats-server's WebSocket listener (loadtest/reference/nats).
    Nats,
}

/// Options every scenario takes.
#[derive(Debug, Args)]
pub struct Common {
    /// Server address (HTTP and gateway for Hearth; the WebSocket port for the reference servers).
    #[arg(long, global = true, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Which server protocol to drive.
    #[arg(long, global = true, value_enum, default_value = "hearth")]
    pub target: Target,
    /// The server's process id: report its CPU seconds and RSS over the measured window.
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
    /// Write the report as JSON to this file.
    #[arg(long, global = true)]
    pub json: Option<PathBuf>,
    /// Draw latency percentiles and throughput over time into this SVG file.
    #[arg(long, global = true)]
    pub svg: Option<PathBuf>,
    /// Spread clients over this many loopback source addresses (127.0.0.2 and up),
    /// about 28k connections each.
    #[arg(long, global = true, default_value_t = 4)]
    pub sources: u8,
    /// Runtime threads of the generator (1 = everything on one core; pin it with taskset).
    #[arg(long, global = true, default_value_t = 1)]
    pub threads: usize,
    /// Reuse the accounts and guilds recorded in this file (created and written on first use).
    #[arg(long, global = true)]
    pub state: Option<PathBuf>,
    /// Most clients connecting (handshake → READY) at the same time.
    #[arg(long, global = true, default_value_t = 200)]
    pub connect_concurrency: usize,
    /// Concurrent REST requests during setup.
    #[arg(long, global = true, default_value_t = 32)]
    pub setup_concurrency: usize,
    /// No progress bar (for logs and CI).
    #[arg(long, global = true)]
    pub quiet: bool,
}
