//! Who may reach whom: DM privacy settings, and the rules "may A open a DM
//! with B", "may A add B to a group DM", "may A send into their DM with B".
//! Pure: the caller gathers the relationship rows, the guilds the two share
//! and the recipient's settings.

use serde::{Deserialize, Deserializer};

use crate::errors::{AppError, ErrorCode};
use crate::model::limits::{MAX_GROUP_DMS_PER_USER, MAX_GUILDS_PER_USER};
pub use crate::model::relationships::{GuildDmOverride, Pair, PrivacySettings};
use crate::model::Id;
use crate::store::Read;

/// `PATCH /users/@me/settings`: every field optional, none may be null.
#[derive(Debug, Default, Deserialize)]
pub struct SettingsPatch {
    /// New `allow_guild_dms`.
    #[serde(default, deserialize_with = "not_null")]
    pub allow_guild_dms: Option<bool>,
    /// New list of exceptions (replaces the old list).
    #[serde(default, deserialize_with = "not_null")]
    pub guild_dm_overrides: Option<Vec<GuildDmOverride>>,
    /// New `group_dms_friends_only`.
    #[serde(default, deserialize_with = "not_null")]
    pub group_dms_friends_only: Option<bool>,
}

/// A present field must have a value: `null` is refused, not read as absent.
pub fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Apply a settings patch; `member_of` are the guilds the user is in now.
pub fn apply(current: &PrivacySettings, patch: SettingsPatch, member_of: &[Id]) -> Result<PrivacySettings, AppError> {
    if patch.allow_guild_dms.is_none() && patch.guild_dm_overrides.is_none() && patch.group_dms_friends_only.is_none() {
        return Err(AppError::invalid("nothing to change"));
    }
    let mut next = current.clone();
    if let Some(v) = patch.allow_guild_dms {
        next.allow_guild_dms = v;
    }
    if let Some(v) = patch.group_dms_friends_only {
        next.group_dms_friends_only = v;
    }
    if let Some(list) = patch.guild_dm_overrides {
        if list.len() > MAX_GUILDS_PER_USER {
            return Err(AppError::invalid(format!(
                "guild_dm_overrides: at most {MAX_GUILDS_PER_USER} entries (MAX_GUILDS_PER_USER)"
            )));
        }
        for (i, o) in list.iter().enumerate() {
            if list.iter().take(i).any(|p| p.guild_id == o.guild_id) {
                return Err(AppError::invalid(format!("guild_dm_overrides: guild {} is listed twice", o.guild_id)));
            }
            if !member_of.contains(&o.guild_id) {
                return Err(AppError::new(
                    ErrorCode::UnknownGuild,
                    format!("guild_dm_overrides: you are not a member of guild {}", o.guild_id),
                ));
            }
        }
        next.guild_dm_overrides = list;
    }
    Ok(next)
}

/// What the rules need to know about the target of a DM or group-DM add.
#[derive(Debug, Clone, Copy)]
pub struct Contact<'a> {
    /// The two users' rows about each other (`mine` = the actor's).
    pub pair: Pair,
    /// Guilds both users are members of.
    pub shared_guilds: &'a [Id],
    /// The target's settings.
    pub settings: &'a PrivacySettings,
}

/// Why a DM, a group-DM add or a DM message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DmRefusal {
    /// The actor blocked the target.
    #[error("you blocked this user; unblock them to message them")]
    YouBlocked,
    /// The target blocked the actor, or their settings leave the actor out
    /// (not told apart, so a block is not revealed).
    #[error("cannot send messages to this user")]
    NotAllowed,
    /// Group DMs: the target only lets friends add them.
    #[error("this user can only be added to group DMs by friends")]
    FriendsOnly,
}

impl From<DmRefusal> for AppError {
    fn from(e: DmRefusal) -> Self {
        AppError::new(ErrorCode::CannotMessageUser, e.to_string())
    }
}

fn blocks(pair: Pair) -> Result<(), DmRefusal> {
    use super::relationships::RelationshipKind::Blocked;
    if pair.mine == Some(Blocked) {
        return Err(DmRefusal::YouBlocked);
    }
    if pair.theirs == Some(Blocked) {
        return Err(DmRefusal::NotAllowed);
    }
    Ok(())
}

fn shares_an_open_guild(c: &Contact<'_>) -> bool {
    c.shared_guilds.iter().any(|g| c.settings.allows_dms_from(*g))
}

