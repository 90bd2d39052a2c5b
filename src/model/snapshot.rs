//! A guild's state as the actors hold it, with the questions asked of it:
//! who is a member, what may a member do, which channels may they see.

use std::collections::{BTreeSet, HashMap};

use super::permissions::{self, GuildPerms, Permissions, RolePerms};
use super::{Channel, Guild, Id, Role};

/// What the guild knows about a member (roles are all that permissions need).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRoles {
    /// Roles besides @everyone.
    pub roles: Vec<Id>,
}

/// An immutable picture of a guild, shared by its guild actor and channel actors.
#[derive(Debug, Clone)]
pub struct GuildSnapshot {
    /// The guild record.
    pub guild: Guild,
    /// Roles, @everyone first, then by position.
    pub roles: Vec<Role>,
    /// Channels by (position, id).
    pub channels: Vec<Channel>,
    /// Members by user id.
    pub members: HashMap<Id, MemberRoles>,
    role_perms: Vec<RolePerms>,
}

impl GuildSnapshot {
    /// Build a snapshot.
    pub fn new(guild: Guild, roles: Vec<Role>, mut channels: Vec<Channel>, members: HashMap<Id, MemberRoles>) -> Self {
        channels.sort_by_key(|c| (c.position, c.id));
        let role_perms = role_perms(&roles);
        GuildSnapshot { guild, roles, channels, members, role_perms }
    }

    /// Replace the roles (keeps the permission table in step).
    pub fn set_roles(&mut self, mut roles: Vec<Role>) {
        roles.sort_by_key(|r| (r.position, r.id));
        self.role_perms = role_perms(&roles);
        self.roles = roles;
    }

    /// Insert or replace a channel, keeping the order.
    pub fn upsert_channel(&mut self, c: Channel) {
        self.channels.retain(|x| x.id != c.id);
        self.channels.push(c);
        self.channels.sort_by_key(|c| (c.position, c.id));
    }

    /// The permission inputs for the pure functions.
    pub fn perms(&self) -> GuildPerms<'_> {
        GuildPerms { guild_id: self.guild.id, owner_id: self.guild.owner_id, roles: &self.role_perms }
    }

    /// A channel by id.
    pub fn channel(&self, id: Id) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// Guild-level permissions of a user (NONE if not a member).
    pub fn base_permissions(&self, user: Id) -> Permissions {
        match self.members.get(&user) {
            Some(m) => permissions::base_permissions(&self.perms(), user, &m.roles),
            None => Permissions::NONE,
        }
    }

    /// Permissions of a user in one channel (NONE if not a member or no such channel).
    pub fn channel_permissions(&self, user: Id, channel: &Channel) -> Permissions {
        match self.members.get(&user) {
            Some(m) => permissions::channel_permissions(&self.perms(), user, &m.roles, &channel.overwrites),
            None => Permissions::NONE,
        }
    }

    /// Whether a user may see a channel.
    pub fn can_view(&self, user: Id, channel: &Channel) -> bool {
        self.channel_permissions(user, channel).contains(Permissions::VIEW_CHANNEL)
    }

    /// The channels a user may see.
    pub fn visible_channels(&self, user: Id) -> BTreeSet<Id> {
        self.channels.iter().filter(|c| self.can_view(user, c)).map(|c| c.id).collect()
    }
}

/// Permission table for roles.
pub fn role_perms(roles: &[Role]) -> Vec<RolePerms> {
    roles.iter().map(|r| RolePerms { id: r.id, position: r.position, permissions: r.permissions }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::permissions::{Overwrite, OverwriteKind};
    use crate::model::ChannelKind;

    fn snapshot() -> GuildSnapshot {
        let g = Guild { id: Id(1), name: "g".into(), owner_id: Id(10), created_at: 0 };
        let everyone = Role::everyone(Id(1));
        let public = Channel::new(Id(100), ChannelKind::Text, Some(Id(1)), Some("public".into()));
        let mut secret = public.clone();
        secret.id = Id(101);
        secret.overwrites = vec![Overwrite {
            id: Id(1),
            kind: OverwriteKind::Role,
            allow: Permissions::NONE,
            deny: Permissions::VIEW_CHANNEL,
        }];
        let members =
            [(Id(10), vec![]), (Id(11), vec![])].into_iter().map(|(u, roles)| (u, MemberRoles { roles })).collect();
        GuildSnapshot::new(g, vec![everyone], vec![secret, public], members)
    }

    #[test]
    fn visibility_follows_overwrites_owner_and_membership() {
        let s = snapshot();
        assert_eq!(s.visible_channels(Id(10)).len(), 2, "owner sees all");
        assert_eq!(s.visible_channels(Id(11)).into_iter().collect::<Vec<_>>(), vec![Id(100)]);
        assert!(s.visible_channels(Id(12)).is_empty(), "non-member sees nothing");
        assert_eq!(s.base_permissions(Id(12)), Permissions::NONE);
    }
}
