//! Reactions: anyone who can read a channel's history may add to an emoji
//! already on a message; putting a new emoji on it needs `add_reactions`;
//! removing other people's reactions needs `manage_messages`. Counts live on
//! the message, who reacted in their own table.

use serde::Deserialize;

use super::access::ChannelAccess;
use super::effects::{ChannelEvent, ChannelOp};
use super::message_actions::put_stored;
use crate::errors::{AppError, ErrorCode};
use crate::model::emoji::{EmojiRef, ReactionEmoji};
use crate::model::limits::{DEFAULT_REACTION_USERS_PAGE, MAX_REACTION_EMOJIS_PER_MESSAGE, MAX_REACTION_USERS_PAGE};
use crate::model::{Channel, Id, Message, Permissions, Reaction, User};
use crate::protocol::message_events::{ReactionEvent, ReactionRemoveAll, ReactionRemoveEmoji};
use crate::ratelimit::Limits;
use crate::store::{MessageRead, MessageWrite, Read};

fn unknown_emoji() -> AppError {
    AppError::new(ErrorCode::UnknownEmoji, "not a Unicode emoji, nor a custom emoji of this guild (name:id)")
}

/// The `{emoji}` of a route: a Unicode emoji or `name:id`.
pub fn parse(raw: &str) -> Result<EmojiRef, AppError> {
    EmojiRef::parse(raw).ok_or_else(unknown_emoji)
}

/// The emoji a new reaction uses: Unicode, or a custom emoji of the channel's guild.
fn resolve(r: &impl Read, channel: &Channel, e: &EmojiRef) -> Result<ReactionEmoji, AppError> {
    match e {
        EmojiRef::Unicode(s) => Ok(ReactionEmoji::unicode(s)),
        EmojiRef::Custom(id) => {
            let g = channel.guild_id.ok_or_else(unknown_emoji)?;
            let ge = r.guild_emoji(g, *id)?.ok_or_else(unknown_emoji)?;
            Ok(ReactionEmoji { id: Some(ge.id), name: ge.name, animated: ge.animated })
        }
    }
}

fn position(m: &Message, key: &str) -> Option<usize> {
    m.reactions.iter().position(|r| r.emoji.as_ref().key() == key)
}

fn event(m: &Message, user: Id, emoji: ReactionEmoji, count: u32) -> ReactionEvent {
    ReactionEvent { user_id: user, channel_id: m.channel_id, message_id: m.id, guild_id: m.guild_id, emoji, count }
}

fn message(r: &impl Read, cid: Id, mid: Id) -> Result<Message, AppError> {
    r.message(cid, mid)?.ok_or_else(AppError::unknown_message)
}

/// React with `emoji` (counted against the `reactions` rate limit). Reacting
/// twice with the same emoji changes nothing.
pub fn add(limits: &Limits, ca: &ChannelAccess, caller: Id, mid: Id, raw: &str) -> Result<ChannelOp<()>, AppError> {
    ca.require(Permissions::READ_MESSAGE_HISTORY)?;
    let e = parse(raw)?;
    limits.reaction(caller)?;
    let (channel, perms) = (ca.channel.clone(), ca.perms);
    Ok(Box::new(move |w, _| {
        let mut m = message(w, channel.id, mid)?;
        let key = e.key();
        if w.reacted(channel.id, mid, &key, caller)? {
            return Ok(((), Vec::new()));
        }
        let i = match position(&m, &key) {
            Some(i) => i,
            None => {
                if !perms.contains(Permissions::ADD_REACTIONS) {
                    return Err(AppError::missing_permissions(Permissions::ADD_REACTIONS));
                }
                if m.reactions.len() >= MAX_REACTION_EMOJIS_PER_MESSAGE {
                    return Err(AppError::limit(format!(
                        "a message may have at most {MAX_REACTION_EMOJIS_PER_MESSAGE} different reactions"
                    )));
                }
                let emoji = resolve(w, &channel, &e)?;
                m.reactions.push(Reaction { emoji, count: 0, me: false });
                m.reactions.len() - 1
            }
        };
        m.reactions[i].count += 1;
        w.set_reaction(channel.id, mid, &key, caller, true)?;
        put_stored(w, &m)?;
        let ev = event(&m, caller, m.reactions[i].emoji.clone(), m.reactions[i].count);
        Ok(((), vec![ChannelEvent::ReactionAdded(ev)]))
    }))
}

