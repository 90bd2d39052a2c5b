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

/// Characters that draw nothing or silently change how the text around them
/// is shown: format characters (general category Cf: bidirectional controls,
/// zero-width space and joiners, word joiner, invisible operators, BOM,
/// tags...), the other default-ignorable code points (combining grapheme
/// joiner, Hangul fillers, variation selectors, ...), and the line and
/// paragraph separators. [`misplaced`] allows a few of them where scripts and
/// emoji need them.
const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

/// Characters that are visible but blank: a name made only of them (and
/// spaces) looks empty.
const BLANK: &[char] = &['\u{2800}'];

/// U+1F3F4 WAVING BLACK FLAG, which starts the tag sequences of subdivision flags.
const BLACK_FLAG: char = '\u{1F3F4}';
/// U+E007F CANCEL TAG, which ends them.
const CANCEL_TAG: char = '\u{E007F}';

fn is_invisible(c: char) -> bool {
    c.is_control() || INVISIBLE.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

/// Something that draws: not a space, not invisible.
fn is_visible(c: char) -> bool {
    !c.is_whitespace() && !is_invisible(c)
}

/// ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER.
fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

/// Variation selectors (emoji and text presentation, ideographic variants)
/// and the Mongolian free variation selectors.
fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{180B}'..='\u{180D}' | '\u{180F}')
}

/// The tag characters that spell a subdivision flag's code (`gbeng`, ...).
fn is_tag_spec(c: char) -> bool {
    ('\u{E0020}'..='\u{E007E}').contains(&c)
}

/// The first invisible character of `chars` that is not where scripts and
/// emoji legitimately use one (see docs/api.md, "Text in names"):
/// * ZWNJ and ZWJ between two visible characters (Persian and Indic words,
///   emoji ZWJ sequences such as the family emoji; the character before may
///   also be a variation selector, as in the rainbow flag);
/// * a variation selector right after a visible character;
/// * tag characters in a subdivision flag: U+1F3F4, tags, CANCEL TAG.
///
/// Everything else that [`is_invisible`] is refused, and so is a line feed
/// unless `newlines` (topics may have several lines).
fn misplaced(chars: &[char], newlines: bool) -> Option<char> {
    let at = |i: Option<usize>| i.and_then(|i| chars.get(i)).copied();
    chars.iter().enumerate().find_map(|(i, &c)| {
        if !is_invisible(c) || (newlines && c == '\n') {
            return None;
        }
        let (prev, next) = (at(i.checked_sub(1)), at(i.checked_add(1)));
        let ok = if is_joiner(c) {
            prev.is_some_and(|p| is_visible(p) || is_variation_selector(p)) && next.is_some_and(is_visible)
        } else if is_variation_selector(c) {
            prev.is_some_and(is_visible)
        } else if is_tag_spec(c) {
            prev.is_some_and(|p| p == BLACK_FLAG || is_tag_spec(p))
                && next.is_some_and(|n| n == CANCEL_TAG || is_tag_spec(n))
        } else if c == CANCEL_TAG {
            prev.is_some_and(is_tag_spec)
        } else {
            false
        };
        (!ok).then_some(c)
    })
}

