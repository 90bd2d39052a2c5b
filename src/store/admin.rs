//! Operator commands on a stopped server's database (`hearth admin`, see
//! docs/operations.md): users, guilds, compaction and statistics.
//!
//! [`AdminDb::open`] opens the data dir's database exclusively; redb lets only
//! one process open a file, so it fails with [`AdminError::InUse`] while a
//! server runs. Every change is one redb write transaction, committed with
//! redb's default (immediate, fsynced) durability before the call returns.

use std::path::{Path, PathBuf};

use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::Serialize;

use super::read::decode;
use super::tables::*;
use super::{Read, StoreError, Write, DB_FILE, SCHEMA_VERSION};
use crate::model::ids::IdGenerator;
use crate::model::{validate, Guild, Id, User, UserRecord};

/// What can go wrong; [`AdminError::is_usage`] tells data-dir problems apart.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The data dir does not exist.
    #[error("the data dir {0} does not exist (pass --data DIR or set HEARTH_DATA)")]
    NoDataDir(PathBuf),
    /// The data dir has no database.
    #[error("no database at {0}: is this the server's data dir? (pass --data DIR or set HEARTH_DATA)")]
    NoDatabase(PathBuf),
    /// A running server holds the database.
    #[error("the data dir {0} is in use by a running server (stop it first: systemctl stop hearth)")]
    InUse(PathBuf),
    /// redb or a record failed.
    #[error("{path}: {source}")]
    Store {
        /// The database file.
        path: PathBuf,
        /// What failed.
        source: StoreError,
    },
    /// The operation is refused (unknown user, name taken, ...).
    #[error("{0}")]
    Refused(String),
}

impl AdminError {
    /// A data-dir problem (exit code 2) rather than a failed operation (1).
    pub fn is_usage(&self) -> bool {
        matches!(self, AdminError::NoDataDir(_) | AdminError::NoDatabase(_) | AdminError::InUse(_))
    }
}

type Result<T> = std::result::Result<T, AdminError>;

/// One user, as `hearth admin users` lists them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserRow {
    /// The public record.
    #[serde(flatten)]
    pub user: User,
    /// Server administrator.
    pub admin: bool,
    /// Disabled.
    pub disabled: bool,
    /// Guilds they are a member of.
    pub guilds: usize,
}

/// One guild, as `hearth admin guilds` lists them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GuildRow {
    /// The guild.
    #[serde(flatten)]
    pub guild: Guild,
    /// The owner's username (None if the owner is gone).
    pub owner: Option<String>,
    /// Members.
    pub members: usize,
    /// Channels.
    pub channels: usize,
}

/// `hearth admin stats`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Stats {
    /// Users.
    pub users: u64,
    /// Guilds.
    pub guilds: u64,
    /// Channels (guild channels and DMs).
    pub channels: u64,
    /// Messages.
    pub messages: u64,
    /// Login sessions (bearer tokens).
    pub tokens: u64,
    /// Size of hearth.redb in bytes.
    pub database_bytes: u64,
    /// Schema version in the file.
    pub schema_version: u64,
}

/// What `create_admin` did.
#[derive(Debug, Clone, PartialEq)]
pub enum CreatedAdmin {
    /// A new user.
    Created(User),
    /// An existing user was made an admin (`--promote`).
    Promoted(User),
}

/// What `delete_user` removed.
#[derive(Debug, Clone, PartialEq)]
pub struct DeletedUser {
    /// The user.
    pub user: User,
    /// Login sessions revoked.
    pub tokens: usize,
    /// Guild memberships removed.
    pub memberships: usize,
    /// Owned guilds deleted (with `delete_owned_guilds`).
    pub guilds_deleted: Vec<Guild>,
}

/// The database of a stopped server, opened exclusively.
pub struct AdminDb {
    db: Database,
    path: PathBuf,
    ids: IdGenerator,
}

