//! Finding mentions in message text: `<@id>` (also `<@!id>`) for a user,
//! `<@&id>` for a role, `<#id>` for a channel, and `@everyone` / `@here` as
//! words. Pure: which of them ping is decided by the domain.

use serde::Deserialize;

use super::ids::Id;
use super::limits::MAX_ALLOWED_MENTIONS_IDS;
use super::validate::Invalid;

/// A kind of mention `allowed_mentions.parse` can allow.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MentionParse {
    /// Every `<@id>` in the text.
    Users,
    /// Every `<@&id>` in the text.
    Roles,
    /// `@everyone` and `@here`.
    Everyone,
}

/// Which of the mentions in a message's text may ping, as the sender says.
/// Without it everything may; with it, only what it lists.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct AllowedMentions {
    /// Kinds that ping whenever written.
    #[serde(default)]
    pub parse: Option<Vec<MentionParse>>,
    /// These users ping (when written), whatever `parse` says.
    #[serde(default)]
    pub users: Option<Vec<Id>>,
    /// These roles ping (when written), whatever `parse` says.
    #[serde(default)]
    pub roles: Option<Vec<Id>>,
    /// A reply pings the original's author.
    #[serde(default)]
    pub replied_user: Option<bool>,
}

impl AllowedMentions {
    /// The rules as sent, or "everything" when the sender sent none.
    pub fn or_all(a: Option<&AllowedMentions>) -> AllowedMentions {
        a.cloned().unwrap_or(AllowedMentions {
            parse: Some(vec![MentionParse::Users, MentionParse::Roles, MentionParse::Everyone]),
            users: None,
            roles: None,
            replied_user: Some(true),
        })
    }

    /// Refuse contradictions (a kind in `parse` and a list of the same kind) and long lists.
    pub fn check(&self) -> Result<(), Invalid> {
        let parses = |k| self.parse.as_ref().is_some_and(|p| p.contains(&k));
        let bad = |field, reason: &str| Err(Invalid { field, reason: reason.into() });
        if parses(MentionParse::Users) && self.users.as_ref().is_some_and(|u| !u.is_empty()) {
            return bad("allowed_mentions.users", "cannot be given with \"users\" in parse");
        }
        if parses(MentionParse::Roles) && self.roles.as_ref().is_some_and(|r| !r.is_empty()) {
            return bad("allowed_mentions.roles", "cannot be given with \"roles\" in parse");
        }
        for (field, list) in [("allowed_mentions.users", &self.users), ("allowed_mentions.roles", &self.roles)] {
            if list.as_ref().is_some_and(|l| l.len() > MAX_ALLOWED_MENTIONS_IDS) {
                return bad(field, &format!("at most {MAX_ALLOWED_MENTIONS_IDS} ids"));
            }
        }
        Ok(())
    }

    fn parses(&self, k: MentionParse) -> bool {
        self.parse.as_ref().is_some_and(|p| p.contains(&k))
    }

    /// Whether a written `<@user>` may ping.
    pub fn user(&self, id: Id) -> bool {
        self.parses(MentionParse::Users) || self.users.as_ref().is_some_and(|u| u.contains(&id))
    }

    /// Whether a written `<@&role>` may ping (the role's own rules aside).
    pub fn role(&self, id: Id) -> bool {
        self.parses(MentionParse::Roles) || self.roles.as_ref().is_some_and(|r| r.contains(&id))
    }

    /// Whether a written @everyone/@here may ping (the permission aside).
    pub fn everyone(&self) -> bool {
        self.parses(MentionParse::Everyone)
    }

    /// Whether a reply pings the original's author.
    pub fn replied_user(&self) -> bool {
        self.replied_user.unwrap_or(false)
    }
}

/// The mentions written in a text, each id once, in order of appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// `<@id>`.
    pub users: Vec<Id>,
    /// `<@&id>`.
    pub roles: Vec<Id>,
    /// `<#id>`.
    pub channels: Vec<Id>,
    /// `@everyone` appears.
    pub everyone: bool,
    /// `@here` appears.
    pub here: bool,
}

impl Written {
    /// Whether nothing is mentioned.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.roles.is_empty() && self.channels.is_empty() && !self.everyone && !self.here
    }
}

