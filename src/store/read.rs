//! Queries. [`Read`] is implemented for read and write transactions alike, so
//! a write can check what it is about to change with the same code.

use redb::{Key, ReadTransaction, ReadableTable, TableDefinition, Value, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::tables::*;
use super::StoreError;
use crate::model::relationships::PrivacySettings;
use crate::model::relationships::{Pair, RelationshipKind};
use crate::model::{Channel, ChannelKind, Guild, Id, Invite, Member, Message, Role, TokenRecord, User, UserRecord};

/// A member as stored: the user part is joined from `USERS` on read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberRecord {
    /// Roles besides @everyone.
    pub roles: Vec<Id>,
    /// Guild nickname.
    pub nick: Option<String>,
    /// Unix milliseconds at joining.
    pub joined_at: u64,
    /// Server-muted in voice (absent in records written before voice).
    #[serde(default)]
    pub mute: bool,
    /// Server-deafened in voice.
    #[serde(default)]
    pub deaf: bool,
}

impl MemberRecord {
    /// A new member with no roles, no nickname, not muted.
    pub fn joined(joined_at: u64) -> MemberRecord {
        MemberRecord { roles: Vec::new(), nick: None, joined_at, mute: false, deaf: false }
    }
}

/// Which page of history to read.
#[derive(Debug, Clone, Copy)]
pub enum HistoryQuery {
    /// The newest messages.
    Latest,
    /// Messages older than the id, newest first.
    Before(Id),
    /// Messages newer than the id, oldest first.
    After(Id),
    /// Messages around the id (half before, the rest at and after).
    Around(Id),
}

/// Second ids of the rows of a `(id, id)`-keyed table whose first id is
/// `first`, from `start` on, at most `limit`.
fn ids_under(
    t: &impl ReadableTable<(u64, u64), ()>,
    first: Id,
    start: u64,
    limit: usize,
) -> Result<Vec<u64>, StoreError> {
    let mut ids = Vec::new();
    for row in t.range((first.0, start)..=(first.0, u64::MAX))?.take(limit) {
        ids.push(row?.0.value().1);
    }
    Ok(ids)
}

/// Rows of a `(id, id)`-keyed table whose first id is `first`.
fn count_under<V: Value + 'static>(t: &impl ReadableTable<(u64, u64), V>, first: Id) -> Result<usize, StoreError> {
    let mut n = 0;
    for row in t.range((first.0, 0)..=(first.0, u64::MAX))? {
        row?;
        n += 1;
    }
    Ok(n)
}

pub(super) fn decode<T: DeserializeOwned>(table: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    rmp_serde::from_slice(bytes).map_err(|e| StoreError::Corrupt { table, detail: e.to_string() })
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Our record types always serialize to MessagePack.
    rmp_serde::to_vec_named(value).unwrap_or_default()
}

/// Read access to every table, for read and write transactions.
pub trait Read {
    /// Open a table for reading.
    fn table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V> + '_, StoreError>;

    /// A user with their password hash.
    fn user_record(&self, id: Id) -> Result<Option<UserRecord>, StoreError> {
        let t = self.table(USERS)?;
        let v = t.get(id.0)?;
        v.map(|g| decode("users", g.value())).transpose()
    }

    /// A user's public record.
    fn user(&self, id: Id) -> Result<Option<User>, StoreError> {
        Ok(self.user_record(id)?.map(|r| r.user))
    }

    /// Look a user up by username, case-insensitively.
    fn user_id_by_name(&self, username_key: &str) -> Result<Option<Id>, StoreError> {
        let t = self.table(USERNAMES)?;
        let v = t.get(username_key)?;
        Ok(v.map(|g| Id(g.value())))
    }

    /// The login session for a token hash.
    fn token(&self, hash: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
        let t = self.table(TOKENS)?;
        let v = t.get(hash)?;
        v.map(|g| decode("tokens", g.value())).transpose()
    }

    /// A user's login sessions as (token id, token hash), oldest first.
    fn user_tokens(&self, user: Id) -> Result<Vec<(Id, Vec<u8>)>, StoreError> {
        let t = self.table(USER_TOKENS)?;
        let mut out = Vec::new();
        for row in t.range((user.0, 0)..=(user.0, u64::MAX))? {
            let (k, v) = row?;
            out.push((Id(k.value().1), v.value().to_vec()));
        }
        Ok(out)
    }

