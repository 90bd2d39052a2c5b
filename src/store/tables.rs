//! Table layout and schema migrations.
//!
//! Records are MessagePack (rmp-serde, named fields, so new optional fields
//! can be added without a migration). Composite keys are tuples so that
//! "everything of X" is a range scan.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::StoreError;

/// Schema version this build writes. Bump it and add a step to [`migrate`]
/// whenever the layout changes incompatibly.
pub const SCHEMA_VERSION: u64 = 3;

/// Key/value metadata: `schema_version`, `id_high_water`.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// user id → `UserRecord`.
pub const USERS: TableDefinition<u64, &[u8]> = TableDefinition::new("users");
/// lowercased username → user id.
pub const USERNAMES: TableDefinition<&str, u64> = TableDefinition::new("usernames");
/// sha256(token) → `TokenRecord`.
pub const TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens");
/// (user id, token id) → sha256(token).
pub const USER_TOKENS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("user_tokens");
/// guild id → `Guild`.
pub const GUILDS: TableDefinition<u64, &[u8]> = TableDefinition::new("guilds");
/// channel id → `Channel` (guild channels and DMs).
pub const CHANNELS: TableDefinition<u64, &[u8]> = TableDefinition::new("channels");
/// (guild id, channel id) → ().
pub const GUILD_CHANNELS: TableDefinition<(u64, u64), ()> = TableDefinition::new("guild_channels");
/// (guild id, role id) → `Role`.
pub const ROLES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("roles");
/// (guild id, user id) → `MemberRecord`.
pub const MEMBERS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("members");
/// (user id, guild id) → ().
pub const USER_GUILDS: TableDefinition<(u64, u64), ()> = TableDefinition::new("user_guilds");
/// invite code → `Invite`.
pub const INVITES: TableDefinition<&str, &[u8]> = TableDefinition::new("invites");
/// (guild id, invite code) → ().
pub const GUILD_INVITES: TableDefinition<(u64, &str), ()> = TableDefinition::new("guild_invites");
/// (channel id, message id) → `Message`.
pub const MESSAGES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("messages");
/// (smaller user id, larger user id) → DM channel id.
pub const DM_PAIRS: TableDefinition<(u64, u64), u64> = TableDefinition::new("dm_pairs");
/// (user id, channel id) → () for the user's DMs and group DMs.
pub const USER_CHANNELS: TableDefinition<(u64, u64), ()> = TableDefinition::new("user_channels");

/// (user id, other user id) → relationship kind byte (`RelationshipKind::to_byte`),
/// the first user's side; friendships and pending requests have both rows.
pub const RELATIONSHIPS: TableDefinition<(u64, u64), u8> = TableDefinition::new("relationships");
/// user id → `PrivacySettings` (absent: the defaults).
pub const USER_SETTINGS: TableDefinition<u64, &[u8]> = TableDefinition::new("user_settings");

/// (channel id, message id, emoji key, user id) → (): who reacted with what.
/// Emoji keys are `u:` + a Unicode emoji or `c:` + a custom emoji id.
pub const REACTIONS: TableDefinition<(u64, u64, &str, u64), ()> = TableDefinition::new("reactions");
/// (channel id, message id, version id) → `MessageVersion`: earlier versions of
/// edited messages, oldest first.
pub const MESSAGE_VERSIONS: TableDefinition<(u64, u64, u64), &[u8]> = TableDefinition::new("message_versions");
/// (channel id, message id) → unix ms when it was pinned.
pub const PINS: TableDefinition<(u64, u64), u64> = TableDefinition::new("pins");
/// (guild id, emoji id) → `GuildEmoji`.
pub const GUILD_EMOJIS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("guild_emojis");

/// Bring the schema to [`SCHEMA_VERSION`] inside `txn`. Returns the version found.
pub fn migrate(txn: &WriteTransaction) -> Result<u64, StoreError> {
    let found = {
        let meta = txn.open_table(META)?;
        let v = meta.get("schema_version")?.map(|g| g.value());
        v.unwrap_or(0)
    };
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    if found < 1 {
        // Version 0 → 1: create every table, so readers never meet a missing one.
        txn.open_table(USERS)?;
        txn.open_table(USERNAMES)?;
        txn.open_table(TOKENS)?;
        txn.open_table(USER_TOKENS)?;
        txn.open_table(GUILDS)?;
        txn.open_table(CHANNELS)?;
        txn.open_table(GUILD_CHANNELS)?;
        txn.open_table(ROLES)?;
        txn.open_table(MEMBERS)?;
        txn.open_table(USER_GUILDS)?;
        txn.open_table(INVITES)?;
        txn.open_table(GUILD_INVITES)?;
        txn.open_table(MESSAGES)?;
        txn.open_table(DM_PAIRS)?;
        txn.open_table(USER_CHANNELS)?;
    }
    if found < 2 {
        // Version 1 → 2: friends, blocks and privacy settings.
        txn.open_table(RELATIONSHIPS)?;
        txn.open_table(USER_SETTINGS)?;
    }
    if found < 3 {
        // Version 2 → 3: reactions, edit history, pins, custom emoji.
        txn.open_table(REACTIONS)?;
        txn.open_table(MESSAGE_VERSIONS)?;
        txn.open_table(PINS)?;
        txn.open_table(GUILD_EMOJIS)?;
    }
    // Future steps go here: `if found < 4 { ... }`.
    txn.open_table(META)?.insert("schema_version", SCHEMA_VERSION)?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use redb::{Database, ReadableDatabase};

    use super::*;
    use crate::model::Id;
    use crate::store::Read;

    #[test]
    fn a_version_1_database_upgrades_and_keeps_its_data() {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new()).unwrap();
        // What a version-1 build left: its tables, some data, version 1.
        let txn = db.begin_write().unwrap();
        for t in [USERS, GUILDS, CHANNELS] {
            txn.open_table(t).unwrap();
        }
        for t in [USER_TOKENS, ROLES, MEMBERS] {
            txn.open_table(t).unwrap();
        }
        for t in [GUILD_CHANNELS, USER_GUILDS, USER_CHANNELS] {
            txn.open_table(t).unwrap();
        }
        txn.open_table(USER_CHANNELS).unwrap().insert((1, 20), ()).unwrap();
        txn.open_table(DM_PAIRS).unwrap().insert((1, 2), 20).unwrap();
        txn.open_table(META).unwrap().insert("schema_version", 1).unwrap();
        txn.commit().unwrap();

        let txn = db.begin_write().unwrap();
        assert_eq!(migrate(&txn).unwrap(), 1);
        txn.commit().unwrap();
        let r = db.begin_read().unwrap();
        assert_eq!(r.open_table(META).unwrap().get("schema_version").unwrap().unwrap().value(), SCHEMA_VERSION);
        assert_eq!(r.dm_channel_id(Id(2), Id(1)).unwrap(), Some(Id(20)), "old data is still there");
        assert_eq!(r.user_channel_ids(Id(1)).unwrap(), vec![Id(20)]);
        assert!(r.relationships(Id(1)).unwrap().is_empty(), "the new tables exist, empty");
        assert_eq!(r.user_settings(Id(1)).unwrap(), crate::model::relationships::PrivacySettings::default());
    }
}
