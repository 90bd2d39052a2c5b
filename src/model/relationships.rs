//! Relationship and privacy records: how one user stands with another, and a
//! user's DM privacy settings. The rules that change them are in
//! `crate::domain::relationships` and `crate::domain::privacy`.

use serde::{Deserialize, Serialize};

use super::Id;

/// How one user stands with another, from the first user's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationshipKind {
    /// Both accepted.
    Friend,
    /// This user blocked the other.
    Blocked,
    /// The other user sent this user a friend request.
    Incoming,
    /// This user sent the other a friend request.
    Outgoing,
}

impl RelationshipKind {
    /// The byte the store keeps.
    pub fn to_byte(self) -> u8 {
        match self {
            RelationshipKind::Friend => 1,
            RelationshipKind::Blocked => 2,
            RelationshipKind::Incoming => 3,
            RelationshipKind::Outgoing => 4,
        }
    }

    /// The kind of a stored byte (None for a byte no build wrote).
    pub fn from_byte(b: u8) -> Option<RelationshipKind> {
        match b {
            1 => Some(RelationshipKind::Friend),
            2 => Some(RelationshipKind::Blocked),
            3 => Some(RelationshipKind::Incoming),
            4 => Some(RelationshipKind::Outgoing),
            _ => None,
        }
    }
}

/// Two users' rows about each other: `mine` is the actor's row about the
/// target, `theirs` the target's row about the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pair {
    /// The actor's row.
    pub mine: Option<RelationshipKind>,
    /// The target's row.
    pub theirs: Option<RelationshipKind>,
}

impl Pair {
    /// Whether either side blocked the other.
    pub fn blocked_either_way(&self) -> bool {
        self.mine == Some(RelationshipKind::Blocked) || self.theirs == Some(RelationshipKind::Blocked)
    }

    /// Whether the two are friends.
    pub fn friends(&self) -> bool {
        self.mine == Some(RelationshipKind::Friend)
    }
}

/// One guild's exception to `allow_guild_dms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildDmOverride {
    /// A guild the user is a member of.
    pub guild_id: Id,
    /// Whether members of this guild may open DMs with the user.
    pub allow_dms: bool,
}

/// A user's privacy settings (stored, sent in READY and USER_SETTINGS_UPDATE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacySettings {
    /// Whether people who share a guild with the user may open DMs with them.
    #[serde(default = "yes")]
    pub allow_guild_dms: bool,
    /// Per-guild exceptions to `allow_guild_dms`.
    #[serde(default)]
    pub guild_dm_overrides: Vec<GuildDmOverride>,
    /// Whether only friends may add the user to group DMs (on by default,
    /// as in Discord: being in the same server is not enough).
    #[serde(default = "yes")]
    pub group_dms_friends_only: bool,
}

fn yes() -> bool {
    true
}

impl Default for PrivacySettings {
    fn default() -> Self {
        PrivacySettings { allow_guild_dms: true, guild_dm_overrides: Vec::new(), group_dms_friends_only: true }
    }
}

impl PrivacySettings {
    /// Whether members of `guild` may open DMs with this user.
    pub fn allows_dms_from(&self, guild: Id) -> bool {
        self.guild_dm_overrides.iter().find(|o| o.guild_id == guild).map_or(self.allow_guild_dms, |o| o.allow_dms)
    }
}