/// The longest run of combining marks, the stuff of "Zalgo" text that spills
/// over the lines around it.
fn longest_mark_run(chars: &[char]) -> usize {
    let (mut run, mut longest) = (0, 0);
    for &c in chars {
        run = if unicode_normalization::char::is_combining_mark(c) { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// A trimmed, NFC-normalised piece of text shown as a name or topic:
/// `min`–`max` characters, no control or misplaced invisible characters, no
/// more than `MAX_COMBINING_MARKS` combining marks in a row, and something
/// visible in it.
fn shown_text(field: &'static str, s: &str, max: usize, newlines: bool) -> Result<String, Invalid> {
    use unicode_normalization::UnicodeNormalization;
    let t: String = s.trim().nfc().collect();
    chars_between(field, &t, 1, max)?;
    let chars: Vec<char> = t.chars().collect();
    if chars.iter().any(|c| c.is_control() && !(newlines && *c == '\n')) {
        return Err(invalid(field, "must not contain control characters"));
    }
    if let Some(c) = misplaced(&chars, newlines) {
        return Err(invalid(
            field,
            format!("must not contain invisible or text-direction characters (U+{:04X})", u32::from(c)),
        ));
    }
    if longest_mark_run(&chars) > MAX_COMBINING_MARKS {
        return Err(invalid(field, format!("at most {MAX_COMBINING_MARKS} combining marks in a row")));
    }
    if !chars.iter().any(|c| is_visible(*c) && !BLANK.contains(c)) {
        return Err(invalid(field, "must contain a visible character"));
    }
    Ok(t)
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

/// Display names and nicknames: trimmed and NFC-normalised, 1–32
/// characters ([`shown_text`]), or empty for none.
pub fn display_name(field: &'static str, s: Option<&str>) -> Result<Option<String>, Invalid> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => shown_text(field, t, MAX_DISPLAY_NAME_CHARS, false).map(Some),
    }
}

/// Guild, channel and role names: trimmed and NFC-normalised, 1–100
/// characters ([`shown_text`]).
pub fn name(field: &'static str, s: &str) -> Result<String, Invalid> {
    shown_text(field, s, MAX_NAME_CHARS, false)
}

/// Channel topics: trimmed and NFC-normalised, up to 1024 characters
/// ([`shown_text`], line feeds allowed), or empty for none.
pub fn topic(s: Option<&str>) -> Result<Option<String>, Invalid> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => shown_text("topic", t, MAX_TOPIC_CHARS, true).map(Some),
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
    fn invisible_and_direction_characters_are_refused() {
        let refused = [
            "evil\u{202E}gnp.exe",         // RIGHT-TO-LEFT OVERRIDE
            "ad\u{200B}min",               // ZERO WIDTH SPACE
            "\u{2066}admin\u{2069}",       // isolates
            "\u{FEFF}admin",               // BOM
            "ad\u{2060}min",               // WORD JOINER
            "ad\u{00AD}min",               // SOFT HYPHEN
            "ad\u{200E}min",               // LEFT-TO-RIGHT MARK
            "\u{3164}",                    // HANGUL FILLER: a "blank" name
            "a\u{2028}b",                  // LINE SEPARATOR
            "\u{2800}",                    // BRAILLE BLANK alone
            "\u{200D}admin",               // a joiner with nothing before it
            "admin\u{200C}",               // ... or after it
            "a\u{200D}\u{200D}b",          // two joiners in a row
            "\u{FE0F}a",                   // a variation selector with nothing before it
            "a\u{E0067}b",                 // a tag outside a flag
            "\u{1F3F4}\u{E0067}\u{E0062}", // a flag's tags without CANCEL TAG
            "a\u{0007}b",                  // control character
            "a\u{0085}b",                  // NEXT LINE (a control)
        ];
        for s in refused {
            assert!(name("name", s).is_err(), "name {s:?} should be refused");
            assert!(display_name("nick", Some(s)).is_err(), "nick {s:?} should be refused");
            assert!(topic(Some(s)).is_err(), "topic {s:?} should be refused");
        }
        let e = name("name", "evil\u{202E}gnp.exe").unwrap_err();
        assert_eq!(e.field, "name");
        assert!(e.reason.contains("U+202E"), "{}", e.reason);
    }

    #[test]
    fn scripts_and_emoji_that_need_joiners_and_selectors_still_work() {
        let kept = [
            "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}", // family: ZWJ sequence
            "\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}",          // rainbow flag: VS16 then ZWJ
            "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}", // England flag
            "\u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}", // Persian with ZWNJ
            "\u{0915}\u{094D}\u{200D}\u{0937}",            // Devanagari with ZWJ
            "\u{2764}\u{FE0F} team",                       // heart with VS16
            "1\u{FE0F}\u{20E3}",                           // keycap
            "Jörg 中文 😀",
            "\u{05E9}\u{05B8}\u{05C1}\u{05DC}\u{05D5}\u{05B9}\u{05DD}", // Hebrew with points
        ];
        for s in kept {
            assert_eq!(name("name", s).as_deref(), Ok(s), "name {s:?}");
            assert_eq!(display_name("nick", Some(s)), Ok(Some(s.to_string())), "nick {s:?}");
        }
    }

    #[test]
    fn names_are_nfc_normalised_and_zalgo_is_bounded() {
        // e + COMBINING ACUTE becomes é; length is counted after normalising.
        assert_eq!(name("name", "Cafe\u{0301}").unwrap(), "Caf\u{00E9}");
        assert_eq!(display_name("nick", Some(" Cafe\u{0301} ")).unwrap().as_deref(), Some("Caf\u{00E9}"));
        let at_limit = format!("a{}", "\u{0301}".repeat(MAX_COMBINING_MARKS));
        // Not composable beyond the first mark, so the rest stay combining marks.
        assert!(name("name", &at_limit).is_ok());
        let zalgo = format!("a{}", "\u{0301}\u{0316}".repeat(MAX_COMBINING_MARKS));
        assert!(name("name", &zalgo).unwrap_err().reason.contains("combining marks"));
        // Topics may have several lines, names may not.
        assert_eq!(topic(Some("line one\nline two")).unwrap().as_deref(), Some("line one\nline two"));
        assert!(name("name", "line one\nline two").is_err());
        assert!(topic(Some("a\rb")).is_err());
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
