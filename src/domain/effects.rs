//! What a committed change means for live clients. Domain functions return
//! these; [`crate::actors::effects`] delivers them after the commit, so no
//! client ever hears of a change a crash could take back.

use crate::model::relationships::{PrivacySettings, RelationshipKind};
use crate::model::{Channel, Id, Message, User};
use crate::protocol::message_events::{
    MessageDelete, MessageDeleteBulk, PinsUpdate, ReactionEvent, ReactionRemoveAll, ReactionRemoveEmoji,
};

/// What changed in a guild, so that its actor re-reads just that and tells
/// the members (and pushes new reader sets to channel actors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The guild record (name, owner).
    Guild,
    /// A channel was created, changed or deleted.
    Channel(Id),
    /// Several channels changed at once (reordering).
    Channels,
    /// A role was created, changed or deleted.
    Role(Id),
    /// Several roles changed at once (reordering).
    Roles,
    /// A member joined, changed or left.
    Member(Id),
    /// The guild was deleted.
    Deleted,
}

/// One consequence of a committed change.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A guild's state changed: its live actor applies it (events, reader sets).
    Guild(Id, Change),
    /// A user joined (or created) a guild: its actor starts if needed, so that
    /// the user's sessions receive GUILD_CREATE and the members hear of them.
    Joined {
        /// The guild.
        guild: Id,
        /// Who joined.
        user: Id,
    },
    /// A DM or group DM was created: CHANNEL_CREATE to its recipients.
    DmCreated(Channel),
    /// A DM or group DM changed: CHANNEL_CREATE to added recipients,
    /// CHANNEL_UPDATE to those who stay, CHANNEL_DELETE to those removed.
    DmChanged {
        /// The channel.
        channel: Id,
        /// Recipients before the change.
        before: Vec<Id>,
        /// The channel after the change; None if it was deleted.
        after: Option<Channel>,
    },
    /// End the live gateway sessions of revoked login tokens: `only` one
    /// token, or every token of `user` but `keep`.
    RevokeTokens {
        /// Whose tokens.
        user: Id,
        /// Just this token.
        only: Option<Id>,
        /// Every token but this one.
        keep: Option<Id>,
    },
    /// `owner`'s row about `other` changed: RELATIONSHIP_ADD (new or changed
    /// type) or RELATIONSHIP_REMOVE to `owner`'s sessions; nothing if unchanged.
    RelationshipChanged {
        /// Whose row.
        owner: Id,
        /// The user it is about.
        other: User,
        /// The row before.
        before: Option<RelationshipKind>,
        /// The row after.
        after: Option<RelationshipKind>,
    },
    /// A user's privacy settings changed: USER_SETTINGS_UPDATE to their sessions.
    SettingsUpdated {
        /// Whose.
        user: Id,
        /// The new settings.
        settings: PrivacySettings,
    },
    /// A user's profile changed: USER_UPDATE to their own sessions.
    UserUpdated(User),
    /// Disconnect a member from voice in a guild.
    VoiceEvict {
        /// The guild.
        guild: Id,
        /// The member.
        user: Id,
    },
}

/// The effects of one operation, delivered in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects(pub Vec<Effect>);

impl Effects {
    /// No effects.
    pub fn none() -> Effects {
        Effects(Vec::new())
    }

    /// One effect.
    pub fn one(e: Effect) -> Effects {
        Effects(vec![e])
    }

    /// Guild changes, in order.
    pub fn guild(guild: Id, changes: &[Change]) -> Effects {
        Effects(changes.iter().map(|c| Effect::Guild(guild, *c)).collect())
    }

    /// Add one.
    pub fn push(&mut self, e: Effect) {
        self.0.push(e);
    }

    /// Whether there is nothing to deliver.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Who hears what when a DM's recipients change from `before` to `after`:
/// (added, kept, removed).
pub fn recipient_diff(before: &[Id], after: &[Id]) -> (Vec<Id>, Vec<Id>, Vec<Id>) {
    let added = after.iter().filter(|u| !before.contains(u)).copied().collect();
    let kept = after.iter().filter(|u| before.contains(u)).copied().collect();
    let removed = before.iter().filter(|u| !after.contains(u)).copied().collect();
    (added, kept, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_diff_splits_three_ways() {
        let (a, k, r) = recipient_diff(&[Id(1), Id(2), Id(3)], &[Id(2), Id(3), Id(4)]);
        assert_eq!(a, vec![Id(4)]);
        assert_eq!(k, vec![Id(2), Id(3)]);
        assert_eq!(r, vec![Id(1)]);
        let (a, k, r) = recipient_diff(&[Id(1)], &[]);
        assert!(a.is_empty() && k.is_empty());
        assert_eq!(r, vec![Id(1)]);
    }
}

/// A committed change to a channel's messages, for everyone who can view the
/// channel. The channel actor publishes these in commit order, after the
/// messages sent before them.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelEvent {
    /// MESSAGE_CREATE (a system message such as a pin notice).
    Created(Message),
    /// MESSAGE_UPDATE.
    Updated(Message),
    /// MESSAGE_DELETE.
    Deleted(MessageDelete),
    /// MESSAGE_DELETE_BULK.
    DeletedBulk(MessageDeleteBulk),
    /// MESSAGE_REACTION_ADD.
    ReactionAdded(ReactionEvent),
    /// MESSAGE_REACTION_REMOVE.
    ReactionRemoved(ReactionEvent),
    /// MESSAGE_REACTION_REMOVE_ALL.
    ReactionsCleared(ReactionRemoveAll),
    /// MESSAGE_REACTION_REMOVE_EMOJI.
    EmojiCleared(ReactionRemoveEmoji),
    /// CHANNEL_PINS_UPDATE.
    Pins(PinsUpdate),
}

/// A change to a channel's messages, run by the channel's actor inside the
/// next group commit (so it is ordered with the channel's sends): given the
/// write transaction and a fresh id (for a message or version it creates),
/// it checks, writes, and answers with its result and the events to publish.
/// Like every write, it must not change anything when it fails.
pub type ChannelOp<T> =
    Box<dyn FnOnce(&redb::WriteTransaction, Id) -> Result<(T, Vec<ChannelEvent>), crate::errors::AppError> + Send>;
