//! Editing and deleting messages. Each action checks what it can up front
//! (permissions, body) and returns a [`ChannelOp`] that the channel's actor
//! runs in the next group commit, where the message itself is re-read.

use serde::Deserialize;

use super::access::ChannelAccess;
use super::compose::{self, excerpt};
use super::effects::{ChannelEvent, ChannelOp};
use crate::errors::{AppError, ErrorCode};
use crate::model::embed::{self, Embed};
use crate::model::limits::{MAX_BULK_DELETE, MAX_BULK_DELETE_AGE_SECS, MIN_BULK_DELETE};
use crate::model::mentions::AllowedMentions;
use crate::model::{Id, Message, MessageKind, MessageVersion, Permissions};
use crate::protocol::message_events::{MessageDelete, MessageDeleteBulk, PinsUpdate};
use crate::store::{MessageRead, MessageWrite, Read, Write};
use crate::util::now_ms;

/// Changes to a message; absent fields stay as they are.
#[derive(Debug, Default, Deserialize)]
pub struct MessagePatch {
    /// New text.
    #[serde(default)]
    pub content: Option<String>,
    /// New embeds (an empty list removes them).
    #[serde(default)]
    pub embeds: Option<Vec<Embed>>,
    /// Which written mentions may ping after the edit.
    #[serde(default)]
    pub allowed_mentions: Option<AllowedMentions>,
}

/// The message a reply or notice refers to, as events show it.
pub fn with_reference(r: &impl Read, mut m: Message) -> Result<Message, AppError> {
    if let Some(re) = m.message_reference.filter(|_| m.kind == MessageKind::Reply) {
        m.referenced_message = r.message(re.channel_id, re.message_id)?.map(|o| excerpt(&o));
    }
    Ok(m)
}

/// Store a message without what is made on reading (a reply's picture of its
/// original, per-reader `me`), so deleting the original leaves nothing of it.
pub fn put_stored(w: &impl Write, m: &Message) -> Result<(), AppError> {
    if m.referenced_message.is_none() && m.reactions.iter().all(|r| !r.me) {
        w.put_message(m)?;
    } else {
        let mut stored = m.clone();
        stored.referenced_message = None;
        stored.reactions.iter_mut().for_each(|r| r.me = false);
        w.put_message(&stored)?;
    }
    Ok(())
}

/// The current CHANNEL_PINS_UPDATE of a channel.
pub fn pins_update(r: &impl Read, channel: Id, guild: Option<Id>) -> Result<PinsUpdate, AppError> {
    let last = r.pins(channel)?.first().map(|p| p.1);
    Ok(PinsUpdate { channel_id: channel, guild_id: guild, last_pin_timestamp: last })
}

/// Edit a message: only its author, only messages people write. Content
/// rules are those of sending; the old text is kept as a version; pings are
/// worked out again (a reply keeps pinging its original's author if it did,
/// unless `allowed_mentions.replied_user` is false). An edit that changes
/// nothing writes nothing and sends no event.
pub fn edit(ca: &ChannelAccess, caller: Id, mid: Id, b: MessagePatch) -> Result<ChannelOp<Message>, AppError> {
    super::patch::require_fields(&[b.content.is_some(), b.embeds.is_some()])?;
    let mut new_embeds = b.embeds;
    if let Some(e) = &mut new_embeds {
        embed::check(e)?;
    }
    if let Some(a) = &b.allowed_mentions {
        a.check()?;
    }
    let channel = ca.channel.clone();
    let perms = ca.perms;
    let new_content = b.content;
    let allowed = b.allowed_mentions;
    Ok(Box::new(move |w, version_id| {
        let current = w.message(channel.id, mid)?.ok_or_else(AppError::unknown_message)?;
        if current.author.id != caller || !current.kind.is_user_written() {
            return Err(AppError::new(
                ErrorCode::CannotEditMessage,
                "only its author can edit a message, and system messages cannot be edited",
            ));
        }
        let embeds = new_embeds.unwrap_or_else(|| current.embeds.clone());
        let content = match &new_content {
            Some(c) => compose::content(c, !embeds.is_empty())?,
            None if current.content.is_empty() && embeds.is_empty() => {
                return Err(AppError::invalid("content: a message needs text or an embed"));
            }
            None => current.content.clone(),
        };
        if embeds != current.embeds && !embeds.is_empty() && !perms.contains(Permissions::EMBED_LINKS) {
            return Err(AppError::missing_permissions(Permissions::EMBED_LINKS));
        }
        if content == current.content && embeds == current.embeds {
            return Ok((with_reference(w, current)?, Vec::new()));
        }
        let original = match current.message_reference.filter(|_| current.kind == MessageKind::Reply) {
            Some(re) => w.message(re.channel_id, re.message_id)?,
            None => None,
        };
        let pinged_before = original.as_ref().filter(|o| current.mentions.iter().any(|a| a.id == o.author.id));
        let mut rules = AllowedMentions::or_all(allowed.as_ref());
        if allowed.as_ref().is_some_and(|a| a.replied_user.is_none()) {
            rules.replied_user = Some(true);
        }
        let p = compose::pings(w, &channel, caller, perms, &content, Some(&rules), pinged_before.map(|o| &o.author))?;
        let now = now_ms().max(current.created_at);
        let old = MessageVersion {
            content: current.content.clone(),
            embeds: current.embeds.clone(),
            created_at: current.edited_at.unwrap_or(current.created_at),
            replaced_at: now,
        };
        let mut m = current;
        m.content = content;
        m.embeds = embeds;
        m.edited_at = Some(now);
        m.mentions = p.users;
        m.mention_roles = p.roles;
        m.mention_everyone = p.everyone;
        w.push_version(channel.id, mid, version_id, &old)?;
        put_stored(w, &m)?;
        m.referenced_message = original.as_ref().map(excerpt);
        Ok((m.clone(), vec![ChannelEvent::Updated(m)]))
    }))
}

