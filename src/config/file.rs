//! The configuration file (`hearth serve --config PATH`, docs/operations.md,
//! "Configuration").
//!
//! Every setting of [`Config`] is a key of one flat TOML table, named like
//! its field: `heartbeat_interval_ms` is also the flag
//! `--heartbeat-interval-ms` and the variable `HEARTH_HEARTBEAT_INTERVAL_MS`.
//! A value comes from, lowest precedence first: the built-in default, the
//! file, the `HEARTH_*` environment variable, the flag.
//!
//! How: clap parses flags, variables and defaults and records where each
//! value came from ([`ArgMatches::value_source`]). The file is deserialized
//! into a whole `Config`, its missing keys taking the built-in defaults
//! (`#[serde(default)]`, [`Config::default`]); then every value clap took
//! from a variable or a flag is written over it (clap's
//! `update_from_arg_matches`, with the ids that only hold a default removed
//! from the matches). Each value of the file must also pass its flag's clap
//! value parser, so the file refuses what the flag refuses (a bad log filter,
//! say), with the file, line and key in the message. Nothing here lists the
//! settings by hand: the keys come from serde, and the keys, comments and
//! defaults of `hearth config default` from the clap definitions, so neither
//! can drift from the flags.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches};

use super::Config;

/// Clap id of `--config`: the file's own path is not a key of the file.
pub(super) const CONFIG_FILE_ID: &str = "config_file";

/// Exit code of `hearth serve` and `hearth config check` for a configuration
/// that cannot be used (the same as clap's for a bad flag).
pub const EXIT_BAD_CONFIG: i32 = 2;

/// One setting: its file key, flag, variable and help text.
#[derive(Debug, Clone)]
pub struct Setting {
    /// Key in the file (the field name).
    pub key: String,
    /// `--flag`.
    pub flag: String,
    /// `HEARTH_*` variable, if it has one.
    pub env: Option<String>,
    /// The flag's help text.
    pub help: String,
    /// Placeholder for the value (`PATH`, `SECS`, ...).
    pub value_name: String,
}

/// Where a setting's effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// The configuration file.
    File,
    /// A `HEARTH_*` environment variable.
    Env,
    /// A command-line flag.
    Flag,
}

/// The settings after layering, with where each value came from.
#[derive(Debug, Clone)]
pub struct Effective {
    /// The settings to run with.
    pub config: Config,
    /// Every setting's key and origin, in the order of `hearth serve --help`.
    pub origins: Vec<(String, Origin)>,
    /// The keys the configuration file set, in file order.
    pub file_keys: Vec<String>,
}

