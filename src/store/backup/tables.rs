//! Every table a backup copies, and how `verify` checks each one's values.
//!
//! redb cannot iterate a table without its types, so the tables are listed
//! here with their definitions from `store/tables.rs`. A unit test fails when
//! a table is defined there or created by a migration without being listed
//! here, and a backup refuses a database holding a table not listed here.

use redb::{Key, TableDefinition, TableHandle, Value};
use serde::de::DeserializeOwned;

use super::BackupError;
use crate::model::relationships::PrivacySettings;
use crate::model::relationships::RelationshipKind;
use crate::model::{Channel, Guild, GuildEmoji, Invite, Message, MessageVersion, Role, TokenRecord, UserRecord};
use crate::store::tables::*;
use crate::store::MemberRecord;

/// Checks one stored value (its raw bytes); Err describes the problem.
pub(crate) type ValueCheck = fn(&[u8]) -> Result<(), String>;

/// Something done to every table, with the table's types.
pub(crate) trait TableVisitor {
    /// Visit one table. `check` validates each value, where values are records.
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        def: TableDefinition<'_, K, V>,
        check: Option<ValueCheck>,
    ) -> Result<(), BackupError>;
}

/// Visit every table of the schema, in a fixed order.
pub(crate) fn visit_all(v: &mut impl TableVisitor) -> Result<(), BackupError> {
    v.table(META, None)?;
    v.table(USERS, Some(record::<UserRecord>))?;
    v.table(USERNAMES, None)?;
    v.table(TOKENS, Some(record::<TokenRecord>))?;
    v.table(USER_TOKENS, Some(sha256))?;
    v.table(GUILDS, Some(record::<Guild>))?;
    v.table(CHANNELS, Some(record::<Channel>))?;
    v.table(GUILD_CHANNELS, None)?;
    v.table(ROLES, Some(record::<Role>))?;
    v.table(MEMBERS, Some(record::<MemberRecord>))?;
    v.table(USER_GUILDS, None)?;
    v.table(INVITES, Some(record::<Invite>))?;
    v.table(GUILD_INVITES, None)?;
    v.table(MESSAGES, Some(record::<Message>))?;
    v.table(DM_PAIRS, None)?;
    v.table(USER_CHANNELS, None)?;
    v.table(RELATIONSHIPS, Some(relationship_kind))?;
    v.table(USER_SETTINGS, Some(record::<PrivacySettings>))?;
    v.table(REACTIONS, None)?;
    v.table(MESSAGE_VERSIONS, Some(record::<MessageVersion>))?;
    v.table(PINS, None)?;
    v.table(GUILD_EMOJIS, Some(record::<GuildEmoji>))?;
    Ok(())
}

/// Names of every table [`visit_all`] visits.
pub(crate) fn names() -> Vec<String> {
    struct Names(Vec<String>);
    impl TableVisitor for Names {
        fn table<K: Key + 'static, V: Value + 'static>(
            &mut self,
            def: TableDefinition<'_, K, V>,
            _: Option<ValueCheck>,
        ) -> Result<(), BackupError> {
            self.0.push(def.name().to_string());
            Ok(())
        }
    }
    let mut n = Names(Vec::new());
    // Names never fails.
    let _ = visit_all(&mut n);
    n.0
}

fn record<T: DeserializeOwned>(bytes: &[u8]) -> Result<(), String> {
    rmp_serde::from_slice::<T>(bytes).map(drop).map_err(|e| format!("{} does not decode: {e}", short_type::<T>()))
}

fn short_type<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

fn sha256(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() == 32 {
        Ok(())
    } else {
        Err(format!("expected a 32-byte token hash, found {} bytes", bytes.len()))
    }
}

fn relationship_kind(bytes: &[u8]) -> Result<(), String> {
    match bytes {
        [b] if RelationshipKind::from_byte(*b).is_some() => Ok(()),
        _ => Err(format!("not a relationship kind: {bytes:?}")),
    }
}
