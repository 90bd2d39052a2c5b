//! What hangs off a message in the store: who reacted with what, earlier
//! versions, pins, and the guild's custom emoji. Deleting a message takes all
//! of it along, so deleted content is gone from the tables, not hidden.

use redb::{ReadableTable, WriteTransaction};

use super::read::{decode, encode, Read};
use super::tables::*;
use super::StoreError;
use crate::model::limits::MAX_MESSAGE_VERSIONS;
use crate::model::{GuildEmoji, Id, MessageVersion};

/// Every reaction row of one message.
fn message_rows(c: Id, m: Id) -> std::ops::Range<(u64, u64, &'static str, u64)> {
    (c.0, m.0, "", 0)..(c.0, m.0.saturating_add(1), "", 0)
}

/// Reads about messages' reactions, versions and pins.
pub trait MessageRead: Read {
    /// Whether `user` reacted to the message with the emoji `key`.
    fn reacted(&self, channel: Id, message: Id, key: &str, user: Id) -> Result<bool, StoreError> {
        Ok(self.table(REACTIONS)?.get((channel.0, message.0, key, user.0))?.is_some())
    }

    /// Up to `limit` users who reacted with `key`, by id, after `after`.
    fn reaction_users(
        &self,
        channel: Id,
        message: Id,
        key: &str,
        after: Option<Id>,
        limit: usize,
    ) -> Result<Vec<Id>, StoreError> {
        let t = self.table(REACTIONS)?;
        let from = after.map_or(0, |a| a.0.saturating_add(1));
        let mut out = Vec::new();
        if after.is_some_and(|a| a.0 == u64::MAX) {
            return Ok(out);
        }
        for row in t.range((channel.0, message.0, key, from)..=(channel.0, message.0, key, u64::MAX))?.take(limit) {
            out.push(Id(row?.0.value().3));
        }
        Ok(out)
    }

    /// Earlier versions of a message, oldest first.
    fn message_versions(&self, channel: Id, message: Id) -> Result<Vec<MessageVersion>, StoreError> {
        let t = self.table(MESSAGE_VERSIONS)?;
        let mut out = Vec::new();
        for row in t.range((channel.0, message.0, 0)..=(channel.0, message.0, u64::MAX))? {
            out.push(decode("message_versions", row?.1.value())?);
        }
        Ok(out)
    }

    /// The channel's pins as (message, pinned at), newest pin first.
    fn pins(&self, channel: Id) -> Result<Vec<(Id, u64)>, StoreError> {
        let t = self.table(PINS)?;
        let mut out = Vec::new();
        for row in t.range((channel.0, 0)..=(channel.0, u64::MAX))? {
            let (k, v) = row?;
            out.push((Id(k.value().1), v.value()));
        }
        out.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        Ok(out)
    }

    /// A custom emoji of a guild.
    fn guild_emoji(&self, guild: Id, emoji: Id) -> Result<Option<GuildEmoji>, StoreError> {
        let t = self.table(GUILD_EMOJIS)?;
        let v = t.get((guild.0, emoji.0))?;
        v.map(|g| decode("guild_emojis", g.value())).transpose()
    }
}

impl<T: Read> MessageRead for T {}

/// Writes of messages' reactions, versions and pins.
pub trait MessageWrite {
    /// Add (`on`) or remove one user's reaction; whether anything changed.
    fn set_reaction(&self, channel: Id, message: Id, key: &str, user: Id, on: bool) -> Result<bool, StoreError>;
    /// Remove every reaction of a message, or those with one emoji.
    fn clear_reactions(&self, channel: Id, message: Id, key: Option<&str>) -> Result<(), StoreError>;
    /// Keep an earlier version (dropping the oldest past `MAX_MESSAGE_VERSIONS`).
    fn push_version(&self, channel: Id, message: Id, version: Id, v: &MessageVersion) -> Result<(), StoreError>;
    /// Pin (with the time) or unpin a message.
    fn set_pin(&self, channel: Id, message: Id, pinned_at: Option<u64>) -> Result<(), StoreError>;
    /// Delete a message with its reactions, versions and pin.
    fn delete_message(&self, channel: Id, message: Id) -> Result<(), StoreError>;
    /// Remove every reaction, version and pin of a channel (it is being deleted).
    fn delete_channel_extras(&self, channel: Id) -> Result<(), StoreError>;
    /// Insert or replace a custom emoji.
    fn put_guild_emoji(&self, e: &GuildEmoji) -> Result<(), StoreError>;
}