impl AdminDb {
    /// Open `data_dir/hearth.redb`; never creates anything.
    pub fn open(data_dir: &Path) -> Result<AdminDb> {
        if !data_dir.is_dir() {
            return Err(AdminError::NoDataDir(data_dir.to_path_buf()));
        }
        let path = data_dir.join(DB_FILE);
        if !path.is_file() {
            return Err(AdminError::NoDatabase(path));
        }
        let db = match super::job_builder().open(&path) {
            Ok(db) => db,
            Err(DatabaseError::DatabaseAlreadyOpen) => return Err(AdminError::InUse(data_dir.to_path_buf())),
            Err(e) => return Err(AdminError::Store { path, source: StoreError::Db(e.into()) }),
        };
        let admin = AdminDb { db, path, ids: IdGenerator::new(0) };
        let (version, high) = admin.read(|r| {
            let meta = match r.open_table(META) {
                Ok(t) => t,
                // A file the server created but never got to migrate.
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok((None, 0)),
                Err(e) => return Err(StoreError::from(e).into()),
            };
            let version = meta.get("schema_version")?.map(|g| g.value());
            let high = meta.get("id_high_water")?.map(|g| g.value());
            Ok((version, high.unwrap_or(0)))
        })?;
        // The server's migration, but only when one is due: read-only
        // commands (stats right after compact) leave the file untouched.
        if version != Some(SCHEMA_VERSION) {
            admin.write(|txn| {
                super::tables::migrate(txn)?;
                Ok(())
            })?;
        }
        admin.ids.advance_past(Id(high));
        Ok(admin)
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn store_err(&self, source: StoreError) -> AdminError {
        AdminError::Store { path: self.path.clone(), source }
    }

    fn read<T>(&self, f: impl FnOnce(&redb::ReadTransaction) -> Result<T>) -> Result<T> {
        let txn = self.db.begin_read().map_err(|e| self.store_err(StoreError::Db(e.into())))?;
        f(&txn).map_err(|e| self.with_path(e))
    }

    /// Name the real database file in errors converted without it.
    fn with_path(&self, e: AdminError) -> AdminError {
        match e {
            AdminError::Store { source, .. } => self.store_err(source),
            other => other,
        }
    }

    /// Run `f` in one write transaction; committed (durably) only if it succeeds.
    fn write<T>(&self, f: impl FnOnce(&WriteTransaction) -> Result<T>) -> Result<T> {
        let txn = self.db.begin_write().map_err(|e| self.store_err(e.into()))?;
        let out = f(&txn).map_err(|e| self.with_path(e))?;
        super::write::set_id_high_water(&txn, self.ids.high_water().0).map_err(|e| self.store_err(e))?;
        txn.commit().map_err(|e| self.store_err(e.into()))?;
        Ok(out)
    }

    /// Create the admin `username` with `password_hash`, or with `promote`
    /// make an existing user an admin (the password is then unchanged). A
    /// new user needs a password hash.
    pub fn create_admin(&self, username: &str, password_hash: Option<String>, promote: bool) -> Result<CreatedAdmin> {
        let username = validate::username(username).map_err(|e| AdminError::Refused(e.to_string()))?;
        let key = validate::username_key(&username);
        self.write(|w| match w.user_id_by_name(&key)? {
            Some(id) if promote => {
                let mut rec = w.user_record(id)?.ok_or_else(|| refused_unknown(&username))?;
                rec.admin = true;
                w.put_user(&rec, &key)?;
                Ok(CreatedAdmin::Promoted(rec.user))
            }
            Some(_) => Err(AdminError::Refused(format!(
                "the username {username:?} is taken; pass --promote to make that user an admin"
            ))),
            None => {
                let password_hash = password_hash.ok_or_else(|| {
                    AdminError::Refused(format!(
                        "there is no user {username:?} to promote; to create one, pass --password-stdin"
                    ))
                })?;
                let id = self.ids.next();
                let user = User { id, username: username.clone(), display_name: None, created_at: id.timestamp_ms() };
                let rec = UserRecord { user: user.clone(), password_hash, admin: true, disabled: false };
                w.put_user(&rec, &key)?;
                Ok(CreatedAdmin::Created(user))
            }
        })
    }

    /// Replace a user's password hash and revoke all their login sessions;
    /// returns the user and how many sessions were revoked.
    pub fn set_password(&self, username: &str, password_hash: String) -> Result<(User, usize)> {
        self.write(|w| {
            let mut rec = user_by_name(w, username)?;
            rec.password_hash = password_hash;
            w.put_user(&rec, &validate::username_key(&rec.user.username))?;
            let n = revoke_all(w, rec.user.id)?;
            Ok((rec.user, n))
        })
    }

    /// Disable (revoking every login session) or enable a user; returns the
    /// user and how many sessions were revoked.
    pub fn set_disabled(&self, username: &str, disabled: bool) -> Result<(User, usize)> {
        self.write(|w| {
            let mut rec = user_by_name(w, username)?;
            rec.disabled = disabled;
            w.put_user(&rec, &validate::username_key(&rec.user.username))?;
            let n = if disabled { revoke_all(w, rec.user.id)? } else { 0 };
            Ok((rec.user, n))
        })
    }

    /// Every user, by id.
    pub fn users(&self) -> Result<Vec<UserRow>> {
        self.read(|r| {
            let mut out = Vec::new();
            let t = r.table(USERS)?;
            for row in t.iter().map_err(StoreError::from)? {
                let (_, v) = row.map_err(StoreError::from)?;
                let rec: UserRecord = decode("users", v.value())?;
                let guilds = r.user_guild_ids(rec.user.id)?.len();
                out.push(UserRow { user: rec.user, admin: rec.admin, disabled: rec.disabled, guilds });
            }
            Ok(out)
        })
    }

    /// Every guild, by id.
    pub fn guilds(&self) -> Result<Vec<GuildRow>> {
        self.read(|r| {
            let mut out = Vec::new();
            for guild in all_guilds(r)? {
                let owner = r.user(guild.owner_id)?.map(|u| u.username);
                let members = r.member_count(guild.id)?;
                let channels = r.guild_channels(guild.id)?.len();
                out.push(GuildRow { guild, owner, members, channels });
            }
            Ok(out)
        })
    }

    /// Delete a user: their login sessions, memberships and DM listings; their
    /// messages stay. Guilds they own are deleted with `delete_owned_guilds`,
    /// otherwise they make this fail.
    pub fn delete_user(&self, username: &str, delete_owned_guilds: bool) -> Result<DeletedUser> {
        self.write(|w| {
            let rec = user_by_name(w, username)?;
            let uid = rec.user.id;
            let owned: Vec<Guild> = all_guilds(w)?.into_iter().filter(|g| g.owner_id == uid).collect();
            if !owned.is_empty() && !delete_owned_guilds {
                let list: Vec<String> = owned.iter().map(|g| format!("{} ({})", g.id, g.name)).collect();
                return Err(AdminError::Refused(format!(
                    "{} owns {} guild(s): {}; delete them first (`hearth admin delete-guild ID --yes`) \
                     or pass --delete-owned-guilds",
                    rec.user.username,
                    owned.len(),
                    list.join(", ")
                )));
            }
            for g in &owned {
                w.delete_guild(g.id)?;
            }
            let tokens = revoke_all(w, uid)?;
            let guilds = w.user_guild_ids(uid)?;
            for g in &guilds {
                w.delete_member(*g, uid)?;
            }
            let channels: Vec<Id> = w.user_channels(uid)?.into_iter().map(|c| c.id).collect();
            for c in channels {
                w.remove_user_channel(uid, c)?;
            }
            w.clear_relationships(uid)?;
            w.open_table(DM_PAIRS)
                .map_err(StoreError::from)?
                .retain(|(a, b), _| a != uid.0 && b != uid.0)
                .map_err(StoreError::from)?;
            w.open_table(USERS).map_err(StoreError::from)?.remove(uid.0).map_err(StoreError::from)?;
            let key = validate::username_key(&rec.user.username);
            w.open_table(USERNAMES).map_err(StoreError::from)?.remove(key.as_str()).map_err(StoreError::from)?;
            Ok(DeletedUser { user: rec.user, tokens, memberships: guilds.len(), guilds_deleted: owned })
        })
    }

    /// Delete a guild with its channels, messages, roles, members and invites.
    pub fn delete_guild(&self, id: Id) -> Result<Guild> {
        self.write(|w| {
            let g = w.guild(id)?.ok_or_else(|| AdminError::Refused(format!("no guild with id {id}")))?;
            w.delete_guild(id)?;
            Ok(g)
        })
    }

    /// Compact the file and close it; returns its size before and after
    /// (closed, as the server will find it), in bytes.
    pub fn compact(mut self) -> Result<(u64, u64)> {
        let before = self.file_size()?;
        self.db.compact().map_err(|e| self.store_err(StoreError::Db(e.into())))?;
        let path = self.path.clone();
        // Closing writes redb's shutdown state, which takes some room too:
        // measure the closed file, as the server will find it.
        drop(self);
        let after = std::fs::metadata(&path).map(|m| m.len()).map_err(|source| AdminError::Store {
            path: path.clone(),
            source: StoreError::DataDir { path: path.clone(), source },
        })?;
        Ok((before, after))
    }

    fn file_size(&self) -> Result<u64> {
        std::fs::metadata(&self.path)
            .map(|m| m.len())
            .map_err(|e| self.store_err(StoreError::DataDir { path: self.path.clone(), source: e }))
    }

    /// Row counts, file size and schema version.
    pub fn stats(&self) -> Result<Stats> {
        let database_bytes = self.file_size()?;
        self.read(|r| {
            let count = |n: std::result::Result<u64, redb::StorageError>| n.map_err(StoreError::from);
            let schema_version = r.table(META)?.get("schema_version")?.map_or(0, |g| g.value());
            Ok(Stats {
                users: count(r.table(USERS)?.len())?,
                guilds: count(r.table(GUILDS)?.len())?,
                channels: count(r.table(CHANNELS)?.len())?,
                messages: count(r.table(MESSAGES)?.len())?,
                tokens: count(r.table(TOKENS)?.len())?,
                database_bytes,
                schema_version,
            })
        })
    }
}

impl From<StoreError> for AdminError {
    fn from(source: StoreError) -> Self {
        // AdminDb::read and AdminDb::write put in the real path.
        AdminError::Store { path: PathBuf::from(DB_FILE), source }
    }
}

impl From<redb::StorageError> for AdminError {
    fn from(e: redb::StorageError) -> Self {
        StoreError::from(e).into()
    }
}

fn refused_unknown(username: &str) -> AdminError {
    AdminError::Refused(format!("no user named {username:?}"))
}

fn user_by_name(r: &impl Read, username: &str) -> Result<UserRecord> {
    let id = r.user_id_by_name(&validate::username_key(username))?.ok_or_else(|| refused_unknown(username))?;
    r.user_record(id)?.ok_or_else(|| refused_unknown(username))
}

fn all_guilds(r: &impl Read) -> Result<Vec<Guild>> {
    let t = r.table(GUILDS)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        out.push(decode("guilds", row?.1.value())?);
    }
    Ok(out)
}

