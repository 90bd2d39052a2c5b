//! Mutations, as an extension of the write transaction. Each keeps its
//! secondary indexes in step with the primary record.

use redb::{ReadableTable, WriteTransaction};

use super::read::{encode, MemberRecord};
use super::tables::*;
use super::StoreError;
use crate::model::relationships::PrivacySettings;
use crate::model::relationships::RelationshipKind;
use crate::model::{Channel, Guild, Id, Invite, Message, Role, TokenRecord, UserRecord};

pub(super) fn id_high_water(txn: &WriteTransaction) -> Result<u64, StoreError> {
    let t = txn.open_table(META)?;
    let v = t.get("id_high_water")?.map(|g| g.value());
    Ok(v.unwrap_or(0))
}

pub(super) fn set_id_high_water(txn: &WriteTransaction, v: u64) -> Result<(), StoreError> {
    let mut t = txn.open_table(META)?;
    let cur = t.get("id_high_water")?.map(|g| g.value()).unwrap_or(0);
    if v > cur {
        t.insert("id_high_water", v)?;
    }
    Ok(())
}

fn all_of(id: Id) -> std::ops::RangeInclusive<(u64, u64)> {
    (id.0, 0)..=(id.0, u64::MAX)
}

/// Writes, for the write transaction handed to `Store::write`.
pub trait Write {
    /// Insert or replace a user (and claim its username key).
    fn put_user(&self, rec: &UserRecord, username_key: &str) -> Result<(), StoreError>;
    /// Store a login session under its token hash.
    fn put_token(&self, hash: &[u8], rec: &TokenRecord) -> Result<(), StoreError>;
    /// Revoke a login session.
    fn delete_token(&self, user: Id, token_id: Id, hash: &[u8]) -> Result<(), StoreError>;
    /// Insert or replace a guild.
    fn put_guild(&self, g: &Guild) -> Result<(), StoreError>;
    /// Delete a guild with its channels, messages, roles, members and invites.
    fn delete_guild(&self, g: Id) -> Result<(), StoreError>;
    /// Insert or replace a channel (guild index included).
    fn put_channel(&self, c: &Channel) -> Result<(), StoreError>;
    /// Delete a channel and its messages.
    fn delete_channel(&self, c: &Channel) -> Result<(), StoreError>;
    /// Insert or replace a role.
    fn put_role(&self, r: &Role) -> Result<(), StoreError>;
    /// Delete a role and take it from every member who had it.
    fn delete_role(&self, guild: Id, role: Id) -> Result<(), StoreError>;
    /// Insert or replace a member.
    fn put_member(&self, guild: Id, user: Id, rec: &MemberRecord) -> Result<(), StoreError>;
    /// Remove a member.
    fn delete_member(&self, guild: Id, user: Id) -> Result<(), StoreError>;
    /// Insert or replace an invite.
    fn put_invite(&self, i: &Invite) -> Result<(), StoreError>;
    /// Delete an invite.
    fn delete_invite(&self, guild: Id, code: &str) -> Result<(), StoreError>;
    /// Remove the overwrites for `target` (a role or member that is gone) from the guild's channels.
    fn strip_overwrites(&self, guild: Id, target: Id) -> Result<(), StoreError>;
    /// Append a message.
    fn put_message(&self, m: &Message) -> Result<(), StoreError>;
    /// Record the DM channel of a pair of users.
    fn put_dm_pair(&self, a: Id, b: Id, channel: Id) -> Result<(), StoreError>;
    /// List a DM/group DM under a user.
    fn add_user_channel(&self, user: Id, channel: Id) -> Result<(), StoreError>;
    /// Remove a DM/group DM from a user's list.
    fn remove_user_channel(&self, user: Id, channel: Id) -> Result<(), StoreError>;
    /// Set (or with None, delete) how `user` stands with `other`.
    fn set_relationship(&self, user: Id, other: Id, kind: Option<RelationshipKind>) -> Result<(), StoreError>;
    /// Delete every relationship row by or about a user (the user is being deleted).
    fn clear_relationships(&self, user: Id) -> Result<(), StoreError>;
    /// Store a user's privacy settings.
    fn put_user_settings(&self, user: Id, s: &PrivacySettings) -> Result<(), StoreError>;
    /// Record `value` (a timestamp) under the META key `readyz_probe`: the
    /// cheap write `/readyz` commits to prove the store is writable.
    fn readyz_probe(&self, value: u64) -> Result<(), StoreError>;
}

