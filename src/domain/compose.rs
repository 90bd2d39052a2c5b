//! Turning what a client wrote into a message: content and embed rules, the
//! reply it answers, and which of the mentions written in it ping. Sending
//! (REST and gateway) and editing both come through here.

use serde::Deserialize;

use crate::errors::{AppError, ErrorCode};
use crate::model::embed::{self, Embed};
use crate::model::limits::{MAX_MENTIONS_PER_MESSAGE, MAX_REPLY_EXCERPT_CHARS};
use crate::model::mentions::{self, AllowedMentions};
use crate::model::{
    validate, Author, Channel, Id, Message, MessageKind, MessageReference, Permissions, ReferencedMessage, ReplyTo,
};
use crate::store::Read;

/// A message ready to be sent: content trimmed and within limits, embeds and
/// mention rules checked, nonce checked. What needs the store (the reply,
/// who the mentions name) is resolved by [`compose`] inside the write.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// Validated content (empty only with embeds).
    pub content: String,
    /// The client's nonce, echoed back.
    pub nonce: Option<String>,
    /// Checked embeds.
    pub embeds: Vec<Embed>,
    /// The message this answers.
    pub reply: Option<ReplyTo>,
    /// Which written mentions may ping (None: all).
    pub allowed: Option<AllowedMentions>,
}

/// The body of a send, the same over REST and the gateway.
#[derive(Debug, Default, Deserialize)]
pub struct SendBody {
    /// Text.
    #[serde(default)]
    pub content: String,
    /// Nonce.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Embeds.
    #[serde(default)]
    pub embeds: Vec<Embed>,
    /// Reply.
    #[serde(default)]
    pub message_reference: Option<ReplyTo>,
    /// Mention rules.
    #[serde(default)]
    pub allowed_mentions: Option<AllowedMentions>,
}

/// Content rules: 1–MAX_MESSAGE_CHARS after trimming, or empty when there are embeds.
pub fn content(s: &str, has_embeds: bool) -> Result<String, AppError> {
    if has_embeds && s.trim().is_empty() {
        return Ok(String::new());
    }
    Ok(validate::content(s)?)
}

impl Draft {
    /// A plain text message (tests and tools).
    pub fn new(content: &str, nonce: Option<String>) -> Result<Draft, AppError> {
        Draft::from_body(SendBody { content: content.into(), nonce, ..Default::default() })
    }

    /// Validate what a client sent.
    pub fn from_body(b: SendBody) -> Result<Draft, AppError> {
        let mut embeds = b.embeds;
        embed::check(&mut embeds)?;
        if let Some(a) = &b.allowed_mentions {
            a.check()?;
        }
        Ok(Draft {
            content: content(&b.content, !embeds.is_empty())?,
            nonce: validate::nonce(b.nonce)?,
            embeds,
            reply: b.message_reference,
            allowed: b.allowed_mentions,
        })
    }
}

/// What a reply shows of its original.
pub fn excerpt(original: &Message) -> ReferencedMessage {
    ReferencedMessage {
        id: original.id,
        author: original.author.clone(),
        content: original.content.chars().take(MAX_REPLY_EXCERPT_CHARS).collect(),
    }
}

/// The original a reply answers: in the same channel, still there.
pub fn replied(r: &impl Read, channel: Id, reply: &ReplyTo) -> Result<Message, AppError> {
    let wrong = || AppError::new(ErrorCode::InvalidReference, "a reply must answer a message of the same channel");
    if reply.channel_id.is_some_and(|c| c != channel) {
        return Err(wrong());
    }
    r.message(channel, reply.message_id)?.ok_or_else(wrong)
}

/// Whom and what a message pings.
#[derive(Debug, Default, PartialEq)]
pub struct Pings {
    /// Users.
    pub users: Vec<Author>,
    /// Roles.
    pub roles: Vec<Id>,
    /// @everyone / @here.
    pub everyone: bool,
}

fn unknown_mention(what: &str, id: Id) -> AppError {
    AppError::new(ErrorCode::UnknownMention, format!("{what} {id} is not known here"))
}

/// Whether `user` takes part in `channel` (a member of its guild, a DM recipient).
fn belongs(r: &impl Read, channel: &Channel, user: Id) -> Result<bool, AppError> {
    Ok(match channel.guild_id {
        Some(g) => r.member_record(g, user)?.is_some(),
        None => channel.recipients.contains(&user),
    })
}