fn revoke_all(w: &WriteTransaction, user: Id) -> Result<usize> {
    let tokens = w.user_tokens(user)?;
    for (id, hash) in &tokens {
        w.delete_token(user, *id, hash)?;
    }
    Ok(tokens.len())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Channel, ChannelKind, Message, TokenRecord};
    use crate::store::{MemberRecord, Store};

    /// A data dir with alice (owner of "Den", one message in it, one token)
    /// and bob (member of Den, one token, a DM with alice).
    fn seeded() -> (tempfile::TempDir, Guild) {
        let tmp = tempfile::tempdir().unwrap();
        let ids = Arc::new(IdGenerator::new(0));
        let store = Store::open(tmp.path(), ids.clone()).unwrap();
        let user = |name: &str| {
            let id = ids.next();
            UserRecord {
                user: User { id, username: name.into(), display_name: None, created_at: 1 },
                password_hash: "$argon2id$old".into(),
                admin: false,
                disabled: false,
            }
        };
        let (alice, bob) = (user("Alice"), user("bob"));
        let guild = Guild { id: ids.next(), name: "Den".into(), owner_id: alice.user.id, created_at: 1 };
        let chan = |id: Id, kind, guild_id| Channel::new(id, kind, guild_id, None);
        let general = chan(ids.next(), ChannelKind::Text, Some(guild.id));
        let dm = chan(ids.next(), ChannelKind::Dm, None);
        let mut msg = Message::new(ids.next(), general.id, Some(guild.id), (&alice.user).into(), "hello".into());
        msg.created_at = 1;
        let (g, a, b) = (guild.clone(), alice.clone(), bob.clone());
        let (t1, t2) = (ids.next(), ids.next());
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(store.write(move |w| -> std::result::Result<(), StoreError> {
            w.put_user(&a, "alice")?;
            w.put_user(&b, "bob")?;
            w.put_guild(&g)?;
            w.put_channel(&general)?;
            w.put_channel(&dm)?;
            w.put_message(&msg)?;
            let m = MemberRecord::joined(1);
            w.put_member(g.id, a.user.id, &m)?;
            w.put_member(g.id, b.user.id, &m)?;
            w.put_dm_pair(a.user.id, b.user.id, dm.id)?;
            w.add_user_channel(a.user.id, dm.id)?;
            w.add_user_channel(b.user.id, dm.id)?;
            let friend = Some(crate::model::relationships::RelationshipKind::Friend);
            w.set_relationship(a.user.id, b.user.id, friend)?;
            w.set_relationship(b.user.id, a.user.id, friend)?;
            w.put_user_settings(b.user.id, &crate::model::relationships::PrivacySettings::default())?;
            let tok = |id, user_id| TokenRecord { id, user_id, created_at: 1, client: None };
            w.put_token(&[1; 32], &tok(t1, a.user.id))?;
            w.put_token(&[2; 32], &tok(t2, b.user.id))?;
            Ok(())
        }))
        .unwrap();
        store.shutdown();
        store.wait_closed();
        drop(store);
        (tmp, guild)
    }

    #[test]
    fn missing_dir_database_and_in_use_are_usage_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let e = AdminDb::open(&tmp.path().join("nope")).err().unwrap();
        assert!(e.is_usage() && e.to_string().contains("nope"), "{e}");
        let e = AdminDb::open(tmp.path()).err().unwrap();
        assert!(matches!(e, AdminError::NoDatabase(_)) && e.is_usage(), "{e}");
        assert!(!tmp.path().join(DB_FILE).exists(), "open must not create a database");
        let (tmp, _) = seeded();
        let _held = AdminDb::open(tmp.path()).unwrap();
        let e = AdminDb::open(tmp.path()).err().unwrap();
        assert!(matches!(e, AdminError::InUse(_)) && e.is_usage(), "{e}");
        assert!(e.to_string().contains("in use by a running server"), "{e}");
    }

    #[test]
    fn create_admin_promote_password_and_disable() {
        let (tmp, _) = seeded();
        let db = AdminDb::open(tmp.path()).unwrap();
        let created = db.create_admin("root", Some("$argon2id$root".into()), false).unwrap();
        assert!(matches!(created, CreatedAdmin::Created(ref u) if u.username == "root"));
        let e = db.create_admin("ALICE", Some("h".into()), false).unwrap_err();
        assert!(e.to_string().contains("--promote") && !e.is_usage(), "{e}");
        assert!(matches!(db.create_admin("alice", None, true).unwrap(), CreatedAdmin::Promoted(_)));
        assert!(db.create_admin("carol", None, true).unwrap_err().to_string().contains("--password-stdin"));
        assert!(db.create_admin("bad name!", Some("h".into()), false).is_err());
        let (_, revoked) = db.set_password("bob", "$argon2id$new".into()).unwrap();
        assert_eq!(revoked, 1);
        assert_eq!(db.stats().unwrap().tokens, 1);
        let (_, revoked) = db.set_disabled("alice", true).unwrap();
        assert_eq!(revoked, 1);
        assert!(db.set_disabled("nobody", true).is_err());
        let users = db.users().unwrap();
        let by = |n: &str| users.iter().find(|u| u.user.username == n).unwrap().clone();
        assert!(by("root").admin && !by("root").disabled && by("root").guilds == 0);
        assert!(by("Alice").admin && by("Alice").disabled && by("Alice").guilds == 1);
        assert!(!by("bob").admin);
        drop(db);
        // Durable, and what the server reads back.
        let db = AdminDb::open(tmp.path()).unwrap();
        let rec = db.read(|r| user_by_name(r, "bob")).unwrap();
        assert_eq!(rec.password_hash, "$argon2id$new");
        db.set_disabled("alice", false).unwrap();
        assert!(!db.users().unwrap().iter().any(|u| u.disabled));
        assert_eq!(db.stats().unwrap().tokens, 0);
    }

    #[test]
    fn delete_user_keeps_messages_and_frees_the_name() {
        let (tmp, guild) = seeded();
        let db = AdminDb::open(tmp.path()).unwrap();
        let e = db.delete_user("alice", false).unwrap_err();
        assert!(e.to_string().contains("Den") && e.to_string().contains("--delete-owned-guilds"), "{e}");
        let d = db.delete_user("bob", false).unwrap();
        assert_eq!((d.tokens, d.memberships), (1, 1));
        let s = db.stats().unwrap();
        assert_eq!((s.users, s.messages, s.tokens, s.guilds), (1, 1, 1, 1));
        assert_eq!(db.guilds().unwrap()[0].members, 1);
        db.read(|r| {
            assert!(r.user_channels(d.user.id)?.is_empty());
            assert!(r.user_id_by_name("bob")?.is_none());
            // Nobody keeps a relationship with a deleted user.
            let alice = r.user_id_by_name("alice")?.unwrap();
            assert!(r.relationships(alice)?.is_empty());
            assert!(r.relationships(d.user.id)?.is_empty());
            Ok(())
        })
        .unwrap();
        // The name is free again.
        assert!(matches!(db.create_admin("bob", Some("h".into()), false).unwrap(), CreatedAdmin::Created(_)));
        let d = db.delete_user("alice", true).unwrap();
        assert_eq!(d.guilds_deleted, vec![guild]);
        let s = db.stats().unwrap();
        assert_eq!((s.users, s.guilds, s.messages), (1, 0, 0));
    }

    #[test]
    fn guilds_delete_guild_compact_and_stats() {
        let (tmp, guild) = seeded();
        let db = AdminDb::open(tmp.path()).unwrap();
        let s = db.stats().unwrap();
        assert_eq!((s.users, s.guilds, s.channels, s.messages, s.tokens), (2, 1, 2, 1, 2));
        assert_eq!(s.schema_version, crate::store::SCHEMA_VERSION);
        assert!(s.database_bytes > 0);
        let rows = db.guilds().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].owner.as_deref(), rows[0].members, rows[0].channels), (Some("Alice"), 2, 1));
        assert!(db.delete_guild(Id(12345)).is_err());
        assert_eq!(db.delete_guild(guild.id).unwrap().name, "Den");
        let s = db.stats().unwrap();
        assert_eq!((s.guilds, s.channels, s.messages), (0, 1, 0));
        let (before, after) = db.compact().unwrap();
        assert!(after <= before, "{before} -> {after}");
        // Reading (stats) does not write, so the compacted size stays.
        assert_eq!(AdminDb::open(tmp.path()).unwrap().stats().unwrap().database_bytes, after);
        // The server opens it afterwards.
        let store = Store::open(tmp.path(), Arc::new(IdGenerator::new(0))).unwrap();
        assert!(store.read().unwrap().user_id_by_name("bob").unwrap().is_some());
        store.shutdown();
        store.wait_closed();
    }
}