impl Write for WriteTransaction {
    fn put_user(&self, rec: &UserRecord, username_key: &str) -> Result<(), StoreError> {
        self.open_table(USERS)?.insert(rec.user.id.0, encode(rec).as_slice())?;
        self.open_table(USERNAMES)?.insert(username_key, rec.user.id.0)?;
        Ok(())
    }

    fn put_token(&self, hash: &[u8], rec: &TokenRecord) -> Result<(), StoreError> {
        self.open_table(TOKENS)?.insert(hash, encode(rec).as_slice())?;
        self.open_table(USER_TOKENS)?.insert((rec.user_id.0, rec.id.0), hash)?;
        Ok(())
    }

    fn delete_token(&self, user: Id, token_id: Id, hash: &[u8]) -> Result<(), StoreError> {
        self.open_table(TOKENS)?.remove(hash)?;
        self.open_table(USER_TOKENS)?.remove((user.0, token_id.0))?;
        Ok(())
    }

    fn put_guild(&self, g: &Guild) -> Result<(), StoreError> {
        self.open_table(GUILDS)?.insert(g.id.0, encode(g).as_slice())?;
        Ok(())
    }

    fn delete_guild(&self, g: Id) -> Result<(), StoreError> {
        use super::read::Read;
        for c in self.guild_channels(g)? {
            self.delete_channel(&c)?;
        }
        let members: Vec<u64> = {
            let t = self.open_table(MEMBERS)?;
            let mut v = Vec::new();
            for row in t.range(all_of(g))? {
                v.push(row?.0.value().1);
            }
            v
        };
        for u in members {
            self.delete_member(g, Id(u))?;
        }
        for inv in self.guild_invites(g)? {
            self.delete_invite(g, &inv.code)?;
        }
        self.open_table(ROLES)?.retain_in(all_of(g), |_, _| false)?;
        self.open_table(GUILD_EMOJIS)?.retain_in(all_of(g), |_, _| false)?;
        self.open_table(GUILDS)?.remove(g.0)?;
        Ok(())
    }

    fn put_channel(&self, c: &Channel) -> Result<(), StoreError> {
        self.open_table(CHANNELS)?.insert(c.id.0, encode(c).as_slice())?;
        if let Some(g) = c.guild_id {
            self.open_table(GUILD_CHANNELS)?.insert((g.0, c.id.0), ())?;
        }
        Ok(())
    }

    fn delete_channel(&self, c: &Channel) -> Result<(), StoreError> {
        use super::read::Read;
        if let Some(g) = c.guild_id {
            for inv in self.guild_invites(g)?.into_iter().filter(|i| i.channel_id == c.id) {
                self.delete_invite(g, &inv.code)?;
            }
        }
        self.open_table(CHANNELS)?.remove(c.id.0)?;
        if let Some(g) = c.guild_id {
            self.open_table(GUILD_CHANNELS)?.remove((g.0, c.id.0))?;
        }
        self.open_table(MESSAGES)?.retain_in(all_of(c.id), |_, _| false)?;
        super::messages::MessageWrite::delete_channel_extras(self, c.id)?;
        Ok(())
    }

    fn put_role(&self, r: &Role) -> Result<(), StoreError> {
        self.open_table(ROLES)?.insert((r.guild_id.0, r.id.0), encode(r).as_slice())?;
        Ok(())
    }

