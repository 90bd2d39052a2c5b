//! Records as stored and as sent to clients (one schema for REST, gateway and store).

use serde::{Deserialize, Serialize};

use super::ids::Id;
use super::permissions::{Overwrite, Permissions};

/// A user as others see them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// User id.
    pub id: Id,
    /// Unique login name (case-insensitively unique, case preserved).
    pub username: String,
    /// Optional name shown instead of the username.
    pub display_name: Option<String>,
    /// Unix milliseconds at registration.
    pub created_at: u64,
}

/// What the store keeps for a user: the public part plus the password hash.
#[derive(Clone, Serialize, Deserialize)]
pub struct UserRecord {
    /// The public part.
    pub user: User,
    /// argon2id PHC string (never logged: `Debug` redacts it).
    pub password_hash: String,
    /// A server administrator (set by `hearth admin create-admin`).
    #[serde(default)]
    pub admin: bool,
    /// Disabled by `hearth admin disable`: may not log in or use a token.
    #[serde(default)]
    pub disabled: bool,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hash = crate::logging::Redacted::new(&self.password_hash);
        f.debug_struct("UserRecord")
            .field("user", &self.user)
            .field("password_hash", &hash)
            .field("admin", &self.admin)
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// A login session (one bearer token). The token itself is never stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenRecord {
    /// Login session id (shown in the session list, used to revoke it).
    pub id: Id,
    /// Owner of the token.
    pub user_id: Id,
    /// Unix milliseconds at login.
    pub created_at: u64,
    /// Free-form client description given at login (e.g. "web", "bot").
    pub client: Option<String>,
}

/// A community.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Guild {
    /// Guild id; also the id of its @everyone role.
    pub id: Id,
    /// Name shown to members.
    pub name: String,
    /// The owner, who can do everything.
    pub owner_id: Id,
    /// Unix milliseconds at creation.
    pub created_at: u64,
}

/// Kinds of channel.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A guild text channel.
    Text,
    /// A guild voice channel (also carries text messages).
    Voice,
    /// A guild category that groups channels.
    Category,
    /// A direct message between two users.
    Dm,
    /// A group direct message.
    GroupDm,
}

impl Channel {
    /// A new channel record: no topic, category, overwrites, recipients or
    /// owner, position 0, slow mode off, created when its id says.
    pub fn new(id: Id, kind: ChannelKind, guild_id: Option<Id>, name: Option<String>) -> Channel {
        Channel {
            id,
            kind,
            guild_id,
            name,
            topic: None,
            position: 0,
            parent_id: None,
            overwrites: Vec::new(),
            recipients: Vec::new(),
            owner_id: None,
            rate_limit_per_user: 0,
            created_at: id.timestamp_ms(),
        }
    }
}

impl ChannelKind {
    /// Whether channels of this kind belong to a guild.
    pub fn is_guild(self) -> bool {
        matches!(self, ChannelKind::Text | ChannelKind::Voice | ChannelKind::Category)
    }

    /// Whether messages can be sent in channels of this kind.
    pub fn has_messages(self) -> bool {
        !matches!(self, ChannelKind::Category)
    }
}

/// A channel: guild text/voice/category, DM or group DM.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Channel {
    /// Channel id.
    pub id: Id,
    /// What kind of channel this is.
    pub kind: ChannelKind,
    /// The guild, for guild channels.
    pub guild_id: Option<Id>,
    /// Name (guild channels and named group DMs).
    pub name: Option<String>,
    /// Topic (text and voice channels).
    pub topic: Option<String>,
    /// Sort position among siblings (lower first).
    pub position: i32,
    /// Parent category.
    pub parent_id: Option<Id>,
    /// Permission overwrites (guild channels).
    #[serde(default)]
    pub overwrites: Vec<Overwrite>,
    /// Participants (DMs and group DMs).
    #[serde(default)]
    pub recipients: Vec<Id>,
    /// Owner of a group DM (may add and remove people).
    pub owner_id: Option<Id>,
    /// Slow mode: seconds each member must wait between messages (0 = off;
    /// members who may manage messages or the channel are exempt).
    #[serde(default)]
    pub rate_limit_per_user: u32,
    /// Unix milliseconds at creation.
    pub created_at: u64,
}

/// A role in a guild.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Role {
    /// Role id (the @everyone role's id equals the guild id).
    pub id: Id,
    /// The guild.
    pub guild_id: Id,
    /// Name shown to members.
    pub name: String,
    /// RGB colour, 0 for none.
    pub color: u32,
    /// Position in the hierarchy (@everyone is 0; higher is more powerful).
    pub position: i32,
    /// Permissions the role grants guild-wide.
    pub permissions: Permissions,
    /// Show members with this role separately in the member list.
    #[serde(default)]
    pub hoist: bool,
    /// Anyone may ping it with `<@&id>` (otherwise only holders of `mention_everyone`).
    #[serde(default)]
    pub mentionable: bool,
}

impl Role {
    /// A guild's @everyone role: its id is the guild's, position 0, the
    /// default permissions every member has.
    pub fn everyone(guild: Id) -> Role {
        Role {
            id: guild,
            guild_id: guild,
            name: "@everyone".into(),
            color: 0,
            position: 0,
            permissions: Permissions::DEFAULT_EVERYONE,
            hoist: false,
            mentionable: false,
        }
    }
}

/// A user's membership in a guild.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Member {
    /// The guild.
    pub guild_id: Id,
    /// The member's public user record.
    pub user: User,
    /// Roles besides @everyone.
    pub roles: Vec<Id>,
    /// Guild-specific nickname.
    pub nick: Option<String>,
    /// Unix milliseconds at joining.
    pub joined_at: u64,
    /// Server-muted in voice (by someone with mute_members).
    #[serde(default)]
    pub mute: bool,
    /// Server-deafened in voice (by someone with deafen_members).
    #[serde(default)]
    pub deaf: bool,
}

/// A guild invite.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Invite {
    /// The code used in links.
    pub code: String,
    /// The guild it joins.
    pub guild_id: Id,
    /// The channel the invite points at.
    pub channel_id: Id,
    /// Who created it.
    pub inviter_id: Id,
    /// How often it may be used; None for unlimited.
    pub max_uses: Option<u32>,
    /// How often it was used.
    pub uses: u32,
    /// Unix milliseconds after which it no longer works; None for never.
    pub expires_at: Option<u64>,
    /// Unix milliseconds at creation.
    pub created_at: u64,
}

impl Invite {
    /// Whether the invite can still be used at `now_ms`.
    pub fn is_usable(&self, now_ms: u64) -> bool {
        self.expires_at.is_none_or(|t| now_ms < t) && self.max_uses.is_none_or(|m| self.uses < m)
    }
}

/// A presence status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Connected and active.
    #[default]
    Online,
    /// Away.
    Idle,
    /// Do not disturb.
    Dnd,
    /// Shown as offline (also used when no session is connected).
    Offline,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_usability() {
        let mut inv = Invite {
            code: "abc".into(),
            guild_id: Id(1),
            channel_id: Id(2),
            inviter_id: Id(3),
            max_uses: Some(2),
            uses: 1,
            expires_at: Some(1000),
            created_at: 0,
        };
        assert!(inv.is_usable(999));
        assert!(!inv.is_usable(1000));
        inv.uses = 2;
        assert!(!inv.is_usable(0));
        inv.max_uses = None;
        inv.expires_at = None;
        assert!(inv.is_usable(u64::MAX));
    }
}