    /// A guild.
    fn guild(&self, id: Id) -> Result<Option<Guild>, StoreError> {
        let t = self.table(GUILDS)?;
        let v = t.get(id.0)?;
        v.map(|g| decode("guilds", g.value())).transpose()
    }

    /// A channel.
    fn channel(&self, id: Id) -> Result<Option<Channel>, StoreError> {
        let t = self.table(CHANNELS)?;
        let v = t.get(id.0)?;
        v.map(|g| decode("channels", g.value())).transpose()
    }

    /// A guild's channels, sorted by (position, id).
    fn guild_channels(&self, guild: Id) -> Result<Vec<Channel>, StoreError> {
        let ids = ids_under(&self.table(GUILD_CHANNELS)?, guild, 0, usize::MAX)?;
        let mut out = self.channels_of(ids)?;
        out.sort_by_key(|c| (c.position, c.id));
        Ok(out)
    }

    /// A guild's roles, @everyone first, then by position.
    fn roles(&self, guild: Id) -> Result<Vec<Role>, StoreError> {
        let t = self.table(ROLES)?;
        let mut out: Vec<Role> = Vec::new();
        for row in t.range((guild.0, 0)..=(guild.0, u64::MAX))? {
            out.push(decode("roles", row?.1.value())?);
        }
        out.sort_by_key(|r| (r.position, r.id));
        Ok(out)
    }

    /// One role.
    fn role(&self, guild: Id, role: Id) -> Result<Option<Role>, StoreError> {
        let t = self.table(ROLES)?;
        let v = t.get((guild.0, role.0))?;
        v.map(|g| decode("roles", g.value())).transpose()
    }

    /// A member record without the user part.
    fn member_record(&self, guild: Id, user: Id) -> Result<Option<MemberRecord>, StoreError> {
        let t = self.table(MEMBERS)?;
        let v = t.get((guild.0, user.0))?;
        v.map(|g| decode("members", g.value())).transpose()
    }

    /// A member with their user record.
    fn member(&self, guild: Id, user: Id) -> Result<Option<Member>, StoreError> {
        let Some(rec) = self.member_record(guild, user)? else {
            return Ok(None);
        };
        let Some(u) = self.user(user)? else {
            return Ok(None);
        };
        Ok(Some(join_member(guild, u, rec)))
    }

    /// A page of members with user id > `after`, ordered by user id.
    fn members(&self, guild: Id, after: Option<Id>, limit: usize) -> Result<Vec<Member>, StoreError> {
        let start = after.map_or(0, |a| a.0.saturating_add(1));
        let recs: Vec<(u64, MemberRecord)> = {
            let t = self.table(MEMBERS)?;
            let mut recs = Vec::new();
            if after.is_some_and(|a| a.0 == u64::MAX) {
                return Ok(Vec::new());
            }
            for row in t.range((guild.0, start)..=(guild.0, u64::MAX))?.take(limit) {
                let (k, v) = row?;
                recs.push((k.value().1, decode("members", v.value())?));
            }
            recs
        };
        let mut out = Vec::with_capacity(recs.len());
        for (uid, rec) in recs {
            if let Some(u) = self.user(Id(uid))? {
                out.push(join_member(guild, u, rec));
            }
        }
        Ok(out)
    }

    /// Number of members of a guild.
    fn member_count(&self, guild: Id) -> Result<usize, StoreError> {
        count_under(&self.table(MEMBERS)?, guild)
    }

    /// Ids of the guilds a user is in.
    fn user_guild_ids(&self, user: Id) -> Result<Vec<Id>, StoreError> {
        let t = self.table(USER_GUILDS)?;
        let mut out = Vec::new();
        for row in t.range((user.0, 0)..=(user.0, u64::MAX))? {
            out.push(Id(row?.0.value().1));
        }
        Ok(out)
    }

    /// An invite by code.
    fn invite(&self, code: &str) -> Result<Option<Invite>, StoreError> {
        let t = self.table(INVITES)?;
        let v = t.get(code)?;
        v.map(|g| decode("invites", g.value())).transpose()
    }

