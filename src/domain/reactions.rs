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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::ids::IdGenerator;
    use crate::model::{Author, ChannelKind, Guild, GuildEmoji, Role};
    use crate::store::{MemberRecord, Store, Write};

    /// A guild with a text channel, its owner, one message and one custom emoji.
    fn lodge() -> (Store, tokio::runtime::Runtime, Channel, Id) {
        let db = redb::Database::builder().create_with_backend(redb::backends::InMemoryBackend::new()).unwrap();
        let store = Store::from_database(db, Arc::new(IdGenerator::new(0))).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let g = Guild { id: Id(10), name: "Lodge".into(), owner_id: Id(1), created_at: 0 };
        let c = Channel::new(Id(11), ChannelKind::Text, Some(g.id), Some("general".into()));
        let author = Author { id: Id(1), username: "alice".into(), display_name: None };
        let m = Message::new(Id(12), c.id, Some(g.id), author, "hi".into());
        let emoji = GuildEmoji { id: Id(30), guild_id: g.id, name: "party".into(), animated: true, creator_id: Id(1) };
        let ch = c.clone();
        rt.block_on(store.write(move |w| -> Result<(), AppError> {
            w.put_guild(&g)?;
            w.put_channel(&ch)?;
            w.put_role(&Role::everyone(g.id))?;
            w.put_member(g.id, Id(1), &MemberRecord::joined(0))?;
            w.put_message(&m)?;
            w.put_guild_emoji(&emoji)?;
            Ok(())
        }))
        .unwrap();
        (store, rt, c, Id(12))
    }

    #[test]
    fn a_custom_emoji_of_the_guild_reacts_with_its_name_and_id() {
        let (store, rt, c, mid) = lodge();
        let limits = Limits::new(1000.0);
        let ca = ChannelAccess::load(&store.read().unwrap(), c.id, Id(1)).unwrap();
        let op = add(&limits, &ca, Id(1), mid, "whatever:30").unwrap();
        let (_, events) = rt.block_on(store.write(move |w| op(w, Id(99)))).unwrap();
        let ChannelEvent::ReactionAdded(ev) = &events[0] else { panic!("{events:?}") };
        assert_eq!(ev.emoji, ReactionEmoji { id: Some(Id(30)), name: "party".into(), animated: true });
        let m = store.read().unwrap().message(c.id, mid).unwrap().unwrap();
        assert_eq!(m.reactions[0].count, 1);

        // An id that is not one of the guild's emoji: refused, nothing written.
        let op = add(&limits, &ca, Id(1), mid, "party:31").unwrap();
        let err = rt.block_on(store.write(move |w| op(w, Id(100)))).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownEmoji);
        let m = store.read().unwrap().message(c.id, mid).unwrap().unwrap();
        assert_eq!(m.reactions.len(), 1);
    }
}