    fn delete_role(&self, guild: Id, role: Id) -> Result<(), StoreError> {
        self.open_table(ROLES)?.remove((guild.0, role.0))?;
        self.strip_overwrites(guild, role)?;
        let holders: Vec<(u64, MemberRecord)> = {
            let t = self.open_table(MEMBERS)?;
            let mut v = Vec::new();
            for row in t.range(all_of(guild))? {
                let (k, val) = row?;
                let rec: MemberRecord = super::read::decode("members", val.value())?;
                if rec.roles.contains(&role) {
                    v.push((k.value().1, rec));
                }
            }
            v
        };
        for (user, mut rec) in holders {
            rec.roles.retain(|r| *r != role);
            self.put_member(guild, Id(user), &rec)?;
        }
        Ok(())
    }

    fn put_member(&self, guild: Id, user: Id, rec: &MemberRecord) -> Result<(), StoreError> {
        self.open_table(MEMBERS)?.insert((guild.0, user.0), encode(rec).as_slice())?;
        self.open_table(USER_GUILDS)?.insert((user.0, guild.0), ())?;
        Ok(())
    }

    fn delete_member(&self, guild: Id, user: Id) -> Result<(), StoreError> {
        self.open_table(MEMBERS)?.remove((guild.0, user.0))?;
        self.strip_overwrites(guild, user)?;
        self.open_table(USER_GUILDS)?.remove((user.0, guild.0))?;
        Ok(())
    }

    fn put_invite(&self, i: &Invite) -> Result<(), StoreError> {
        self.open_table(INVITES)?.insert(i.code.as_str(), encode(i).as_slice())?;
        self.open_table(GUILD_INVITES)?.insert((i.guild_id.0, i.code.as_str()), ())?;
        Ok(())
    }

    fn delete_invite(&self, guild: Id, code: &str) -> Result<(), StoreError> {
        self.open_table(INVITES)?.remove(code)?;
        self.open_table(GUILD_INVITES)?.remove((guild.0, code))?;
        Ok(())
    }

    fn strip_overwrites(&self, guild: Id, target: Id) -> Result<(), StoreError> {
        use super::read::Read;
        for mut c in self.guild_channels(guild)? {
            let before = c.overwrites.len();
            c.overwrites.retain(|o| o.id != target);
            if c.overwrites.len() != before {
                self.put_channel(&c)?;
            }
        }
        Ok(())
    }

    fn put_message(&self, m: &Message) -> Result<(), StoreError> {
        self.open_table(MESSAGES)?.insert((m.channel_id.0, m.id.0), encode(m).as_slice())?;
        Ok(())
    }

    fn put_dm_pair(&self, a: Id, b: Id, channel: Id) -> Result<(), StoreError> {
        let key = if a <= b { (a.0, b.0) } else { (b.0, a.0) };
        self.open_table(DM_PAIRS)?.insert(key, channel.0)?;
        Ok(())
    }

    fn add_user_channel(&self, user: Id, channel: Id) -> Result<(), StoreError> {
        self.open_table(USER_CHANNELS)?.insert((user.0, channel.0), ())?;
        Ok(())
    }

    fn remove_user_channel(&self, user: Id, channel: Id) -> Result<(), StoreError> {
        self.open_table(USER_CHANNELS)?.remove((user.0, channel.0))?;
        Ok(())
    }

    fn set_relationship(&self, user: Id, other: Id, kind: Option<RelationshipKind>) -> Result<(), StoreError> {
        let mut t = self.open_table(RELATIONSHIPS)?;
        match kind {
            Some(k) => t.insert((user.0, other.0), k.to_byte())?,
            None => t.remove((user.0, other.0))?,
        };
        Ok(())
    }

    fn clear_relationships(&self, user: Id) -> Result<(), StoreError> {
        self.open_table(RELATIONSHIPS)?.retain(|(a, b), _| a != user.0 && b != user.0)?;
        self.open_table(USER_SETTINGS)?.remove(user.0)?;
        Ok(())
    }

    fn put_user_settings(&self, user: Id, s: &PrivacySettings) -> Result<(), StoreError> {
        self.open_table(USER_SETTINGS)?.insert(user.0, encode(s).as_slice())?;
        Ok(())
    }

    fn readyz_probe(&self, value: u64) -> Result<(), StoreError> {
        self.open_table(META)?.insert("readyz_probe", value)?;
        Ok(())
    }
}