    /// A guild's invites.
    fn guild_invites(&self, guild: Id) -> Result<Vec<Invite>, StoreError> {
        let codes: Vec<String> = {
            let t = self.table(GUILD_INVITES)?;
            let mut codes = Vec::new();
            for row in t.range((guild.0, "")..)? {
                let (k, _) = row?;
                let (g, code) = k.value();
                if g != guild.0 {
                    break;
                }
                codes.push(code.to_string());
            }
            codes
        };
        let mut out = Vec::with_capacity(codes.len());
        for c in codes {
            if let Some(i) = self.invite(&c)? {
                out.push(i);
            }
        }
        Ok(out)
    }

    /// One message.
    fn message(&self, channel: Id, id: Id) -> Result<Option<Message>, StoreError> {
        let t = self.table(MESSAGES)?;
        let v = t.get((channel.0, id.0))?;
        v.map(|g| decode("messages", g.value())).transpose()
    }

    /// A page of history, always returned oldest first.
    fn history(&self, channel: Id, q: HistoryQuery, limit: usize) -> Result<Vec<Message>, StoreError> {
        let c = channel.0;
        let t = self.table(MESSAGES)?;
        let mut out: Vec<Message> = Vec::with_capacity(limit);
        let newest_first = |range: redb::Range<'_, (u64, u64), &[u8]>, n: usize| {
            let mut v = Vec::with_capacity(n);
            for row in range.rev().take(n) {
                v.push(decode::<Message>("messages", row?.1.value())?);
            }
            v.reverse();
            Ok::<_, StoreError>(v)
        };
        match q {
            HistoryQuery::Latest => out = newest_first(t.range((c, 0)..=(c, u64::MAX))?, limit)?,
            HistoryQuery::Before(id) => out = newest_first(t.range((c, 0)..(c, id.0))?, limit)?,
            HistoryQuery::After(id) => {
                if id.0 < u64::MAX {
                    for row in t.range((c, id.0 + 1)..=(c, u64::MAX))?.take(limit) {
                        out.push(decode("messages", row?.1.value())?);
                    }
                }
            }
            HistoryQuery::Around(id) => {
                let before = limit / 2;
                out = newest_first(t.range((c, 0)..(c, id.0))?, before)?;
                for row in t.range((c, id.0)..=(c, u64::MAX))?.take(limit - before) {
                    out.push(decode("messages", row?.1.value())?);
                }
            }
        }
        Ok(out)
    }

    /// The DM channel between two users, if one exists.
    fn dm_channel_id(&self, a: Id, b: Id) -> Result<Option<Id>, StoreError> {
        let key = if a <= b { (a.0, b.0) } else { (b.0, a.0) };
        let t = self.table(DM_PAIRS)?;
        let v = t.get(key)?;
        Ok(v.map(|g| Id(g.value())))
    }

    /// A user's DMs and group DMs.
    fn user_channels(&self, user: Id) -> Result<Vec<Channel>, StoreError> {
        self.channels_of(ids_under(&self.table(USER_CHANNELS)?, user, 0, usize::MAX)?)
    }

    /// The channels with these ids (ids of deleted channels are skipped).
    fn channels_of(&self, ids: Vec<u64>) -> Result<Vec<Channel>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = self.channel(Id(id))? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// How `user` stands with `other`, from `user`'s side.
    fn relationship(&self, user: Id, other: Id) -> Result<Option<RelationshipKind>, StoreError> {
        let t = self.table(RELATIONSHIPS)?;
        let v = t.get((user.0, other.0))?;
        Ok(v.and_then(|g| RelationshipKind::from_byte(g.value())))
    }

    /// Both users' rows about each other (`mine` is `me`'s).
    fn relationship_pair(&self, me: Id, them: Id) -> Result<Pair, StoreError> {
        Ok(Pair { mine: self.relationship(me, them)?, theirs: self.relationship(them, me)? })
    }

    /// A user's relationships as (other user, kind), ordered by the other user's id.
    fn relationships(&self, user: Id) -> Result<Vec<(Id, RelationshipKind)>, StoreError> {
        let t = self.table(RELATIONSHIPS)?;
        let mut out = Vec::new();
        for row in t.range((user.0, 0)..=(user.0, u64::MAX))? {
            let (k, v) = row?;
            if let Some(kind) = RelationshipKind::from_byte(v.value()) {
                out.push((Id(k.value().1), kind));
            }
        }
        Ok(out)
    }

    /// How many relationships a user has.
    fn relationship_count(&self, user: Id) -> Result<usize, StoreError> {
        count_under(&self.table(RELATIONSHIPS)?, user)
    }

    /// A user's privacy settings (the defaults if they never changed them).
    fn user_settings(&self, user: Id) -> Result<PrivacySettings, StoreError> {
        let t = self.table(USER_SETTINGS)?;
        let v = t.get(user.0)?;
        Ok(v.map(|g| decode("user_settings", g.value())).transpose()?.unwrap_or_default())
    }

    /// Guilds both users are members of.
    fn shared_guilds(&self, a: Id, b: Id) -> Result<Vec<Id>, StoreError> {
        let theirs = self.user_guild_ids(b)?;
        Ok(self.user_guild_ids(a)?.into_iter().filter(|g| theirs.binary_search(g).is_ok()).collect())
    }

    /// Ids of a user's DMs and group DMs, ordered by id.
    fn user_channel_ids(&self, user: Id) -> Result<Vec<Id>, StoreError> {
        let t = self.table(USER_CHANNELS)?;
        let mut ids = Vec::new();
        for row in t.range((user.0, 0)..=(user.0, u64::MAX))? {
            ids.push(Id(row?.0.value().1));
        }
        Ok(ids)
    }

    /// A page of a user's DMs and group DMs with id > `after`, ordered by id.
    fn user_channels_page(&self, user: Id, after: Option<Id>, limit: usize) -> Result<Vec<Channel>, StoreError> {
        let start = match after {
            Some(a) if a.0 == u64::MAX => return Ok(Vec::new()),
            Some(a) => a.0 + 1,
            None => 0,
        };
        self.channels_of(ids_under(&self.table(USER_CHANNELS)?, user, start, limit)?)
    }

    /// How many group DMs a user is in.
    fn group_dm_count(&self, user: Id) -> Result<usize, StoreError> {
        let mut n = 0;
        for id in self.user_channel_ids(user)? {
            if self.channel(id)?.is_some_and(|c| c.kind == ChannelKind::GroupDm) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The newest message's id in a channel.
    fn last_message_id(&self, channel: Id) -> Result<Option<Id>, StoreError> {
        let t = self.table(MESSAGES)?;
        let last = t.range((channel.0, 0)..=(channel.0, u64::MAX))?.next_back().transpose()?;
        Ok(last.map(|(k, _)| Id(k.value().1)))
    }

    /// A user's `n` most recently active DMs and group DMs (newest message,
    /// or creation for a channel without messages; newest first), and whether
    /// there are more.
    fn recent_user_channels(&self, user: Id, n: usize) -> Result<(Vec<Channel>, bool), StoreError> {
        let mut by_activity = Vec::new();
        for id in self.user_channel_ids(user)? {
            let active = self.last_message_id(id)?.map_or(id, |m| m.max(id));
            by_activity.push((active, id));
        }
        by_activity.sort_unstable_by(|a, b| b.cmp(a));
        let more = by_activity.len() > n;
        let mut out = Vec::with_capacity(n.min(by_activity.len()));
        for (_, id) in by_activity.into_iter().take(n) {
            if let Some(c) = self.channel(id)? {
                out.push(c);
            }
        }
        Ok((out, more))
    }
}

/// Combine a stored member record with its user.
pub fn join_member(guild: Id, user: User, rec: MemberRecord) -> Member {
    Member {
        guild_id: guild,
        user,
        roles: rec.roles,
        nick: rec.nick,
        joined_at: rec.joined_at,
        mute: rec.mute,
        deaf: rec.deaf,
    }
}

impl Read for ReadTransaction {
    fn table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V> + '_, StoreError> {
        Ok(self.open_table(def)?)
    }
}

impl Read for WriteTransaction {
    fn table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V> + '_, StoreError> {
        Ok(self.open_table(def)?)
    }
}