impl MessageWrite for WriteTransaction {
    fn set_reaction(&self, channel: Id, message: Id, key: &str, user: Id, on: bool) -> Result<bool, StoreError> {
        let mut t = self.open_table(REACTIONS)?;
        let k = (channel.0, message.0, key, user.0);
        let changed = if on { t.insert(k, ())?.is_none() } else { t.remove(k)?.is_some() };
        Ok(changed)
    }

    fn clear_reactions(&self, channel: Id, message: Id, key: Option<&str>) -> Result<(), StoreError> {
        let mut t = self.open_table(REACTIONS)?;
        match key {
            Some(k) => t.retain_in((channel.0, message.0, k, 0)..=(channel.0, message.0, k, u64::MAX), |_, _| false)?,
            None => t.retain_in(message_rows(channel, message), |_, _| false)?,
        }
        Ok(())
    }

    fn push_version(&self, channel: Id, message: Id, version: Id, v: &MessageVersion) -> Result<(), StoreError> {
        let mut t = self.open_table(MESSAGE_VERSIONS)?;
        t.insert((channel.0, message.0, version.0), encode(v).as_slice())?;
        let keys: Vec<u64> = {
            let mut keys = Vec::new();
            for row in t.range((channel.0, message.0, 0)..=(channel.0, message.0, u64::MAX))? {
                keys.push(row?.0.value().2);
            }
            keys
        };
        for k in keys.iter().take(keys.len().saturating_sub(MAX_MESSAGE_VERSIONS)) {
            t.remove((channel.0, message.0, *k))?;
        }
        Ok(())
    }

    fn set_pin(&self, channel: Id, message: Id, pinned_at: Option<u64>) -> Result<(), StoreError> {
        let mut t = self.open_table(PINS)?;
        match pinned_at {
            Some(at) => t.insert((channel.0, message.0), at)?,
            None => t.remove((channel.0, message.0))?,
        };
        Ok(())
    }

    fn delete_message(&self, channel: Id, message: Id) -> Result<(), StoreError> {
        self.open_table(MESSAGES)?.remove((channel.0, message.0))?;
        self.clear_reactions(channel, message, None)?;
        self.open_table(MESSAGE_VERSIONS)?
            .retain_in((channel.0, message.0, 0)..=(channel.0, message.0, u64::MAX), |_, _| false)?;
        self.set_pin(channel, message, None)?;
        Ok(())
    }

    fn delete_channel_extras(&self, channel: Id) -> Result<(), StoreError> {
        let c = channel.0;
        self.open_table(REACTIONS)?.retain_in((c, 0, "", 0)..=(c, u64::MAX, "\u{10FFFF}", u64::MAX), |_, _| false)?;
        self.open_table(MESSAGE_VERSIONS)?.retain_in((c, 0, 0)..=(c, u64::MAX, u64::MAX), |_, _| false)?;
        self.open_table(PINS)?.retain_in((c, 0)..=(c, u64::MAX), |_, _| false)?;
        Ok(())
    }

    fn put_guild_emoji(&self, e: &GuildEmoji) -> Result<(), StoreError> {
        self.open_table(GUILD_EMOJIS)?.insert((e.guild_id.0, e.id.0), encode(e).as_slice())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use redb::Database;

    use super::*;
    use crate::model::{Author, Message};
    use crate::store::Write;

    fn db() -> Database {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new()).unwrap();
        let txn = db.begin_write().unwrap();
        migrate(&txn).unwrap();
        txn.commit().unwrap();
        db
    }