/// A configuration that cannot be used; the message names the file, and the
/// key and the line where there is one.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Read { path: PathBuf, source: std::io::Error },
    /// The file is not valid TOML.
    Syntax { path: PathBuf, at: Option<(usize, usize)>, message: String },
    /// A key that is not a setting (`table`: it is a `[table]` or `a.b` key).
    UnknownKey { path: PathBuf, key: String, at: (usize, usize), table: bool },
    /// A value of the wrong type or out of range for its key.
    InvalidValue { path: PathBuf, key: Option<String>, at: Option<(usize, usize)>, message: String },
    /// Anything else (a bug rather than a bad file).
    Other(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = |f: &mut fmt::Formatter<'_>, path: &Path, at: &Option<(usize, usize)>| match at {
            Some((line, column)) => write!(f, "{}:{line}:{column}", path.display()),
            None => write!(f, "{}", path.display()),
        };
        match self {
            ConfigError::Read { path, source } => {
                write!(f, "cannot read the configuration file {}: {source}", path.display())
            }
            ConfigError::Syntax { path, at, message } => {
                place(f, path, at)?;
                write!(f, ": invalid TOML: {message}")
            }
            ConfigError::UnknownKey { path, key, at, table } => {
                place(f, path, &Some(*at))?;
                let known: Vec<String> = settings().into_iter().map(|s| s.key).collect();
                let flat = if *table { "; the file has no tables, every key is at the top level" } else { "" };
                write!(f, ": unknown key `{key}`{flat} (the keys are: {})", known.join(", "))
            }
            ConfigError::InvalidValue { path, key, at, message } => {
                place(f, path, at)?;
                match key {
                    Some(key) => write!(f, ": invalid value for key `{key}`: {message}"),
                    None => write!(f, ": {message}"),
                }
            }
            ConfigError::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The clap definition of the settings alone.
pub(super) fn settings_command() -> clap::Command {
    Config::augment_args(clap::Command::new("hearth"))
}

impl Default for Config {
    /// The built-in defaults: what `hearth serve` runs with when no file,
    /// variable or flag sets anything (clap's `default_value`s).
    fn default() -> Self {
        let matches = settings_command()
            .mut_args(|a| a.env(None))
            .try_get_matches_from(["hearth"])
            .expect("every setting has a default or is optional");
        Config::from_arg_matches(&matches).expect("the built-in defaults parse")
    }
}

/// Every setting that is a key of the file, in the order of `--help`.
pub fn settings() -> Vec<Setting> {
    settings_command()
        .get_arguments()
        .filter(|a| a.get_id() != CONFIG_FILE_ID)
        .filter_map(|a| {
            let flag = a.get_long()?;
            let help = a.get_long_help().or(a.get_help()).map(|h| h.to_string()).unwrap_or_default();
            let value_name = a
                .get_value_names()
                .and_then(|n| n.first())
                .map_or_else(|| a.get_id().as_str().to_ascii_uppercase(), |n| n.to_string());
            // clap drops the full stop of a one-sentence help; a comment keeps it.
            let mut help = help.trim().to_string();
            if !help.is_empty() && !help.ends_with(['.', '!', '?', ')']) {
                help.push('.');
            }
            Some(Setting {
                key: a.get_id().to_string(),
                flag: format!("--{flag}"),
                env: a.get_env().map(|e| e.to_string_lossy().into_owned()),
                help,
                value_name,
            })
        })
        .collect()
}

impl Config {
    /// Layer the file named by `--config`/`HEARTH_CONFIG` (if any) under the
    /// variables and flags: `self` is what clap parsed from `matches` (the
    /// matches of the command that has the settings, e.g. `serve`).
    pub fn with_file(self, matches: &ArgMatches) -> Result<Effective, ConfigError> {
        let Some(path) = self.config_file.clone() else {
            let origins = origins(matches, &[]);
            return Ok(Effective { config: self, origins, file_keys: Vec::new() });
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
        let (mut config, file_keys) = parse_file(&path, &text)?;
        // Keep only what clap took from a variable or a flag, and write it over the file.
        let mut explicit = matches.clone();
        for s in settings() {
            if matches.value_source(&s.key) == Some(ValueSource::DefaultValue) {
                explicit.try_clear_id(&s.key).map_err(|e| ConfigError::Other(format!("setting {}: {e}", s.key)))?;
            }
        }
        config.update_from_arg_matches(&explicit).map_err(|e| ConfigError::Other(e.to_string()))?;
        config.config_file = Some(path);
        let origins = origins(matches, &file_keys);
        Ok(Effective { config, origins, file_keys })
    }
}

/// Where each setting's value came from, given clap's matches and the keys
/// the file set.
fn origins(matches: &ArgMatches, file_keys: &[String]) -> Vec<(String, Origin)> {
    settings()
        .into_iter()
        .map(|s| {
            let origin = match matches.value_source(&s.key) {
                Some(ValueSource::CommandLine) => Origin::Flag,
                Some(ValueSource::EnvVariable) => Origin::Env,
                _ if file_keys.contains(&s.key) => Origin::File,
                _ => Origin::Default,
            };
            (s.key, origin)
        })
        .collect()
}

/// Line and column (from 1) of byte `offset` of `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parse the text of the configuration file at `path`: the settings it gives
/// (the others at their defaults) and the keys it sets, in file order.
pub fn parse_file(path: &Path, text: &str) -> Result<(Config, Vec<String>), ConfigError> {
    let doc = toml::de::DeTable::parse(text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        at: e.span().map(|s| position(text, s.start)),
        message: e.message().trim().to_string(),
    })?;
    let mut entries: Vec<(String, std::ops::Range<usize>, std::ops::Range<usize>)> =
        doc.get_ref().iter().map(|(k, v)| (k.get_ref().to_string(), k.span(), v.span())).collect();
    entries.sort_by_key(|(_, key_span, _)| key_span.start);
    let known: Vec<String> = settings().into_iter().map(|s| s.key).collect();
    if let Some((key, span, _)) = entries.iter().find(|(k, _, _)| !known.contains(k)) {
        let table = doc.get_ref().get(key.as_str()).is_some_and(|v| v.get_ref().is_table());
        let at = position(text, span.start);
        return Err(ConfigError::UnknownKey { path: path.to_path_buf(), key: key.clone(), at, table });
    }
    let config: Config = toml::from_str(text).map_err(|e| {
        let span = e.span();
        let key = span.as_ref().and_then(|s| {
            entries.iter().find(|(_, k, v)| k.contains(&s.start) || v.contains(&s.start)).map(|(key, _, _)| key.clone())
        });
        ConfigError::InvalidValue {
            path: path.to_path_buf(),
            key,
            at: span.map(|s| position(text, s.start)),
            message: e.message().trim().to_string(),
        }
    })?;
    check_like_flags(&settings_command(), path, text, &entries)?;
    Ok((config, entries.into_iter().map(|(k, _, _)| k).collect()))
}

/// Run each value of the file through its flag's own clap value parser, so a
/// value the flag refuses (a bad log filter, a number out of range) is
/// refused in the file too, not only by serde's type check. `entries` are
/// the file's keys with the spans of key and value.
fn check_like_flags(
    command: &clap::Command,
    path: &Path,
    text: &str,
    entries: &[(String, std::ops::Range<usize>, std::ops::Range<usize>)],
) -> Result<(), ConfigError> {
    // Already parsed once, so this does not fail; the values come normalized
    // (`1_000` is 1000).
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Other(e.to_string()))?;
    let command = command.clone().mut_args(|a| a.env(None));
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    };
    for (key, _, value_span) in entries {
        let (Some(arg), Some(value)) = (command.get_arguments().find(|a| a.get_id() == key.as_str()), table.get(key))
        else {
            continue;
        };
        let Some(long) = arg.get_long().filter(|_| arg.get_action().takes_values()) else { continue };
        let values: Vec<String> = match value {
            toml::Value::Array(items) => items.iter().filter_map(scalar).collect(),
            v => scalar(v).into_iter().collect(),
        };
        let args = std::iter::once("hearth".to_string()).chain(values.iter().map(|v| format!("--{long}={v}")));
        if let Err(e) = command.clone().try_get_matches_from(args) {
            // The value parser's own message if there is one, else clap's first line.
            let message = match std::error::Error::source(&e) {
                Some(source) => source.to_string(),
                None => e.to_string().lines().next().unwrap_or_default().trim_start_matches("error: ").to_string(),
            };
            return Err(ConfigError::InvalidValue {
                path: path.to_path_buf(),
                key: Some(key.clone()),
                at: Some(position(text, value_span.start)),
                message,
            });
        }
    }
    Ok(())
}

