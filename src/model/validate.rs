//! Input rules for names, passwords and message content, with the errors they give.

use crate::model::limits::*;

/// Why a piece of input was refused. The message is shown to the user as-is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// The field that was wrong.
    pub field: &'static str,
    /// What was wrong with it.
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid { field, reason: reason.into() }
}

fn chars_between(field: &'static str, s: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(invalid(field, format!("must be {min}–{max} characters (got {n})")));
    }
    Ok(())
}

fn no_control_chars(field: &'static str, s: &str) -> Result<(), Invalid> {
    if s.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// Usernames: 2–32 characters of letters, digits, `_`, `.` and `-`.
pub fn username(s: &str) -> Result<String, Invalid> {
    chars_between("username", s, MIN_USERNAME_CHARS, MAX_USERNAME_CHARS)?;
    if !s.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err(invalid("username", "may contain only letters, digits, '_', '.' and '-'"));
    }
    Ok(s.to_string())
}

/// The case-insensitive key a username is unique under.
pub fn username_key(s: &str) -> String {
    s.to_lowercase()
}

/// Passwords: 8–256 characters.
pub fn password(s: &str) -> Result<(), Invalid> {
    chars_between("password", s, MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS)
}

/// Display names and nicknames: trimmed, 1–32 characters, or empty for none.
pub fn display_name(field: &'static str, s: Option<&str>) -> Result<Option<String>, Invalid> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => {
            chars_between(field, t, 1, MAX_DISPLAY_NAME_CHARS)?;
            no_control_chars(field, t)?;
            Ok(Some(t.to_string()))
        }
    }
}

/// Guild, channel and role names: trimmed, 1–100 characters.
pub fn name(field: &'static str, s: &str) -> Result<String, Invalid> {
    let t = s.trim();
    chars_between(field, t, 1, MAX_NAME_CHARS)?;
    no_control_chars(field, t)?;
    Ok(t.to_string())
}

/// Channel topics: trimmed, up to 1024 characters, or empty for none.
pub fn topic(s: Option<&str>) -> Result<Option<String>, Invalid> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => {
            chars_between("topic", t, 1, MAX_TOPIC_CHARS)?;
            Ok(Some(t.to_string()))
        }
    }
}

/// Message content: trimmed, 1–4000 characters.
pub fn content(s: &str) -> Result<String, Invalid> {
    let t = s.trim();
    chars_between("content", t, MIN_MESSAGE_CHARS, MAX_MESSAGE_CHARS)?;
    Ok(t.to_string())
}

/// Client nonces: up to 64 bytes.
pub fn nonce(s: Option<String>) -> Result<Option<String>, Invalid> {
    match s {
        Some(n) if n.len() > MAX_NONCE_BYTES => {
            Err(invalid("nonce", format!("must be at most {MAX_NONCE_BYTES} bytes")))
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        let cases: &[(&str, bool)] = &[
            ("ab", true),
            ("a", false),
            (&"x".repeat(32), true),
            (&"x".repeat(33), false),
            ("Jörg_99.x-y", true),
            ("has space", false),
            ("semi;colon", false),
            ("", false),
        ];
        for (input, ok) in cases {
            assert_eq!(username(input).is_ok(), *ok, "{input:?}");
        }
        assert_eq!(username_key("AliCE"), username_key("alice"));
    }

    #[test]
    fn content_is_trimmed_and_bounded() {
        assert_eq!(content("  hi  ").unwrap(), "hi");
        assert!(content("   ").is_err());
        assert!(content(&"é".repeat(4000)).is_ok());
        assert!(content(&"é".repeat(4001)).is_err());
    }

    #[test]
    fn names_and_topics() {
        assert!(name("name", " general ").is_ok_and(|n| n == "general"));
        assert!(name("name", "").is_err());
        assert!(name("name", "a\u{0007}b").is_err());
        assert_eq!(topic(Some("  ")).unwrap(), None);
        assert!(topic(Some(&"t".repeat(1025))).is_err());
        assert_eq!(display_name("display_name", Some("")).unwrap(), None);
        assert!(password("short").is_err());
        assert!(password("long enough").is_ok());
        assert!(nonce(Some("n".repeat(65))).is_err());
    }
}
