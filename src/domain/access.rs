//! Who may see and do what: a caller's standing in a guild or channel, read
//! from one consistent store snapshot, and the one rule for direct messages.
//!
//! Things a caller may not see at all answer 404 (unknown_guild,
//! unknown_channel); things they can see but may not change answer 403.

use crate::errors::AppError;
use crate::model::permissions::{self, GuildPerms, Permissions, RolePerms};
use crate::model::snapshot::role_perms;
use crate::model::{Channel, Guild, Id, Role};
use crate::store::{Read, StoreError};

/// What a recipient of a DM or group DM may do in it; nothing for anyone else
/// (and nothing in guild channels, which overwrites and roles govern).
pub fn dm_permissions(channel: &Channel, user: Id) -> Permissions {
    if channel.guild_id.is_none() && channel.recipients.contains(&user) {
        Permissions::VIEW_CHANNEL
            | Permissions::SEND_MESSAGES
            | Permissions::READ_MESSAGE_HISTORY
            | Permissions::ADD_REACTIONS
            | Permissions::EMBED_LINKS
    } else {
        Permissions::NONE
    }
}

/// 404 unknown_channel unless `perms` include VIEW_CHANNEL, then 403 unless
/// they include `needed`: the order every channel action checks in.
pub fn require_in_channel(perms: Permissions, needed: Permissions) -> Result<(), AppError> {
    if !perms.contains(Permissions::VIEW_CHANNEL) {
        return Err(AppError::unknown_channel());
    }
    if !perms.contains(needed) {
        return Err(AppError::missing_permissions(needed));
    }
    Ok(())
}

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

    /// Whether the caller may see a channel of this guild.
    pub fn can_view(&self, c: &Channel) -> bool {
        self.in_channel(c).contains(Permissions::VIEW_CHANNEL)
    }

    /// Whether the caller is the owner.
    pub fn is_owner(&self) -> bool {
        self.guild.owner_id == self.user
    }

    /// 403 hierarchy unless the caller may manage a role at `position`.
    pub fn require_above(&self, position: i32, what: &str) -> Result<(), AppError> {
        if permissions::can_manage_role(&self.perms(), self.user, &self.member_roles, position) {
            Ok(())
        } else {
            Err(AppError::hierarchy(what))
        }
    }

    /// 403 hierarchy unless the caller may act on member `target` holding `roles`.
    pub fn require_over_member(&self, target: Id, roles: &[Id]) -> Result<(), AppError> {
        if permissions::can_manage_member(&self.perms(), self.user, &self.member_roles, target, roles) {
            Ok(())
        } else {
            Err(AppError::hierarchy("that member"))
        }
    }

    /// 403 missing_permissions unless every bit of `p` is one the caller holds
    /// guild-wide: nobody grants, allows or denies what they do not have.
    pub fn require_grantable(&self, p: Permissions, verb: &str) -> Result<(), AppError> {
        let extra = Permissions(p.bits() & !self.base.bits());
        if extra.is_empty() {
            Ok(())
        } else {
            Err(AppError::missing_permissions_msg(format!(
                "cannot {verb} permissions you do not have: {}",
                extra.names().join(", ")
            )))
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
            None => (dm_permissions(&c, user), None),
        };
        require_in_channel(perms, Permissions::NONE)?;
        Ok(ChannelAccess { channel: c, perms, guild })
    }

    /// 403 unless the caller has `p` here.
    pub fn require(&self, p: Permissions) -> Result<(), AppError> {
        require_in_channel(self.perms, p)
    }

    /// The guild standing; 400 for DMs, which have no guild.
    pub fn into_guild(self, what: &str) -> Result<(Channel, Permissions, GuildAccess), AppError> {
        match self.guild {
            Some(ga) => Ok((self.channel, self.perms, ga)),
            None => Err(AppError::invalid(format!("DMs have no {what}"))),
        }
    }
}

/// Map "not found" store lookups to an error.
pub fn found<T>(v: Result<Option<T>, StoreError>, missing: fn() -> AppError) -> Result<T, AppError> {
    v?.ok_or_else(missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChannelKind;

    fn dm(recipients: Vec<Id>) -> Channel {
        Channel { recipients, ..Channel::new(Id(10), ChannelKind::GroupDm, None, None) }
    }

    #[test]
    fn only_recipients_see_a_dm() {
        let c = dm(vec![Id(1), Id(2)]);
        assert!(dm_permissions(&c, Id(1)).contains(Permissions::SEND_MESSAGES));
        assert_eq!(dm_permissions(&c, Id(3)), Permissions::NONE);
        let mut g = c.clone();
        g.guild_id = Some(Id(5));
        assert_eq!(dm_permissions(&g, Id(1)), Permissions::NONE, "guild channels follow roles, not recipients");
    }

    #[test]
    fn hidden_is_404_and_visible_without_the_bit_is_403() {
        assert_eq!(require_in_channel(Permissions::NONE, Permissions::SEND_MESSAGES).unwrap_err().status, 404);
        let e = require_in_channel(Permissions::VIEW_CHANNEL, Permissions::SEND_MESSAGES).unwrap_err();
        assert_eq!(e.status, 403);
        assert!(require_in_channel(Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES, Permissions::SEND_MESSAGES)
            .is_ok());
    }
}