/// May the actor open a new 1:1 DM with the target? Friends may; otherwise
/// they must share a guild whose members the target accepts DMs from.
pub fn may_open_dm(c: &Contact<'_>) -> Result<(), DmRefusal> {
    blocks(c.pair)?;
    if c.pair.friends() || shares_an_open_guild(c) {
        return Ok(());
    }
    Err(DmRefusal::NotAllowed)
}

/// May the actor add the target to a group DM? Friends may; otherwise the
/// target must accept group DMs from non-friends and share an open guild.
pub fn may_add_to_group(c: &Contact<'_>) -> Result<(), DmRefusal> {
    blocks(c.pair)?;
    if c.pair.friends() {
        return Ok(());
    }
    if c.settings.group_dms_friends_only {
        return Err(DmRefusal::FriendsOnly);
    }
    if shares_an_open_guild(c) {
        return Ok(());
    }
    Err(DmRefusal::NotAllowed)
}

/// May the actor send into their existing 1:1 DM with the target? Only a
/// block (either way) stops it.
pub fn may_send_dm(pair: Pair) -> Result<(), DmRefusal> {
    blocks(pair)
}

/// Refuse a group DM that would put `user` (who is `is_actor` or not) past
/// [`MAX_GROUP_DMS_PER_USER`]; `count` is how many they are in now.
pub fn group_dm_room(count: usize, is_actor: bool) -> Result<(), AppError> {
    if count < MAX_GROUP_DMS_PER_USER {
        return Ok(());
    }
    Err(AppError::limit(if is_actor {
        format!("you are in {MAX_GROUP_DMS_PER_USER} group DMs (MAX_GROUP_DMS_PER_USER); leave one first")
    } else {
        format!("this user is in {MAX_GROUP_DMS_PER_USER} group DMs (MAX_GROUP_DMS_PER_USER) and cannot join another")
    }))
}