/// Take away `user`'s reaction: one's own (counted against `reactions`), or
/// someone else's with `manage_messages`. Nothing to take away changes nothing.
pub fn remove(
    limits: &Limits,
    ca: &ChannelAccess,
    caller: Id,
    user: Id,
    mid: Id,
    raw: &str,
) -> Result<ChannelOp<()>, AppError> {
    ca.require(Permissions::READ_MESSAGE_HISTORY)?;
    if user != caller {
        ca.require(Permissions::MANAGE_MESSAGES)?;
    }
    let key = parse(raw)?.key();
    limits.reaction(caller)?;
    let cid = ca.channel.id;
    Ok(Box::new(move |w, _| {
        let mut m = message(w, cid, mid)?;
        let Some(i) = position(&m, &key) else { return Ok(((), Vec::new())) };
        if !w.reacted(cid, mid, &key, user)? {
            return Ok(((), Vec::new()));
        }
        w.set_reaction(cid, mid, &key, user, false)?;
        m.reactions[i].count = m.reactions[i].count.saturating_sub(1);
        let emoji = m.reactions[i].emoji.clone();
        let count = m.reactions[i].count;
        if count == 0 {
            m.reactions.remove(i);
        }
        put_stored(w, &m)?;
        Ok(((), vec![ChannelEvent::ReactionRemoved(event(&m, user, emoji, count))]))
    }))
}

/// Remove every reaction with one emoji (`emoji` Some) or all of them (`manage_messages`).
pub fn clear(ca: &ChannelAccess, mid: Id, raw: Option<&str>) -> Result<ChannelOp<()>, AppError> {
    ca.require(Permissions::MANAGE_MESSAGES)?;
    let key = raw.map(parse).transpose()?.map(|e| e.key());
    let cid = ca.channel.id;
    Ok(Box::new(move |w, _| {
        let mut m = message(w, cid, mid)?;
        let ev = match &key {
            Some(k) => {
                let Some(i) = position(&m, k) else { return Ok(((), Vec::new())) };
                let emoji = m.reactions.remove(i).emoji;
                w.clear_reactions(cid, mid, Some(k))?;
                ChannelEvent::EmojiCleared(ReactionRemoveEmoji {
                    channel_id: cid,
                    message_id: mid,
                    guild_id: m.guild_id,
                    emoji,
                })
            }
            None => {
                if m.reactions.is_empty() {
                    return Ok(((), Vec::new()));
                }
                m.reactions.clear();
                w.clear_reactions(cid, mid, None)?;
                ChannelEvent::ReactionsCleared(ReactionRemoveAll {
                    channel_id: cid,
                    message_id: mid,
                    guild_id: m.guild_id,
                })
            }
        };
        put_stored(w, &m)?;
        Ok(((), vec![ev]))
    }))
}

/// Query of the list of who reacted.
#[derive(Debug, Default, Deserialize)]
pub struct UsersPage {
    /// Users with ids greater than this.
    pub after: Option<Id>,
    /// 1–MAX_REACTION_USERS_PAGE, default DEFAULT_REACTION_USERS_PAGE.
    pub limit: Option<u32>,
}

/// Who reacted with an emoji, by user id.
pub fn users(r: &impl Read, caller: Id, cid: Id, mid: Id, raw: &str, q: &UsersPage) -> Result<Vec<User>, AppError> {
    let ca = ChannelAccess::load(r, cid, caller)?;
    ca.require(Permissions::READ_MESSAGE_HISTORY)?;
    let limit = q.limit.unwrap_or(DEFAULT_REACTION_USERS_PAGE);
    if !(1..=MAX_REACTION_USERS_PAGE).contains(&limit) {
        return Err(AppError::new(ErrorCode::InvalidQuery, format!("limit must be 1–{MAX_REACTION_USERS_PAGE}")));
    }
    let key = parse(raw)?.key();
    message(r, cid, mid)?;
    let ids = r.reaction_users(cid, mid, &key, q.after, limit as usize)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(u) = r.user(id)? {
            out.push(u);
        }
    }
    Ok(out)
}
