//! Configuration: built-in defaults, overridden by the TOML file given with
//! `--config` ([`file`]), overridden by HEARTH_* environment variables,
//! overridden by command-line flags (clap handles the last two). [`render`]
//! writes settings back out as TOML; the `hearth config` command that prints
//! them lives with the other subcommands in the binary (src/cli/config.rs).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::auth::PasswordCost;
use crate::protocol::limits::{
    ACTOR_IDLE_TIMEOUT, HEARTBEAT_INTERVAL, MAX_CONNECTIONS_PER_IP, MAX_OUTBOUND_BYTES, MAX_VOICE_PARTICIPANTS,
    MAX_VOICE_ROOM_PARTICIPANTS, RESUME_GRACE,
};

pub mod cidr;
mod file;
pub mod memory;
mod render;

pub use file::{parse_file, settings, ConfigError, Effective, Origin, Setting, EXIT_BAD_CONFIG};
pub use render::default_file;

/// Default of `--max-total-outbound-bytes`: `actors::limits::MAX_TOTAL_OUTBOUND_BYTES`
/// (config may not import actors; a test keeps the two equal).
const DEFAULT_MAX_TOTAL_OUTBOUND_BYTES: usize = 64 * 1024 * 1024;

/// Settings of `hearth serve`. Each field is a flag, a HEARTH_* variable and
/// a key of the configuration file of the same name (so its type must be
/// serde's too); the file's own path is not a key.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// TOML configuration file to read settings from (`hearth config default`
    /// prints one); HEARTH_* variables and flags override its values.
    #[arg(long = "config", env = "HEARTH_CONFIG", value_name = "PATH")]
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
    /// Address to serve HTTP and the gateway on (port 0 picks a free port and prints it).
    #[arg(long, env = "HEARTH_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Directory for the database.
    #[arg(long, env = "HEARTH_DATA", default_value = "./data")]
    pub data: PathBuf,
    /// Storage page cache in MiB (at least 1, at most the machine's RAM).
    /// Unset: an eighth of the memory the process may use (its cgroup's
    /// memory limit or the machine's RAM), between 16 and 512 MiB; 64 MiB if
    /// neither can be read.
    #[arg(long, env = "HEARTH_CACHE_MIB", value_name = "MIB", value_parser = memory::parse_cache_mib)]
    pub cache_mib: Option<u64>,
    /// HTTP/gateway worker threads (0 = one per CPU core).
    #[arg(long, env = "HEARTH_WORKERS", default_value_t = 0)]
    pub workers: usize,
    /// Heartbeat interval announced in HELLO, in milliseconds; a session is
    /// closed after 1.5 intervals without a heartbeat.
    #[arg(long, env = "HEARTH_HEARTBEAT_INTERVAL_MS", default_value_t = HEARTBEAT_INTERVAL.as_millis() as u64)]
    pub heartbeat_interval_ms: u64,
    /// Seconds after which an idle channel or guild actor (no readers, no
    /// traffic) stops; it restarts on demand.
    #[arg(long, env = "HEARTH_ACTOR_IDLE_SECS", default_value_t = ACTOR_IDLE_TIMEOUT.as_secs())]
    pub actor_idle_secs: u64,
    /// Bytes a session may have queued for sending before it is closed as a
    /// slow reader (4021).
    #[arg(long, env = "HEARTH_MAX_OUTBOUND_BYTES", default_value_t = MAX_OUTBOUND_BYTES)]
    pub max_outbound_bytes: usize,
    /// Bytes queued for sending to all gateway connections together; past it,
    /// connections with at least 64 KiB queued are closed as slow readers
    /// (4021), furthest behind first.
    #[arg(long, env = "HEARTH_MAX_TOTAL_OUTBOUND_BYTES", default_value_t = DEFAULT_MAX_TOTAL_OUTBOUND_BYTES)]
    pub max_total_outbound_bytes: usize,
    /// Seconds a disconnected gateway session stays resumable.
    #[arg(long, env = "HEARTH_RESUME_GRACE_SECS", default_value_t = RESUME_GRACE.as_secs())]
    pub resume_grace_secs: u64,
    /// Seconds to wait on SIGTERM for requests and commits in flight before exiting.
    #[arg(long, env = "HEARTH_SHUTDOWN_TIMEOUT_SECS", default_value_t = 10)]
    pub shutdown_timeout_secs: u64,
    /// Multiplier for every rate limit (1 = the documented numbers; load tests
    /// and benchmarks on one machine raise it).
    #[arg(long, env = "HEARTH_RATE_LIMIT_SCALE", default_value_t = 1.0)]
    pub rate_limit_scale: f64,
    /// Gateway connections one IP address may hold open.
    #[arg(long, env = "HEARTH_MAX_CONNECTIONS_PER_IP", default_value_t = MAX_CONNECTIONS_PER_IP)]
    pub max_connections_per_ip: usize,
    /// Web origins (scheme://host[:port]) allowed to open gateway connections,
    /// comma-separated, besides the server's own origin. `*` allows any.
    /// Connections without an Origin header (bots, native clients) are always allowed.
    #[arg(long, env = "HEARTH_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Seconds after which the kernel drops a connection whose peer stopped
    /// reading or acknowledging (TCP_USER_TIMEOUT on accepted sockets).
    #[arg(long, env = "HEARTH_TCP_USER_TIMEOUT_SECS", default_value_t = 30)]
    pub tcp_user_timeout_secs: u64,
    /// argon2id memory cost in KiB.
    #[arg(long, env = "HEARTH_ARGON2_MEMORY_KIB", default_value_t = PasswordCost::default().memory_kib)]
    pub argon2_memory_kib: u32,
    /// argon2id iterations.
    #[arg(long, env = "HEARTH_ARGON2_ITERATIONS", default_value_t = PasswordCost::default().iterations)]
    pub argon2_iterations: u32,
    /// Password hashes (login, registration, password change) computed at
    /// once (0 = one per CPU core). Each holds `argon2_memory_kib` while it
    /// runs; up to MAX_QUEUED_PASSWORD_HASHES more wait, and past that such
    /// requests are answered 503 `overloaded`.
    #[arg(long, env = "HEARTH_ARGON2_THREADS", default_value_t = 0)]
    pub argon2_threads: usize,
    /// Log format on stderr: `human` (one readable line per event) or `json`
    /// (one JSON object per line).
    #[arg(long, env = "HEARTH_LOG_FORMAT", value_enum, default_value_t = crate::logging::LogFormat::Human)]
    pub log_format: crate::logging::LogFormat,
    /// Log level or filter in tracing's env-filter syntax (`debug`,
    /// `info,hearth::access=warn`, ...). RUST_LOG, if set, wins.
    #[arg(long, env = "HEARTH_LOG", default_value = "info", value_parser = crate::logging::parse_level)]
    pub log_level: String,
    /// Serve HTTPS and WSS with this certificate chain (PEM, leaf first) on
    /// `--bind`; needs `--tls-key`. SIGHUP re-reads both files.
    #[arg(long, env = "HEARTH_TLS_CERT", value_name = "PATH")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
    #[arg(long, env = "HEARTH_TLS_KEY", value_name = "PATH")]
    pub tls_key: Option<PathBuf>,
    /// Reverse proxies (IP networks, comma-separated, e.g. `127.0.0.1/32,10.0.0.0/8`)
    /// whose X-Forwarded-For is believed: behind them, per-IP limits key on the
    /// client address they report. Empty trusts nobody.
    #[arg(long, env = "HEARTH_TRUSTED_PROXIES", value_delimiter = ',', value_name = "CIDR")]
    pub trusted_proxies: Vec<cidr::Cidr>,
    /// Serve /metrics, /healthz and /readyz on this separate address (plain
    /// HTTP) instead of on `--bind`.
    #[arg(long, env = "HEARTH_METRICS_BIND", value_name = "ADDR")]
    pub metrics_bind: Option<SocketAddr>,
    /// UDP address of the voice socket, one port for every voice participant
    /// [default: `--bind`'s IP, port 50000]. Open this UDP port in the firewall.
    #[arg(long, env = "HEARTH_VOICE_BIND", value_name = "ADDR")]
    pub voice_bind: Option<SocketAddr>,
    /// Address voice clients are told to send to (`IP` or `IP:PORT`), for a
    /// server behind NAT (e.g. a VPS's public IP) [default: the voice bind
    /// address; for an unspecified IP such as 0.0.0.0, the IP of the default route].
    #[arg(long, env = "HEARTH_VOICE_PUBLIC_ADDR", value_name = "ADDR")]
    pub voice_public_addr: Option<crate::voice::PublicAddr>,
    /// Most participants in one voice channel.
    #[arg(long, env = "HEARTH_VOICE_MAX_ROOM_PARTICIPANTS", default_value_t = MAX_VOICE_ROOM_PARTICIPANTS)]
    pub voice_max_room_participants: usize,
    /// Most voice participants on the whole server.
    #[arg(long, env = "HEARTH_VOICE_MAX_PARTICIPANTS", default_value_t = MAX_VOICE_PARTICIPANTS)]
    pub voice_max_participants: usize,
    /// Turn voice off: no UDP socket; joining a voice channel fails with `voice_unavailable`.
    #[arg(long, env = "HEARTH_NO_VOICE")]
    pub no_voice: bool,
}