/// Checks of the DM rules against the store: the facts they need (blocks,
/// friendship, shared guilds, the other user's settings) read in one place.
fn contact_check(
    r: &impl Read,
    me: Id,
    them: Id,
    rule: fn(&Contact<'_>) -> Result<(), DmRefusal>,
) -> Result<(), AppError> {
    let shared = r.shared_guilds(me, them)?;
    let settings = r.user_settings(them)?;
    let c = Contact { pair: r.relationship_pair(me, them)?, shared_guilds: &shared, settings: &settings };
    Ok(rule(&c)?)
}

/// May `me` open a new 1:1 DM with `them`? (Blocks, friendship, shared guilds, settings.)
pub fn check_dm_open(r: &impl Read, me: Id, them: Id) -> Result<(), AppError> {
    contact_check(r, me, them, may_open_dm)
}

/// May `me` add `them` to a group DM? (As for DMs, plus `group_dms_friends_only`
/// and `them`'s room under MAX_GROUP_DMS_PER_USER.)
pub fn check_group_add(r: &impl Read, me: Id, them: Id) -> Result<(), AppError> {
    contact_check(r, me, them, may_add_to_group)?;
    group_dm_room(r.group_dm_count(them)?, false)
}

/// May `me` find again (or send into) their existing 1:1 DM with `them`? Only a block stops it.
pub fn check_dm_send(r: &impl Read, me: Id, them: Id) -> Result<(), AppError> {
    Ok(may_send_dm(r.relationship_pair(me, them)?)?)
}

#[cfg(test)]
mod tests {
    use super::super::relationships::RelationshipKind::*;
    use super::*;

    fn contact<'a>(pair: Pair, shared: &'a [Id], settings: &'a PrivacySettings) -> Contact<'a> {
        Contact { pair, shared_guilds: shared, settings }
    }
    const FRIENDS: Pair = Pair { mine: Some(Friend), theirs: Some(Friend) };
    const STRANGERS: Pair = Pair { mine: None, theirs: None };

    #[test]
    fn strangers_without_a_shared_guild_cannot_dm_or_group() {
        let s = PrivacySettings::default();
        assert_eq!(may_open_dm(&contact(STRANGERS, &[], &s)), Err(DmRefusal::NotAllowed));
        assert_eq!(may_add_to_group(&contact(STRANGERS, &[], &s)), Err(DmRefusal::FriendsOnly), "the default");
        let open = PrivacySettings { group_dms_friends_only: false, ..PrivacySettings::default() };
        assert_eq!(may_add_to_group(&contact(STRANGERS, &[], &open)), Err(DmRefusal::NotAllowed));
        // A pending request is not friendship.
        let pending = Pair { mine: Some(Outgoing), theirs: Some(Incoming) };
        assert_eq!(may_open_dm(&contact(pending, &[], &s)), Err(DmRefusal::NotAllowed));
    }

    #[test]
    fn guild_members_may_dm_by_default_and_per_guild_overrides_win() {
        let (g1, g2) = (Id(10), Id(20));
        let mut s = PrivacySettings::default();
        assert!(may_open_dm(&contact(STRANGERS, &[g1], &s)).is_ok());
        s.guild_dm_overrides = vec![GuildDmOverride { guild_id: g1, allow_dms: false }];
        assert_eq!(may_open_dm(&contact(STRANGERS, &[g1], &s)), Err(DmRefusal::NotAllowed));
        assert!(may_open_dm(&contact(STRANGERS, &[g1, g2], &s)).is_ok(), "g2 still allows");
        s.allow_guild_dms = false;
        assert_eq!(may_open_dm(&contact(STRANGERS, &[g1, g2], &s)), Err(DmRefusal::NotAllowed));
        s.guild_dm_overrides = vec![GuildDmOverride { guild_id: g2, allow_dms: true }];
        assert!(may_open_dm(&contact(STRANGERS, &[g2], &s)).is_ok(), "an override allows one guild");
        // Friends-only still lets friends in.
        assert!(may_open_dm(&contact(FRIENDS, &[], &s)).is_ok());
    }

    #[test]
    fn group_dms_friends_only_refuses_guild_members_but_not_friends() {
        let s = PrivacySettings { group_dms_friends_only: true, ..PrivacySettings::default() };
        assert_eq!(may_add_to_group(&contact(STRANGERS, &[Id(1)], &s)), Err(DmRefusal::FriendsOnly));
        assert!(may_add_to_group(&contact(FRIENDS, &[], &s)).is_ok());
        assert!(may_open_dm(&contact(STRANGERS, &[Id(1)], &s)).is_ok(), "1:1 DMs are a separate setting");
    }

    #[test]
    fn a_block_either_way_refuses_everything() {
        let s = PrivacySettings::default();
        let they_blocked = Pair { mine: None, theirs: Some(Blocked) };
        let i_blocked = Pair { mine: Some(Blocked), theirs: None };
        for (p, want) in [(they_blocked, DmRefusal::NotAllowed), (i_blocked, DmRefusal::YouBlocked)] {
            assert_eq!(may_open_dm(&contact(p, &[Id(1)], &s)), Err(want));
            assert_eq!(may_add_to_group(&contact(p, &[Id(1)], &s)), Err(want));
            assert_eq!(may_send_dm(p), Err(want));
        }
        assert!(may_send_dm(STRANGERS).is_ok());
    }

    #[test]
    fn patches_are_validated() {
        let cur = PrivacySettings::default();
        let e = apply(&cur, SettingsPatch::default(), &[]).unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("invalid_body", "nothing to change"));
        let o = |g| GuildDmOverride { guild_id: Id(g), allow_dms: false };
        let twice = SettingsPatch { guild_dm_overrides: Some(vec![o(1), o(1)]), ..Default::default() };
        assert_eq!(apply(&cur, twice, &[Id(1)]).unwrap_err().code.as_str(), "invalid_body");
        let stranger = SettingsPatch { guild_dm_overrides: Some(vec![o(2)]), ..Default::default() };
        assert_eq!(apply(&cur, stranger, &[Id(1)]).unwrap_err().code.as_str(), "unknown_guild");
        let many = SettingsPatch {
            guild_dm_overrides: Some((0..=MAX_GUILDS_PER_USER as u64).map(o).collect()),
            ..Default::default()
        };
        assert_eq!(apply(&cur, many, &[]).unwrap_err().code.as_str(), "invalid_body");
        let ok =
            SettingsPatch { allow_guild_dms: Some(false), guild_dm_overrides: Some(vec![o(1)]), ..Default::default() };
        let next = apply(&cur, ok, &[Id(1)]).unwrap();
        assert!(
            !next.allow_guild_dms
                && !next.allows_dms_from(Id(1))
                && next.group_dms_friends_only == cur.group_dms_friends_only
        );
        let null: Result<SettingsPatch, _> = serde_json::from_str(r#"{"allow_guild_dms": null}"#);
        assert!(null.is_err(), "null is not a value");
    }

    #[test]
    fn the_group_dm_cap_counts_the_actor_and_the_target() {
        assert!(group_dm_room(MAX_GROUP_DMS_PER_USER - 1, true).is_ok());
        assert_eq!(group_dm_room(MAX_GROUP_DMS_PER_USER, true).unwrap_err().code.as_str(), "limit_reached");
        assert!(group_dm_room(MAX_GROUP_DMS_PER_USER, false).unwrap_err().message.contains("this user"));
    }
}
