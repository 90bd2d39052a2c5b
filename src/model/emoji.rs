//! Emoji as reactions name them: a Unicode emoji, or a guild's custom emoji
//! by id. The path form in URLs is the emoji itself (percent-encoded) or
//! `name:id`.

use serde::{Deserialize, Serialize};

use super::ids::Id;
use super::limits::MAX_EMOJI_NAME_CHARS;

/// The emoji of a reaction.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReactionEmoji {
    /// The custom emoji's id; null for a Unicode emoji.
    pub id: Option<Id>,
    /// The Unicode emoji itself, or the custom emoji's name.
    pub name: String,
    /// Whether the custom emoji is animated (false for Unicode).
    #[serde(default)]
    pub animated: bool,
}

/// An emoji as a request names it, before the guild's emoji are consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmojiRef {
    /// A Unicode emoji (validated against the Unicode emoji list).
    Unicode(String),
    /// A custom emoji by id (the name given with it is not trusted).
    Custom(Id),
}

impl EmojiRef {
    /// Parse the `{emoji}` path segment (already percent-decoded): a Unicode
    /// emoji, or `name:id` for a custom one. None if it is neither.
    pub fn parse(s: &str) -> Option<EmojiRef> {
        if let Some((name, id)) = s.rsplit_once(':') {
            let name = name.strip_prefix(':').unwrap_or(name);
            let name_ok = !name.is_empty()
                && name.chars().count() <= MAX_EMOJI_NAME_CHARS
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let id_ok = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
            return match (name_ok, id_ok, id.parse::<u64>()) {
                (true, true, Ok(n)) if n > 0 => Some(EmojiRef::Custom(Id(n))),
                _ => None,
            };
        }
        emojis::get(s).map(|_| EmojiRef::Unicode(s.to_string()))
    }

    /// The key reactions are stored under: `u:` + the emoji, or `c:` + the id.
    pub fn key(&self) -> String {
        match self {
            EmojiRef::Unicode(s) => format!("u:{s}"),
            EmojiRef::Custom(id) => format!("c:{}", id.0),
        }
    }
}

impl ReactionEmoji {
    /// A Unicode emoji reaction.
    pub fn unicode(s: &str) -> ReactionEmoji {
        ReactionEmoji { id: None, name: s.to_string(), animated: false }
    }

    /// The reference this emoji answers to.
    pub fn as_ref(&self) -> EmojiRef {
        match self.id {
            Some(id) => EmojiRef::Custom(id),
            None => EmojiRef::Unicode(self.name.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_emoji_are_known_ones_only() {
        assert_eq!(EmojiRef::parse("👍"), Some(EmojiRef::Unicode("👍".into())));
        assert!(EmojiRef::parse("👍🏽").is_some(), "skin tones");
        assert!(EmojiRef::parse("❤️").is_some());
        assert!(EmojiRef::parse("🏳️‍🌈").is_some(), "ZWJ sequences");
        assert_eq!(EmojiRef::parse("a"), None);
        assert_eq!(EmojiRef::parse("👍👍"), None, "one emoji, not two");
        assert_eq!(EmojiRef::parse(""), None);
        assert_eq!(EmojiRef::parse("<script>"), None);
    }

    #[test]
    fn custom_emoji_are_name_colon_id() {
        assert_eq!(EmojiRef::parse("party:123"), Some(EmojiRef::Custom(Id(123))));
        assert_eq!(EmojiRef::parse(":party:123"), Some(EmojiRef::Custom(Id(123))));
        assert_eq!(EmojiRef::parse("party:0"), None);
        assert_eq!(EmojiRef::parse("party:12a"), None);
        assert_eq!(EmojiRef::parse(":123"), None);
        assert_eq!(EmojiRef::parse("pa rty:123"), None);
        assert_eq!(EmojiRef::parse("party:99999999999999999999999"), None);
    }

    #[test]
    fn keys_tell_kinds_apart() {
        assert_eq!(EmojiRef::Unicode("👍".into()).key(), "u:👍");
        assert_eq!(EmojiRef::Custom(Id(5)).key(), "c:5");
        assert_eq!(ReactionEmoji::unicode("👍").as_ref().key(), "u:👍");
    }
}