    fn msg(c: u64, id: u64) -> Message {
        Message::new(Id(id), Id(c), None, Author { id: Id(1), username: "a".into(), display_name: None }, "x".into())
    }

    #[test]
    fn deleting_a_message_takes_everything_of_it_and_nothing_else() {
        let db = db();
        let w = db.begin_write().unwrap();
        for (c, m) in [(1, 10), (1, 11), (2, 10)] {
            w.put_message(&msg(c, m)).unwrap();
            assert!(w.set_reaction(Id(c), Id(m), "u:👍", Id(5), true).unwrap());
            w.push_version(
                Id(c),
                Id(m),
                Id(100),
                &MessageVersion { content: "old".into(), embeds: vec![], created_at: 0, replaced_at: 1 },
            )
            .unwrap();
            w.set_pin(Id(c), Id(m), Some(7)).unwrap();
        }
        assert!(!w.set_reaction(Id(1), Id(10), "u:👍", Id(5), true).unwrap(), "twice is once");
        w.delete_message(Id(1), Id(10)).unwrap();
        assert!(w.message(Id(1), Id(10)).unwrap().is_none());
        assert!(!w.reacted(Id(1), Id(10), "u:👍", Id(5)).unwrap());
        assert!(w.message_versions(Id(1), Id(10)).unwrap().is_empty());
        assert_eq!(w.pins(Id(1)).unwrap(), vec![(Id(11), 7)]);
        assert!(w.reacted(Id(1), Id(11), "u:👍", Id(5)).unwrap());
        assert!(w.reacted(Id(2), Id(10), "u:👍", Id(5)).unwrap());
        w.delete_channel_extras(Id(2)).unwrap();
        assert!(!w.reacted(Id(2), Id(10), "u:👍", Id(5)).unwrap());
        assert!(w.pins(Id(2)).unwrap().is_empty());
        assert!(w.reacted(Id(1), Id(11), "u:👍", Id(5)).unwrap(), "other channels keep theirs");
    }

    #[test]
    fn reaction_users_page_by_id_and_versions_are_bounded() {
        let db = db();
        let w = db.begin_write().unwrap();
        for u in 1..=5 {
            w.set_reaction(Id(1), Id(2), "u:🎉", Id(u), true).unwrap();
        }
        w.set_reaction(Id(1), Id(2), "c:9", Id(7), true).unwrap();
        assert_eq!(w.reaction_users(Id(1), Id(2), "u:🎉", None, 2).unwrap(), vec![Id(1), Id(2)]);
        assert_eq!(w.reaction_users(Id(1), Id(2), "u:🎉", Some(Id(2)), 10).unwrap(), vec![Id(3), Id(4), Id(5)]);
        assert!(w.reaction_users(Id(1), Id(2), "u:🎉", Some(Id(u64::MAX)), 10).unwrap().is_empty());
        w.clear_reactions(Id(1), Id(2), Some("u:🎉")).unwrap();
        assert!(w.reaction_users(Id(1), Id(2), "u:🎉", None, 10).unwrap().is_empty());
        assert!(w.reacted(Id(1), Id(2), "c:9", Id(7)).unwrap());
        for v in 0..(MAX_MESSAGE_VERSIONS as u64 + 5) {
            let ver = MessageVersion { content: format!("v{v}"), embeds: vec![], created_at: v, replaced_at: v + 1 };
            w.push_version(Id(1), Id(2), Id(v + 1), &ver).unwrap();
        }
        let kept = w.message_versions(Id(1), Id(2)).unwrap();
        assert_eq!(kept.len(), MAX_MESSAGE_VERSIONS);
        assert_eq!(kept[0].content, "v5", "the oldest went first");
    }
}