impl Effective {
    /// Log which file was read and which of its values a variable or a flag
    /// overrides (once the logger is installed).
    pub fn log(&self) {
        let Some(path) = &self.config.config_file else { return };
        for (key, origin) in &self.origins {
            if self.file_keys.contains(key) && *origin != Origin::File {
                let by = if *origin == Origin::Env { "its HEARTH_* variable" } else { "its flag" };
                tracing::info!(file = %path.display(), key, "the file's value of {key} is overridden by {by}");
            }
        }
        tracing::info!(file = %path.display(), keys = self.file_keys.len(), "configuration file read");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings' clap command with every variable removed except
    /// heartbeat_interval_ms's, renamed to `env` so no other test or the
    /// developer's environment interferes.
    fn command(env: &'static str) -> clap::Command {
        settings_command().mut_args(|a| a.env(None)).mut_arg("heartbeat_interval_ms", |a| a.env(env))
    }

    /// What `hearth serve ARGS` would run with (variables: see [`command`]).
    fn load(env: &'static str, args: &[&str]) -> Result<Effective, ConfigError> {
        let matches = command(env)
            .try_get_matches_from(std::iter::once("hearth").chain(args.iter().copied()))
            .expect("args parse");
        let config = Config::from_arg_matches(&matches).expect("matches convert");
        config.with_file(&matches)
    }

    fn origin(e: &Effective, key: &str) -> Origin {
        e.origins.iter().find(|(k, _)| k == key).map(|(_, o)| *o).expect("key has an origin")
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> String {
        let path = dir.path().join("hearth.toml");
        std::fs::write(&path, text).expect("write config");
        path.to_str().expect("utf-8 temp path").to_string()
    }

    fn as_toml(c: &Config) -> toml::Table {
        toml::Table::try_from(c).expect("config serializes")
    }

    #[test]
    fn config_file_under_env_under_flags() {
        const ENV: &str = "HEARTH_TEST_CONFIG_FILE_HEARTBEAT_INTERVAL_MS";
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            &dir,
            "heartbeat_interval_ms = 5000\nworkers = 3\nbind = \"127.0.0.1:9999\"\nallowed_origins = [\"https://a.example\"]\n",
        );

        // File over defaults.
        let e = load(ENV, &["--config", &path]).expect("loads");
        assert_eq!(e.config.heartbeat_interval_ms, 5000);
        assert_eq!(e.config.workers, 3);
        assert_eq!(e.config.bind.to_string(), "127.0.0.1:9999");
        assert_eq!(e.config.allowed_origins, ["https://a.example"]);
        assert_eq!(e.config.resume_grace_secs, Config::default().resume_grace_secs);
        assert_eq!(e.config.config_file.as_deref(), Some(Path::new(&path)));
        assert_eq!(origin(&e, "heartbeat_interval_ms"), Origin::File);
        assert_eq!(origin(&e, "resume_grace_secs"), Origin::Default);

        // A flag over the file (and over defaults).
        let e = load(ENV, &["--config", &path, "--workers", "5", "--resume-grace-secs", "7"]).expect("loads");
        assert_eq!((e.config.workers, e.config.resume_grace_secs, e.config.heartbeat_interval_ms), (5, 7, 5000));
        assert_eq!(origin(&e, "workers"), Origin::Flag);

        // The variable over the file, the flag over the variable. (This test
        // alone uses this variable.)
        std::env::set_var(ENV, "6000");
        let from_env = load(ENV, &["--config", &path]);
        let from_flag = load(ENV, &["--config", &path, "--heartbeat-interval-ms", "7000"]);
        std::env::remove_var(ENV);
        let from_env = from_env.expect("loads");
        assert_eq!(from_env.config.heartbeat_interval_ms, 6000);
        assert_eq!(origin(&from_env, "heartbeat_interval_ms"), Origin::Env);
        assert_eq!(from_env.config.workers, 3, "the file's other keys still apply");
        let from_flag = from_flag.expect("loads");
        assert_eq!(from_flag.config.heartbeat_interval_ms, 7000);
        assert_eq!(origin(&from_flag, "heartbeat_interval_ms"), Origin::Flag);

        // No file: clap's values as they are.
        let e = load(ENV, &["--workers", "2"]).expect("loads");
        assert_eq!(e.config.workers, 2);
        assert_eq!(as_toml(&Config { workers: 0, ..e.config }), as_toml(&Config::default()));
    }

    #[test]
    fn config_unknown_key_names_key_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "workers = 2\n\n[gateway]\nheartbeat = 1\n");
        let err = load("HEARTH_TEST_CONFIG_UNUSED_1", &["--config", &path]).expect_err("unknown key");
        assert!(
            matches!(&err, ConfigError::UnknownKey { key, at: (3, _), table: true, .. } if key == "gateway"),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("no tables"), "{msg}");
        assert!(msg.contains("unknown key `gateway`") && msg.contains(&format!("{path}:3:")), "{msg}");
        assert!(msg.contains("heartbeat_interval_ms"), "lists the known keys: {msg}");

