//! Pins: up to `MAX_PINS_PER_CHANNEL` messages a channel keeps at hand.
//! Pinning needs `manage_messages` in guild channels; in DMs and group DMs
//! every recipient may pin. Pinning posts a notice "X pinned a message".

use super::access::ChannelAccess;
use super::effects::{ChannelEvent, ChannelOp};
use super::message_actions::{pins_update, put_stored, with_reference};
use super::messages::present;
use crate::errors::AppError;
use crate::model::limits::MAX_PINS_PER_CHANNEL;
use crate::model::{Author, Id, Message, MessageKind, MessageReference, Permissions};
use crate::store::{MessageRead, MessageWrite, Read, Write};
use crate::util::now_ms;

/// 403 unless the caller may pin and unpin here.
fn may_pin(ca: &ChannelAccess) -> Result<(), AppError> {
    if ca.channel.guild_id.is_some() {
        ca.require(Permissions::MANAGE_MESSAGES)
    } else {
        ca.require(Permissions::READ_MESSAGE_HISTORY)
    }
}

/// The channel's pinned messages, the most recently pinned first.
pub fn list(r: &impl Read, caller: Id, cid: Id) -> Result<Vec<Message>, AppError> {
    let ca = ChannelAccess::load(r, cid, caller)?;
    ca.require(Permissions::READ_MESSAGE_HISTORY)?;
    let mut out = Vec::new();
    for (mid, _) in r.pins(cid)? {
        if let Some(m) = r.message(cid, mid)? {
            out.push(m);
        }
    }
    present(r, caller, &mut out)?;
    Ok(out)
}

/// Pin a message. Pinning a pinned message changes nothing; system messages
/// cannot be pinned.
pub fn pin(ca: &ChannelAccess, caller: Author, mid: Id) -> Result<ChannelOp<()>, AppError> {
    may_pin(ca)?;
    let (cid, gid) = (ca.channel.id, ca.channel.guild_id);
    Ok(Box::new(move |w, notice_id| {
        let mut m = w.message(cid, mid)?.ok_or_else(AppError::unknown_message)?;
        if m.pinned {
            return Ok(((), Vec::new()));
        }
        if !m.kind.is_user_written() {
            return Err(AppError::invalid("system messages cannot be pinned"));
        }
        if w.pins(cid)?.len() >= MAX_PINS_PER_CHANNEL {
            return Err(AppError::limit(format!("a channel may have at most {MAX_PINS_PER_CHANNEL} pins")));
        }
        let now = now_ms();
        m.pinned = true;
        w.set_pin(cid, mid, Some(now))?;
        put_stored(w, &m)?;
        let mut notice = Message::new(notice_id, cid, gid, caller, String::new());
        notice.kind = MessageKind::PinNotice;
        notice.message_reference = Some(MessageReference { message_id: mid, channel_id: cid });
        w.put_message(&notice)?;
        let events = vec![
            ChannelEvent::Updated(with_reference(w, m)?),
            ChannelEvent::Pins(pins_update(w, cid, gid)?),
            ChannelEvent::Created(notice),
        ];
        Ok(((), events))
    }))
}

/// Unpin a message. Unpinning one that is not pinned changes nothing.
pub fn unpin(ca: &ChannelAccess, mid: Id) -> Result<ChannelOp<()>, AppError> {
    may_pin(ca)?;
    let (cid, gid) = (ca.channel.id, ca.channel.guild_id);
    Ok(Box::new(move |w, _| {
        let mut m = w.message(cid, mid)?.ok_or_else(AppError::unknown_message)?;
        if !m.pinned {
            return Ok(((), Vec::new()));
        }
        m.pinned = false;
        w.set_pin(cid, mid, None)?;
        put_stored(w, &m)?;
        let events = vec![ChannelEvent::Updated(with_reference(w, m)?), ChannelEvent::Pins(pins_update(w, cid, gid)?)];
        Ok(((), events))
    }))
}
