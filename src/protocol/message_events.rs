//! Payloads of the dispatches about messages after they were sent: deletes,
//! reactions and pins (MESSAGE_CREATE and MESSAGE_UPDATE carry the message).

use serde::Serialize;

use crate::model::emoji::ReactionEmoji;
use crate::model::Id;

/// DISPATCH MESSAGE_DELETE.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageDelete {
    /// The deleted message.
    pub id: Id,
    /// Its channel.
    pub channel_id: Id,
    /// Its guild, if any.
    pub guild_id: Option<Id>,
}

/// DISPATCH MESSAGE_DELETE_BULK.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageDeleteBulk {
    /// The deleted messages.
    pub ids: Vec<Id>,
    /// Their channel.
    pub channel_id: Id,
    /// Its guild, if any.
    pub guild_id: Option<Id>,
}

/// DISPATCH MESSAGE_REACTION_ADD / MESSAGE_REACTION_REMOVE.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReactionEvent {
    /// Whose reaction.
    pub user_id: Id,
    /// The channel.
    pub channel_id: Id,
    /// The message.
    pub message_id: Id,
    /// The guild, if any.
    pub guild_id: Option<Id>,
    /// The emoji.
    pub emoji: ReactionEmoji,
    /// How many reactions with this emoji the message has now.
    pub count: u32,
}

/// DISPATCH MESSAGE_REACTION_REMOVE_ALL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReactionRemoveAll {
    /// The channel.
    pub channel_id: Id,
    /// The message.
    pub message_id: Id,
    /// The guild, if any.
    pub guild_id: Option<Id>,
}

/// DISPATCH MESSAGE_REACTION_REMOVE_EMOJI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReactionRemoveEmoji {
    /// The channel.
    pub channel_id: Id,
    /// The message.
    pub message_id: Id,
    /// The guild, if any.
    pub guild_id: Option<Id>,
    /// The emoji whose reactions went.
    pub emoji: ReactionEmoji,
}

/// DISPATCH CHANNEL_PINS_UPDATE.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PinsUpdate {
    /// The channel.
    pub channel_id: Id,
    /// Its guild, if any.
    pub guild_id: Option<Id>,
    /// When the newest pin still there was pinned (unix ms); null without pins.
    pub last_pin_timestamp: Option<u64>,
}