impl Config {
    /// Heartbeat interval as a duration (at least 100 ms).
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms.max(100))
    }

    /// Idle time after which channel and guild actors stop (at least 1 s).
    pub fn actor_idle(&self) -> Duration {
        Duration::from_secs(self.actor_idle_secs.max(1))
    }

    /// How long a disconnected session stays resumable.
    pub fn resume_grace(&self) -> Duration {
        Duration::from_secs(self.resume_grace_secs)
    }

    /// Password hashing cost.
    pub fn password_cost(&self) -> PasswordCost {
        PasswordCost { memory_kib: self.argon2_memory_kib.max(8), iterations: self.argon2_iterations.max(1) }
    }

    /// Password-hashing threads to run (resolving 0 to the number of cores).
    pub fn argon2_thread_count(&self) -> usize {
        if self.argon2_threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.argon2_threads
        }
    }

    /// The storage cache to run with: `cache_mib`, or derived from the memory
    /// this process may use when unset.
    pub fn cache_size(&self) -> memory::CacheSize {
        memory::cache_size(self.cache_mib)
    }

    /// Worker threads to run (resolving 0 to the number of cores).
    pub fn worker_count(&self) -> usize {
        if self.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.workers
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn outbound_budget_default_is_the_documented_limit() {
        assert_eq!(super::DEFAULT_MAX_TOTAL_OUTBOUND_BYTES, crate::actors::limits::MAX_TOTAL_OUTBOUND_BYTES);
        assert_eq!(super::Config::default().max_total_outbound_bytes, super::DEFAULT_MAX_TOTAL_OUTBOUND_BYTES);
    }
}
