//! Configuration as text: the file `hearth config default` prints (every
//! key at its default, explained by its flag's help) and the effective
//! settings `hearth config check` prints (each noted with its origin).

use super::file::{settings, ConfigError, Effective, Origin, Setting};
use super::Config;

/// Keys whose values `hearth config check` never prints (none yet; a future
/// secret setting goes here).
const SECRET_KEYS: &[&str] = &[];

/// Width of the comments of `hearth config default`.
const COMMENT_WIDTH: usize = 78;

/// Append `text` to `out` as `# ` comment lines of at most [`COMMENT_WIDTH`].
fn comment(out: &mut String, text: &str) {
    for paragraph in text.lines() {
        let mut line = String::from("#");
        for word in paragraph.split_whitespace() {
            if line.len() > 1 && line.len() + 1 + word.len() > COMMENT_WIDTH {
                out.push_str(&line);
                out.push('\n');
                line = String::from("#");
            }
            line.push(' ');
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
}

/// Render the settings of `config` as TOML lines, each after `note(key)`;
/// an unset optional setting is a commented-out line; keys in `secrets`
/// are shown as `"[redacted]"`.
fn render(
    config: &Config,
    secrets: &[&str],
    mut note: impl FnMut(&Setting, &mut String),
    mut suffix: impl FnMut(&Setting) -> String,
) -> Result<String, ConfigError> {
    let table = toml::Table::try_from(config)
        .map_err(|e| ConfigError::Other(format!("cannot show the configuration as TOML: {e}")))?;
    let mut out = String::new();
    for s in settings() {
        note(&s, &mut out);
        let value = match table.get(&s.key) {
            Some(_) if secrets.contains(&s.key.as_str()) => Some("\"[redacted]\"".to_string()),
            Some(v) => Some(v.to_string()),
            None => None,
        };
        match value {
            Some(v) => out.push_str(&format!("{} = {v}{}\n", s.key, suffix(&s))),
            None => out.push_str(&format!("# {} = <{}>{}\n", s.key, s.value_name, suffix(&s))),
        }
    }
    Ok(out)
}

/// The text of `hearth config default`: every key at its built-in default,
/// each explained by its flag's help.
pub fn default_file() -> String {
    let mut out = String::new();
    comment(
        &mut out,
        "Hearth configuration file (TOML), as printed by `hearth config default`: every setting \
         at its built-in default. Use it with `hearth serve --config PATH` (or HEARTH_CONFIG=PATH). \
         Every key is optional: delete the ones you do not change. A HEARTH_* environment variable \
         overrides the file, and a command-line flag overrides both. An unknown key or a value of \
         the wrong type stops the server at start. `hearth config check --config PATH` checks a \
         file and prints the settings it results in.",
    );
    let body = render(
        &Config::default(),
        &[],
        |s, out| {
            out.push('\n');
            comment(out, &s.help);
            let env = s.env.as_ref().map(|e| format!(", variable {e}")).unwrap_or_default();
            comment(out, &format!("(flag {}{env})", s.flag));
        },
        |_| String::new(),
    );
    // The defaults always serialize (they hold no non-UTF-8 path); say so if not.
    match body {
        Ok(body) => out.push_str(&body),
        Err(e) => out.push_str(&format!("# {e}\n")),
    }
    out
}

impl Effective {
    /// The effective settings as TOML, each line noting where its value came
    /// from; secrets are not shown.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        let mut out = String::new();
        let file = match &self.config.config_file {
            Some(p) => format!("the configuration file {}", p.display()),
            None => "no configuration file".to_string(),
        };
        comment(
            &mut out,
            &format!("Effective configuration: built-in defaults < {file} < HEARTH_* variables < flags."),
        );
        let body = render(
            &self.config,
            SECRET_KEYS,
            |_, _| {},
            |s| {
                let origin = self.origins.iter().find(|(k, _)| *k == s.key).map_or(Origin::Default, |(_, o)| *o);
                match origin {
                    Origin::Default => "  # default".to_string(),
                    Origin::File => "  # file".to_string(),
                    Origin::Env => format!("  # variable {}", s.env.as_deref().unwrap_or("?")),
                    Origin::Flag => format!("  # flag {}", s.flag),
                }
            },
        )?;
        out.push_str(&body);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::file::parse_file;
    use super::*;

    fn as_toml(c: &Config) -> toml::Table {
        toml::Table::try_from(c).expect("config serializes")
    }

    #[test]
    fn config_default_file_parses_back_to_the_defaults() {
        let text = default_file();
        let (config, keys) = parse_file(Path::new("default.toml"), &text).expect("default file parses");
        assert_eq!(as_toml(&config), as_toml(&Config::default()));
        let all: Vec<String> = settings().into_iter().map(|s| s.key).collect();
        // Every setting is in the file with a comment; optional settings
        // without a default are commented out.
        let unset: Vec<&String> = all.iter().filter(|k| !keys.contains(k)).collect();
        for key in &unset {
            assert!(text.contains(&format!("\n# {key} = <")), "{key} is neither set nor shown");
        }
        assert_eq!(keys.len() + unset.len(), all.len());
        for s in settings() {
            assert!(!s.help.is_empty(), "setting {} has no help text", s.key);
            assert!(text.contains(&format!("(flag {}", s.flag)), "{} is not explained", s.key);
        }
        assert!(text.contains("\nheartbeat_interval_ms = 41250\n"), "{text}");
        assert!(text.contains("\nbind = \"127.0.0.1:8080\"\n"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= COMMENT_WIDTH + 40), "{text}");
    }

    #[test]
    fn config_check_output_parses_back_and_hides_secrets() {
        let e = Effective { config: Config { workers: 9, ..Config::default() }, origins: vec![], file_keys: vec![] };
        let text = e.to_toml().expect("renders");
        let (back, _) = parse_file(Path::new("check.toml"), &text).expect("check output parses");
        assert_eq!(as_toml(&back), as_toml(&e.config));
        assert!(text.contains("workers = 9  # default"), "{text}");
        let shown = render(&e.config, &["data"], |_, _| {}, |_| String::new()).expect("renders");
        assert!(shown.contains("data = \"[redacted]\"") && !shown.contains("./data"), "{shown}");
    }
}