/// Delete a message: its author, or anyone with `manage_messages`. Its
/// reactions, versions and pin go with it.
pub fn delete(ca: &ChannelAccess, caller: Id, mid: Id) -> Result<ChannelOp<()>, AppError> {
    let (cid, gid, perms) = (ca.channel.id, ca.channel.guild_id, ca.perms);
    Ok(Box::new(move |w, _| {
        let m = w.message(cid, mid)?.ok_or_else(AppError::unknown_message)?;
        if m.author.id != caller && !perms.contains(Permissions::MANAGE_MESSAGES) {
            return Err(AppError::missing_permissions(Permissions::MANAGE_MESSAGES));
        }
        w.delete_message(cid, mid)?;
        let mut events = vec![ChannelEvent::Deleted(MessageDelete { id: mid, channel_id: cid, guild_id: gid })];
        if m.pinned {
            events.push(ChannelEvent::Pins(pins_update(w, cid, gid)?));
        }
        Ok(((), events))
    }))
}

/// Delete `MIN_BULK_DELETE`–`MAX_BULK_DELETE` messages of this channel at
/// once (`manage_messages`), none older than `MAX_BULK_DELETE_AGE_SECS`.
/// All or nothing.
pub fn bulk_delete(ca: &ChannelAccess, ids: Vec<Id>, now: u64) -> Result<ChannelOp<()>, AppError> {
    ca.require(Permissions::MANAGE_MESSAGES)?;
    if !(MIN_BULK_DELETE..=MAX_BULK_DELETE).contains(&ids.len()) {
        return Err(AppError::invalid(format!("messages: give {MIN_BULK_DELETE}–{MAX_BULK_DELETE} ids")));
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != ids.len() {
        return Err(AppError::invalid("messages: an id appears twice"));
    }
    let oldest = now.saturating_sub(MAX_BULK_DELETE_AGE_SECS * 1000);
    if let Some(old) = ids.iter().find(|id| id.timestamp_ms() < oldest) {
        return Err(AppError::new(
            ErrorCode::MessageTooOld,
            format!("message {old} is older than {} days; delete it on its own", MAX_BULK_DELETE_AGE_SECS / 86_400),
        ));
    }
    let (cid, gid) = (ca.channel.id, ca.channel.guild_id);
    Ok(Box::new(move |w, _| {
        let mut pinned = false;
        for id in &ids {
            let m = w.message(cid, *id)?.ok_or_else(|| {
                AppError::new(ErrorCode::UnknownMessage, format!("message {id} is not in this channel"))
            })?;
            pinned |= m.pinned;
        }
        for id in &ids {
            w.delete_message(cid, *id)?;
        }
        let mut events = vec![ChannelEvent::DeletedBulk(MessageDeleteBulk { ids, channel_id: cid, guild_id: gid })];
        if pinned {
            events.push(ChannelEvent::Pins(pins_update(w, cid, gid)?));
        }
        Ok(((), events))
    }))
}

/// A message's earlier versions, oldest first (`manage_messages`).
pub fn versions(r: &impl Read, caller: Id, cid: Id, mid: Id) -> Result<Vec<MessageVersion>, AppError> {
    let ca = ChannelAccess::load(r, cid, caller)?;
    ca.require(Permissions::MANAGE_MESSAGES)?;
    r.message(cid, mid)?.ok_or_else(AppError::unknown_message)?;
    Ok(r.message_versions(cid, mid)?)
}
