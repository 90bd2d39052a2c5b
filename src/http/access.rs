//! Who may do what, read fresh from the store for each REST request.
//!
//! Things a caller may not see at all answer 404 (unknown_guild,
//! unknown_channel); things they can see but may not change answer 403.

use std::sync::Arc;

use crate::actors::guild::{Change, Reload};
use crate::actors::Core;
use crate::errors::AppError;
use crate::model::permissions::{self, GuildPerms, Permissions, RolePerms};
use crate::model::snapshot::role_perms;
use crate::model::{Channel, Guild, Id, Role};
use crate::store::{Read, StoreError};

/// A caller's standing in a guild.
pub struct GuildAccess {
    /// The guild.
    pub guild: Guild,
    /// Its roles.
    pub roles: Vec<Role>,
    role_perms: Vec<RolePerms>,
    /// The caller.
    pub user: Id,
    /// The caller's roles.
    pub member_roles: Vec<Id>,
    /// The caller's guild-level permissions.
    pub base: Permissions,
}

impl GuildAccess {
    /// Load; 404 unknown_guild if the guild does not exist or the caller is not a member.
    pub fn load(r: &impl Read, guild: Id, user: Id) -> Result<GuildAccess, AppError> {
        let g = r.guild(guild)?.ok_or_else(AppError::unknown_guild)?;
        let member = r.member_record(guild, user)?.ok_or_else(AppError::unknown_guild)?;
        let roles = r.roles(guild)?;
        let rp = role_perms(&roles);
        let gp = GuildPerms { guild_id: g.id, owner_id: g.owner_id, roles: &rp };
        let base = permissions::base_permissions(&gp, user, &member.roles);
        Ok(GuildAccess { guild: g, roles, role_perms: rp, user, member_roles: member.roles, base })
    }

    /// Permission inputs for the pure functions.
    pub fn perms(&self) -> GuildPerms<'_> {
        GuildPerms { guild_id: self.guild.id, owner_id: self.guild.owner_id, roles: &self.role_perms }
    }

    /// 403 unless the caller has `p` guild-wide.
    pub fn require(&self, p: Permissions) -> Result<(), AppError> {
        if self.base.contains(p) {
            Ok(())
        } else {
            Err(AppError::missing_permissions(p))
        }
    }

    /// The caller's permissions in a channel of this guild.
    pub fn in_channel(&self, c: &Channel) -> Permissions {
        permissions::channel_permissions(&self.perms(), self.user, &self.member_roles, &c.overwrites)
    }

    /// Whether the caller is the owner.
    pub fn is_owner(&self) -> bool {
        self.guild.owner_id == self.user
    }

    /// The caller's highest role position.
    pub fn highest(&self) -> i32 {
        permissions::highest_position(&self.perms(), &self.member_roles)
    }

    /// 403 hierarchy unless the caller may manage a role at `position`.
    pub fn require_above(&self, position: i32, what: &str) -> Result<(), AppError> {
        if permissions::can_manage_role(&self.perms(), self.user, &self.member_roles, position) {
            Ok(())
        } else {
            Err(AppError::hierarchy(what))
        }
    }
}

/// A channel and what the caller may do in it.
pub struct ChannelAccess {
    /// The channel.
    pub channel: Channel,
    /// The caller's permissions there.
    pub perms: Permissions,
    /// The guild standing, for guild channels.
    pub guild: Option<GuildAccess>,
}

impl ChannelAccess {
    /// Load; 404 unknown_channel if it does not exist or the caller may not view it.
    pub fn load(r: &impl Read, channel: Id, user: Id) -> Result<ChannelAccess, AppError> {
        let c = r.channel(channel)?.ok_or_else(AppError::unknown_channel)?;
        let (perms, guild) = match c.guild_id {
            Some(gid) => {
                let ga = GuildAccess::load(r, gid, user).map_err(|_| AppError::unknown_channel())?;
                (ga.in_channel(&c), Some(ga))
            }
            None if c.recipients.contains(&user) => {
                (Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES | Permissions::READ_MESSAGE_HISTORY, None)
            }
            None => (Permissions::NONE, None),
        };
        if !perms.contains(Permissions::VIEW_CHANNEL) {
            return Err(AppError::unknown_channel());
        }
        Ok(ChannelAccess { channel: c, perms, guild })
    }

    /// 403 unless the caller has `p` here.
    pub fn require(&self, p: Permissions) -> Result<(), AppError> {
        if self.perms.contains(p) {
            Ok(())
        } else {
            Err(AppError::missing_permissions(p))
        }
    }
}

/// Tell a running guild actor about a committed change and wait until it has
/// pushed the consequences (events, reader sets) — so the change is in force
/// for live sessions when the REST call returns.
pub async fn reload(core: &Arc<Core>, guild: Id, change: Change) {
    if let Some(addr) = core.registry.live_guild(guild) {
        if let Err(e) = addr.send(Reload(change)).await {
            tracing::warn!(error = %e, guild = %guild, "guild actor gone during reload");
        }
    }
}

/// A user joined a guild (or created it): start its actor if needed so that
/// the user's live sessions receive GUILD_CREATE, and tell the members.
pub async fn joined(core: &Arc<Core>, guild: Id, user: Id) -> Result<(), AppError> {
    if let Some(addr) = core.registry.guild(core, guild)? {
        addr.send(Reload(Change::Member(user))).await?;
    }
    Ok(())
}

/// Map "not found" store lookups to an error.
pub fn found<T>(v: Result<Option<T>, StoreError>, missing: fn() -> AppError) -> Result<T, AppError> {
    v?.ok_or_else(missing)
}