fn push_once(v: &mut Vec<Id>, id: Id) {
    if !v.contains(&id) {
        v.push(id);
    }
}

/// A snowflake of 1–20 digits without a leading zero, then `>`.
fn id_then_close(s: &str) -> Option<(Id, usize)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 20 || s.as_bytes().get(digits) != Some(&b'>') || s.starts_with('0') {
        return None;
    }
    s[..digits].parse::<u64>().ok().map(|n| (Id(n), digits + 1))
}

fn word_boundary_before(text: &str, at: usize) -> bool {
    text[..at].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
}

fn word_boundary_after(rest: &str) -> bool {
    rest.chars().next().is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
}

/// Find the mentions in `text`.
pub fn parse(text: &str) -> Written {
    let mut w = Written::default();
    // Fast path: most messages mention nobody.
    if !text.bytes().any(|b| b == b'<' || b == b'@') {
        return w;
    }
    let mut i = 0;
    while let Some(off) = text[i..].find(['<', '@']) {
        let at = i + off;
        let rest = &text[at..];
        let mut step = 1;
        if let Some(r) = rest.strip_prefix("<@&") {
            if let Some((id, n)) = id_then_close(r) {
                push_once(&mut w.roles, id);
                step = 3 + n;
            }
        } else if let Some(r) = rest.strip_prefix("<@!").or_else(|| rest.strip_prefix("<@")) {
            if let Some((id, n)) = id_then_close(r) {
                push_once(&mut w.users, id);
                step = rest.len() - r.len() + n;
            }
        } else if let Some(r) = rest.strip_prefix("<#") {
            if let Some((id, n)) = id_then_close(r) {
                push_once(&mut w.channels, id);
                step = 2 + n;
            }
        } else if word_boundary_before(text, at) {
            if let Some(r) = rest.strip_prefix("@everyone").filter(|r| word_boundary_after(r)) {
                w.everyone = true;
                step = rest.len() - r.len();
            } else if let Some(r) = rest.strip_prefix("@here").filter(|r| word_boundary_after(r)) {
                w.here = true;
                step = rest.len() - r.len();
            }
        }
        i = at + step;
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_mentions_default_to_everything_and_narrow_when_given() {
        let all = AllowedMentions::or_all(None);
        assert!(all.user(Id(1)) && all.role(Id(2)) && all.everyone() && all.replied_user());
        let none = AllowedMentions::default();
        assert!(!none.user(Id(1)) && !none.role(Id(2)) && !none.everyone() && !none.replied_user());
        let some = AllowedMentions { users: Some(vec![Id(1)]), ..Default::default() };
        assert!(some.user(Id(1)) && !some.user(Id(3)));
        assert!(some.check().is_ok());
        let both =
            AllowedMentions { parse: Some(vec![MentionParse::Users]), users: Some(vec![Id(1)]), ..Default::default() };
        assert!(both.check().is_err());
        let long = AllowedMentions { roles: Some(vec![Id(1); MAX_ALLOWED_MENTIONS_IDS + 1]), ..Default::default() };
        assert!(long.check().is_err());
    }

    #[test]
    fn finds_each_kind_once() {
        let w = parse("hi <@12> and <@!12>, <@&34> see <#56> @everyone");
        assert_eq!(w.users, vec![Id(12)]);
        assert_eq!(w.roles, vec![Id(34)]);
        assert_eq!(w.channels, vec![Id(56)]);
        assert!(w.everyone && !w.here);
        assert!(parse("@here!").here);
    }

    #[test]
    fn look_alikes_are_text() {
        for t in [
            "mail me at x@everyone.org",
            "@everyones",
            "<@>",
            "<@12",
            "<@ 12>",
            "<@-12>",
            "<@012>",
            "<@&>",
            "<@123456789012345678901>",
            "plain text",
            "a@here",
        ] {
            assert!(parse(t).is_empty(), "{t}");
        }
    }

    #[test]
    fn unicode_around_mentions_is_fine() {
        let w = parse("é<@7>ü @here");
        assert_eq!(w.users, vec![Id(7)]);
        assert!(w.here);
        assert!(!parse("ü@here").here, "a letter before @here makes it a word");
    }
}
