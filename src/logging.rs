//! Logs: one line per event on stderr, human-readable or JSON.
//!
//! * Format: `--log-format human|json` (`HEARTH_LOG_FORMAT`, default human).
//!   JSON puts one object per line with `timestamp`, `level`, `target`,
//!   `message`, the event's fields, the innermost span (`span`) and every
//!   enclosing span (`spans`).
//! * Level: `--log-level` (`HEARTH_LOG`, default `info`) in tracing's
//!   env-filter syntax (`debug`, `info,hearth::access=warn`, …). `RUST_LOG`, if
//!   set, wins.
//! * Ids: every line logged while an HTTP request is handled is inside a
//!   `request{id method route}` span ([`crate::http::request_id`]); every line
//!   logged while a gateway session handles a frame or a message is inside a
//!   `session{conn user}` span ([`crate::actors::session`]).
//! * Secrets: passwords, tokens, token hashes and Authorization headers are
//!   never logged. Wrap a value that must never be logged in [`Redacted`].

use std::fmt;
use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event (ANSI colours only when stderr is a terminal).
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Install the global logger: `format` on stderr, filtered by `RUST_LOG` if
/// set, else by `level`. Fails on a filter that does not parse.
pub fn init(format: LogFormat, level: &str) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty()) {
        Some(env) => EnvFilter::try_new(&env).map_err(|e| anyhow::anyhow!("invalid RUST_LOG {env:?}: {e}"))?,
        None => EnvFilter::try_new(level).map_err(|e| anyhow::anyhow!("invalid log level {level:?}: {e}"))?,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => {
            let r = builder.json().flatten_event(true).with_current_span(true).with_span_list(true).try_init();
            // A panic would otherwise print plain text lines into the JSON stream.
            std::panic::set_hook(Box::new(|info| {
                let backtrace = std::backtrace::Backtrace::capture();
                if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
                    tracing::error!(target: "panic", %backtrace, "{info}");
                } else {
                    tracing::error!(target: "panic", "{info}");
                }
            }));
            r
        }
    }
    .map_err(|e| anyhow::anyhow!("could not install the logger: {e}"))
}

/// Check a `--log-level` value (clap's value parser): a filter that parses.
pub fn parse_level(level: &str) -> Result<String, String> {
    EnvFilter::try_new(level).map(|_| level.to_string()).map_err(|e| format!("not a log filter: {e}"))
}

/// A value that must never appear in a log: its `Debug` and `Display` print
/// `[redacted]`. It deliberately has no `Serialize`, so it cannot be echoed
/// into a JSON log or response either; read it with [`Redacted::expose`].
#[derive(Clone, Copy, Default)]
pub struct Redacted<T>(T);

/// A secret string (a password or a token).
pub type Secret = Redacted<String>;

impl<T> Redacted<T> {
    /// Wrap `value`.
    pub const fn new(value: T) -> Self {
        Redacted(value)
    }

    /// The value itself; never pass it to a log macro.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwrap.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Redacted<T> {
    fn from(value: T) -> Self {
        Redacted(value)
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Redacted<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_never_prints_its_value() {
        let s: Secret = Redacted::new("hunter2".to_string());
        assert_eq!(format!("{s} {s:?} {s:#?}"), "[redacted] [redacted] [redacted]");
        assert_eq!(format!("{:?}", Some(Redacted::new("hunter2"))), "Some([redacted])");
        assert_eq!(s.expose(), "hunter2");
        let d: Secret = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(d.into_inner(), "hunter2");
    }

    #[test]
    fn log_formats_parse_from_flags_and_config_files() {
        use clap::ValueEnum;
        assert_eq!(LogFormat::from_str("json", true), Ok(LogFormat::Json));
        assert_eq!(LogFormat::from_str("human", true), Ok(LogFormat::Human));
        assert_eq!(serde_json::from_str::<LogFormat>("\"json\"").unwrap(), LogFormat::Json);
    }
}
