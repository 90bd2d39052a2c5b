//! Messages and what hangs off them: replies, mentions, reactions, pins,
//! embeds and earlier versions. One schema for the store, REST and the gateway.

use serde::{Deserialize, Serialize};

use super::embed::Embed;
use super::emoji::ReactionEmoji;
use super::ids::Id;
use super::types::User;

/// The author of a message as captured when it was sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Author {
    /// User id.
    pub id: Id,
    /// Username at sending time.
    pub username: String,
    /// Display name at sending time.
    pub display_name: Option<String>,
}

impl From<&User> for Author {
    fn from(u: &User) -> Self {
        Author { id: u.id, username: u.username.clone(), display_name: u.display_name.clone() }
    }
}

/// What kind of message this is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Someone wrote it.
    #[default]
    Default,
    /// Someone wrote it in reply to another message (`message_reference`).
    Reply,
    /// The server wrote it: the author pinned the message `message_reference` names.
    PinNotice,
}

impl MessageKind {
    /// Whether people write messages of this kind (and may edit them).
    pub fn is_user_written(self) -> bool {
        matches!(self, MessageKind::Default | MessageKind::Reply)
    }
}

/// The message a reply or a pin notice points at.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessageReference {
    /// The message.
    pub message_id: Id,
    /// Its channel (always the channel of the message that refers to it).
    pub channel_id: Id,
}

/// What a client sends to reply: the message it answers, in the same channel.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct ReplyTo {
    /// The message replied to.
    pub message_id: Id,
    /// Its channel; when given it must be the channel the reply is sent in.
    #[serde(default)]
    pub channel_id: Option<Id>,
}

/// A small picture of the message a reply answers, so that clients can show
/// it without fetching it. Made when the reply is read or sent, never stored:
/// once the original is deleted, nothing of it remains.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReferencedMessage {
    /// The original's id.
    pub id: Id,
    /// Its author.
    pub author: Author,
    /// Its first `MAX_REPLY_EXCERPT_CHARS` characters.
    pub content: String,
}

/// One emoji's reactions on a message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reaction {
    /// The emoji.
    pub emoji: ReactionEmoji,
    /// How many people reacted with it.
    pub count: u32,
    /// Whether the user reading the message is one of them (stored false;
    /// set per reader on REST reads, always false in dispatches).
    #[serde(default)]
    pub me: bool,
}

/// A message in a channel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    /// Message id (its creation time is in the id).
    pub id: Id,
    /// The channel.
    pub channel_id: Id,
    /// The guild, for guild channels.
    pub guild_id: Option<Id>,
    /// Who sent it (for a pin notice: who pinned).
    pub author: Author,
    /// What kind of message it is.
    #[serde(default)]
    pub kind: MessageKind,
    /// Text: 1–4000 characters after trimming (0 with embeds, or in a pin notice).
    pub content: String,
    /// The client's nonce, echoed back so it can match its pending message.
    pub nonce: Option<String>,
    /// Unix milliseconds at creation.
    pub created_at: u64,
    /// Unix milliseconds of the last edit.
    #[serde(default)]
    pub edited_at: Option<u64>,
    /// The message this one replies to (or a pin notice's pinned message).
    #[serde(default)]
    pub message_reference: Option<MessageReference>,
    /// A picture of the replied-to message; null when it was deleted.
    #[serde(default)]
    pub referenced_message: Option<ReferencedMessage>,
    /// Users this message pings.
    #[serde(default)]
    pub mentions: Vec<Author>,
    /// Roles this message pings.
    #[serde(default)]
    pub mention_roles: Vec<Id>,
    /// Whether it pings everyone (@everyone or @here, by someone allowed to).
    #[serde(default)]
    pub mention_everyone: bool,
    /// Reactions, in the order their emoji first appeared.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    /// Whether it is pinned in its channel.
    #[serde(default)]
    pub pinned: bool,
    /// Rich embeds.
    #[serde(default)]
    pub embeds: Vec<Embed>,
}

impl Message {
    /// A plain message: no reply, mentions, reactions or embeds, not pinned
    /// or edited, created when its id says.
    pub fn new(id: Id, channel_id: Id, guild_id: Option<Id>, author: Author, content: String) -> Message {
        Message {
            id,
            channel_id,
            guild_id,
            author,
            kind: MessageKind::Default,
            content,
            nonce: None,
            created_at: id.timestamp_ms(),
            edited_at: None,
            message_reference: None,
            referenced_message: None,
            mentions: Vec::new(),
            mention_roles: Vec::new(),
            mention_everyone: false,
            reactions: Vec::new(),
            pinned: false,
            embeds: Vec::new(),
        }
    }

    /// Whether `user` is pinged: directly, through one of `roles`, or by @everyone/@here.
    pub fn pings(&self, user: Id, roles: &[Id]) -> bool {
        self.mention_everyone
            || self.mentions.iter().any(|a| a.id == user)
            || self.mention_roles.iter().any(|r| roles.contains(r))
    }
}

/// An earlier version of an edited message, kept for moderators.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageVersion {
    /// The text it had.
    pub content: String,
    /// The embeds it had.
    #[serde(default)]
    pub embeds: Vec<Embed>,
    /// Unix ms when this version was written (sent or edited).
    pub created_at: u64,
    /// Unix ms when an edit replaced it.
    pub replaced_at: u64,
}

/// A guild's custom emoji (its image arrives with file uploads; reactions
/// and events carry its id already).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GuildEmoji {
    /// Emoji id.
    pub id: Id,
    /// The guild.
    pub guild_id: Id,
    /// Name, used as `:name:`.
    pub name: String,
    /// Whether the image is animated.
    #[serde(default)]
    pub animated: bool,
    /// Who added it.
    pub creator_id: Id,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_cover_users_roles_and_everyone() {
        let a = Author { id: Id(1), username: "a".into(), display_name: None };
        let mut m = Message::new(Id(10), Id(2), Some(Id(3)), a.clone(), "hi".into());
        assert!(!m.pings(Id(1), &[]));
        m.mentions.push(a);
        assert!(m.pings(Id(1), &[]));
        m.mention_roles.push(Id(7));
        assert!(m.pings(Id(9), &[Id(7)]));
        assert!(!m.pings(Id(9), &[Id(8)]));
        m.mention_everyone = true;
        assert!(m.pings(Id(9), &[]));
    }

    #[test]
    fn records_from_before_message_actions_still_decode() {
        #[derive(Serialize)]
        struct Old {
            id: Id,
            channel_id: Id,
            guild_id: Option<Id>,
            author: Author,
            content: String,
            nonce: Option<String>,
            created_at: u64,
        }
        let a = Author { id: Id(1), username: "a".into(), display_name: None };
        let old = Old {
            id: Id(5),
            channel_id: Id(2),
            guild_id: None,
            author: a,
            content: "x".into(),
            nonce: None,
            created_at: 0,
        };
        let bytes = rmp_serde::to_vec_named(&old).unwrap();
        let m: Message = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(m.kind, MessageKind::Default);
        assert!(m.reactions.is_empty() && m.embeds.is_empty() && !m.pinned);
    }
}