/// Resolve the mentions written in `content`. Unknown users, roles of another
/// (or no) guild and channels the sender has no business naming are
/// `unknown_mention`; users who are not in the channel's guild or DM are
/// shown as text but not pinged; a role pings when it is mentionable or the
/// sender has `mention_everyone`; @everyone/@here ping only in guild channels
/// and only with `mention_everyone`. `replied` is a reply's original author,
/// pinged unless the mention rules say otherwise.
pub fn pings(
    r: &impl Read,
    channel: &Channel,
    sender: Id,
    perms: Permissions,
    content: &str,
    allowed: Option<&AllowedMentions>,
    replied: Option<&Author>,
) -> Result<Pings, AppError> {
    let written = mentions::parse(content);
    let mut out = Pings::default();
    let allowed = AllowedMentions::or_all(allowed);
    if let Some(a) = replied.filter(|a| a.id != sender && allowed.replied_user()) {
        if belongs(r, channel, a.id)? {
            out.users.push(a.clone());
        }
    }
    if written.is_empty() {
        return Ok(out);
    }
    if written.users.len() + written.roles.len() + written.channels.len() > MAX_MENTIONS_PER_MESSAGE {
        return Err(AppError::invalid(format!(
            "a message may mention at most {MAX_MENTIONS_PER_MESSAGE} users, roles and channels"
        )));
    }
    for uid in written.users {
        let user = r.user(uid)?.ok_or_else(|| unknown_mention("user", uid))?;
        if allowed.user(uid) && belongs(r, channel, uid)? && !out.users.iter().any(|a| a.id == uid) {
            out.users.push(Author::from(&user));
        }
    }
    let may_ping_all = perms.contains(Permissions::MENTION_EVERYONE);
    for rid in written.roles {
        let role = match channel.guild_id {
            Some(g) => r.role(g, rid)?,
            None => None,
        };
        let role = role.ok_or_else(|| unknown_mention("role", rid))?;
        let is_everyone_role = Some(role.id) == channel.guild_id;
        if !is_everyone_role && (role.mentionable || may_ping_all) && allowed.role(rid) {
            out.roles.push(rid);
        }
    }
    for cid in written.channels {
        let named = r.channel(cid)?.and_then(|c| c.guild_id);
        let known = match (named, channel.guild_id) {
            (Some(g), Some(here)) => g == here,
            (Some(g), None) => r.member_record(g, sender)?.is_some(),
            (None, _) => false,
        };
        if !known {
            return Err(unknown_mention("channel", cid));
        }
    }
    out.everyone =
        (written.everyone || written.here) && channel.guild_id.is_some() && may_ping_all && allowed.everyone();
    Ok(out)
}

/// Build a new message from a draft: the reply it answers and its pings are
/// resolved against the store as it is now. Needs `embed_links` for embeds.
pub fn compose(
    r: &impl Read,
    channel: &Channel,
    author: Author,
    perms: Permissions,
    draft: Draft,
    id: Id,
) -> Result<Message, AppError> {
    if !draft.embeds.is_empty() && !perms.contains(Permissions::EMBED_LINKS) {
        return Err(AppError::missing_permissions(Permissions::EMBED_LINKS));
    }
    let original = draft.reply.as_ref().map(|re| replied(r, channel.id, re)).transpose()?;
    let p = pings(
        r,
        channel,
        author.id,
        perms,
        &draft.content,
        draft.allowed.as_ref(),
        original.as_ref().map(|o| &o.author),
    )?;
    let mut m = Message::new(id, channel.id, channel.guild_id, author, draft.content);
    m.nonce = draft.nonce;
    m.embeds = draft.embeds;
    if let Some(o) = &original {
        m.kind = MessageKind::Reply;
        m.message_reference = Some(MessageReference { message_id: o.id, channel_id: channel.id });
        m.referenced_message = Some(excerpt(o));
    }
    m.mentions = p.users;
    m.mention_roles = p.roles;
    m.mention_everyone = p.everyone;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_may_be_empty_only_with_embeds() {
        assert!(content("  ", false).is_err());
        assert_eq!(content("  ", true).unwrap(), "");
        assert_eq!(content(" hi ", true).unwrap(), "hi");
        assert!(content(&"x".repeat(4001), true).is_err());
    }

    #[test]
    fn drafts_check_everything_that_needs_no_store() {
        assert_eq!(Draft::new("  hi  ", None).unwrap().content, "hi");
        assert!(Draft::new("   ", None).is_err());
        assert!(Draft::new("x", Some("n".repeat(65))).is_err());
        let b = SendBody { embeds: vec![Embed::default()], ..Default::default() };
        assert!(Draft::from_body(b).is_err(), "an empty embed");
        let b =
            SendBody { embeds: vec![Embed { title: Some("t".into()), ..Default::default() }], ..Default::default() };
        assert_eq!(Draft::from_body(b).unwrap().content, "");
    }

    #[test]
    fn excerpts_are_short() {
        let a = Author { id: Id(1), username: "a".into(), display_name: None };
        let m = Message::new(Id(2), Id(3), None, a, "é".repeat(500));
        assert_eq!(excerpt(&m).content.chars().count(), MAX_REPLY_EXCERPT_CHARS);
    }
}