        let err = parse_file(Path::new("x.toml"), "bind = \"0.0.0.0:1\"\nconfig_file = \"y\"\n").expect_err("unknown");
        assert!(err.to_string().starts_with("x.toml:2:1: unknown key `config_file`"), "{err}");
    }

    #[test]
    fn config_bad_value_names_key_file_and_line() {
        let p = Path::new("/etc/hearth/hearth.toml");
        let err = parse_file(p, "bind = \"127.0.0.1:1\"\n# comment\nworkers = \"four\"\n").expect_err("bad type");
        assert!(
            matches!(&err, ConfigError::InvalidValue { key: Some(k), at: Some((3, 11)), .. } if k == "workers"),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.starts_with("/etc/hearth/hearth.toml:3:11: invalid value for key `workers`: "), "{msg}");

        let err = parse_file(p, "bind = \"not an address\"\n").expect_err("bad address");
        assert!(err.to_string().starts_with("/etc/hearth/hearth.toml:1:8: invalid value for key `bind`"), "{err}");
        let err = parse_file(p, "\n\nworkers = -1\n").expect_err("negative");
        assert!(err.to_string().contains(":3:11: invalid value for key `workers`"), "{err}");
        let err = parse_file(p, "workers = 1\nworkers = 2\n").expect_err("duplicate");
        assert!(matches!(err, ConfigError::Syntax { at: Some((2, _)), .. }), "{err:?}");
        let err = parse_file(p, "workers = \n").expect_err("syntax");
        assert!(err.to_string().starts_with("/etc/hearth/hearth.toml:1:"), "{err}");

        let err = load("HEARTH_TEST_CONFIG_UNUSED_2", &["--config", "/nonexistent/hearth.toml"]).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/hearth.toml"), "{err}");
    }

    #[test]
    fn config_values_pass_the_flags_own_checks() {
        // A flag with a range: the file's value must be in it too.
        let command = settings_command()
            .mut_arg("heartbeat_interval_ms", |a| a.value_parser(clap::value_parser!(u64).range(100..)))
            .mut_arg("allowed_origins", |a| {
                a.value_parser(|s: &str| if s.contains("://") { Ok(s.to_string()) } else { Err("no scheme") })
            });
        let p = Path::new("h.toml");
        let check = |text: &str| {
            let (_, keys) = parse_file(p, text).expect("types are right");
            let entries = toml::de::DeTable::parse(text).expect("toml");
            let entries: Vec<_> =
                entries.get_ref().iter().map(|(k, v)| (k.get_ref().to_string(), k.span(), v.span())).collect();
            assert_eq!(entries.len(), keys.len());
            check_like_flags(&command, p, text, &entries)
        };
        check("heartbeat_interval_ms = 1_000\nallowed_origins = [\"https://a\", \"http://b:1\"]\n").expect("valid");
        let err = check("workers = 1\nheartbeat_interval_ms = 5\n").expect_err("out of range");
        assert!(
            matches!(&err, ConfigError::InvalidValue { key: Some(k), at: Some((2, 25)), .. } if k == "heartbeat_interval_ms"),
            "{err:?}"
        );
        assert!(err.to_string().contains("5 is not in 100.."), "{err}");
        let err = check("allowed_origins = [\"https://a\", \"b\"]\n").expect_err("bad element");
        assert!(
            err.to_string().starts_with("h.toml:1:19: invalid value for key `allowed_origins`: no scheme"),
            "{err}"
        );
    }

    #[test]
    fn config_keys_are_the_settings() {
        // serde's keys (what the file accepts) are clap's ids (what --help and
        // `config default` show), and the defaults of both agree.
        let keys: Vec<String> = as_toml(&Config::default()).keys().cloned().collect();
        let ids: Vec<String> = settings().into_iter().map(|s| s.key).collect();
        assert!(keys.iter().all(|k| ids.contains(k)), "{keys:?} vs {ids:?}");
        assert!(ids.len() >= 14, "{ids:?}");
        assert!(!ids.iter().any(|k| k == CONFIG_FILE_ID));
        for s in settings() {
            assert!(s.env.as_deref().is_some_and(|e| e.starts_with("HEARTH_")), "{} has no HEARTH_* variable", s.key);
        }
    }
}
