//! Guild channels and categories: create, reorder/move, update, delete,
//! permission overwrites and the permission explainer — and the one rule for
//! changing a DM's settings (group DMs only have a name).

use serde::Deserialize;

use super::access::{ChannelAccess, GuildAccess};
use super::effects::{Change, Effect, Effects};
use super::input::present;
use super::patch;
use crate::errors::{AppError, ErrorCode};
use crate::model::limits::{MAX_CHANNELS_PER_GUILD, MAX_OVERWRITES_PER_CHANNEL, MAX_SLOWMODE_SECS};
use crate::model::permissions::{self, Explanation, Overwrite, OverwriteKind};
use crate::model::{validate, Channel, ChannelKind, Id, Permissions};
use crate::store::{Read, Store, Write};

/// A new guild channel, as a client asks for it.
#[derive(Debug, Deserialize)]
pub struct NewChannel {
    /// Name.
    pub name: String,
    /// text (default), voice or category.
    #[serde(default = "default_kind")]
    pub kind: ChannelKind,
    /// Topic (not for categories).
    #[serde(default)]
    pub topic: Option<String>,
    /// Category.
    #[serde(default)]
    pub parent_id: Option<Id>,
    /// Position; default: after the last.
    #[serde(default)]
    pub position: Option<i32>,
    /// Permission overwrites (needs MANAGE_ROLES).
    #[serde(default)]
    pub overwrites: Vec<Overwrite>,
    /// Slow mode seconds (0 = off).
    #[serde(default)]
    pub rate_limit_per_user: u32,
}

fn default_kind() -> ChannelKind {
    ChannelKind::Text
}

/// Changes to a channel; absent fields stay as they are.
#[derive(Debug, Deserialize)]
pub struct ChannelPatch {
    /// New name.
    pub name: Option<String>,
    /// New topic; null clears.
    #[serde(default, deserialize_with = "present")]
    pub topic: Option<Option<String>>,
    /// New category; null moves to the top level.
    #[serde(default, deserialize_with = "present")]
    pub parent_id: Option<Option<Id>>,
    /// New position.
    pub position: Option<i32>,
    /// New slow mode seconds.
    pub rate_limit_per_user: Option<u32>,
}

/// Where one channel goes in a reorder.
#[derive(Debug, Deserialize)]
pub struct Placement {
    /// The channel.
    pub id: Id,
    /// New position.
    pub position: Option<i32>,
    /// Absent: unchanged; null: no category.
    #[serde(default, deserialize_with = "present")]
    pub parent_id: Option<Option<Id>>,
}

/// A permission overwrite as a client sets it.
#[derive(Debug, Deserialize)]
pub struct OverwriteInput {
    /// role or member.
    pub kind: OverwriteKind,
    /// Allowed bits.
    #[serde(default)]
    pub allow: Permissions,
    /// Denied bits.
    #[serde(default)]
    pub deny: Permissions,
}

/// 400 unless `secs` is a valid slow-mode interval.
pub fn slowmode(secs: u32) -> Result<u32, AppError> {
    if secs > MAX_SLOWMODE_SECS {
        return Err(AppError::invalid(format!("rate_limit_per_user must be 0–{MAX_SLOWMODE_SECS}")));
    }
    Ok(secs)
}

/// 400 unless a channel of `kind` may sit in `parent` (a category of guild `gid`).
pub fn check_parent(kind: ChannelKind, gid: Id, parent: Option<&Channel>) -> Result<(), AppError> {
    if kind == ChannelKind::Category {
        return Err(AppError::invalid("parent_id: categories cannot be nested"));
    }
    match parent {
        Some(p) if p.guild_id == Some(gid) && p.kind == ChannelKind::Category => Ok(()),
        _ => Err(AppError::invalid("parent_id: not a category of this guild")),
    }
}

fn check_parent_in(r: &impl Read, gid: Id, kind: ChannelKind, parent: Option<Id>) -> Result<(), AppError> {
    match parent {
        None => Ok(()),
        Some(pid) => check_parent(kind, gid, r.channel(pid)?.as_ref()),
    }
}

/// The bits an overwrite changes relative to `old` (a bit moved from allow to
/// deny, or back, is a change too).
pub fn touched_bits(new: &Overwrite, old: &[Overwrite]) -> Permissions {
    let (old_allow, old_deny) = old.iter().find(|p| p.id == new.id).map_or((0, 0), |p| (p.allow.bits(), p.deny.bits()));
    Permissions((new.allow.bits() ^ old_allow) | (new.deny.bits() ^ old_deny))
}

/// Check overwrites being set: their targets exist, and the caller holds every
/// bit they change (`old` is what the channel had for the same target).
fn check_overwrites(r: &impl Read, ga: &GuildAccess, ows: &[Overwrite], old: &[Overwrite]) -> Result<(), AppError> {
    if ows.len() > MAX_OVERWRITES_PER_CHANNEL {
        return Err(AppError::limit(format!("at most {MAX_OVERWRITES_PER_CHANNEL} overwrites per channel")));
    }
    for o in ows {
        match o.kind {
            OverwriteKind::Role if !ga.roles.iter().any(|x| x.id == o.id) => return Err(AppError::unknown_role()),
            OverwriteKind::Member if r.member_record(ga.guild.id, o.id)?.is_none() => {
                return Err(AppError::unknown_member())
            }
            _ => {}
        }
        ga.require_grantable(touched_bits(o, old), "allow or deny")?;
    }
    Ok(())
}

/// The channels of a guild the caller may see.
pub fn list(r: &impl Read, caller: Id, gid: Id) -> Result<Vec<Channel>, AppError> {
    let ga = GuildAccess::load(r, gid, caller)?;
    Ok(r.guild_channels(gid)?.into_iter().filter(|c| ga.can_view(c)).collect())
}

/// One channel the caller may see.
pub fn get(r: &impl Read, caller: Id, cid: Id) -> Result<Channel, AppError> {
    Ok(ChannelAccess::load(r, cid, caller)?.channel)
}

/// Create a guild channel (MANAGE_CHANNELS; overwrites also need MANAGE_ROLES).
pub async fn create(store: &Store, caller: Id, gid: Id, b: NewChannel) -> Result<(Channel, Effects), AppError> {
    let r = store.read()?;
    let ga = GuildAccess::load(&r, gid, caller)?;
    ga.require(Permissions::MANAGE_CHANNELS)?;
    if !b.kind.is_guild() {
        return Err(AppError::invalid("kind must be text, voice or category"));
    }
    let name = validate::name("name", &b.name)?;
    let topic = if b.kind == ChannelKind::Category { None } else { validate::topic(b.topic.as_deref())? };
    check_parent_in(&r, gid, b.kind, b.parent_id)?;
    if !b.overwrites.is_empty() {
        // Setting permissions on a channel is managing roles there.
        ga.require(Permissions::MANAGE_ROLES)?;
    }
    check_overwrites(&r, &ga, &b.overwrites, &[])?;
    let id = store.ids().next();
    let mut channel = Channel {
        topic,
        position: b.position.unwrap_or(0),
        parent_id: b.parent_id,
        overwrites: b.overwrites,
        rate_limit_per_user: slowmode(b.rate_limit_per_user)?,
        ..Channel::new(id, b.kind, Some(gid), Some(name))
    };
    let explicit_position = b.position.is_some();
    let channel = store
        .write(move |w| {
            let existing = w.guild_channels(gid)?;
            if existing.len() >= MAX_CHANNELS_PER_GUILD {
                return Err(AppError::limit(format!("a guild may have at most {MAX_CHANNELS_PER_GUILD} channels")));
            }
            if !explicit_position {
                channel.position = existing.iter().map(|c| c.position + 1).max().unwrap_or(0);
            }
            w.put_channel(&channel)?;
            Ok(channel)
        })
        .await?;
    Ok((channel, Effects::guild(gid, &[Change::Channel(id)])))
}

/// Move and reorder channels at once (MANAGE_CHANNELS); all or nothing.
/// Answers the channels the caller may see afterwards.
pub async fn reorder(
    store: &Store,
    caller: Id,
    gid: Id,
    placements: Vec<Placement>,
) -> Result<(Vec<Channel>, Effects), AppError> {
    patch::require_fields(&[placements.iter().any(|p| p.position.is_some() || p.parent_id.is_some())])?;
    let r = store.read()?;
    let ga = GuildAccess::load(&r, gid, caller)?;
    ga.require(Permissions::MANAGE_CHANNELS)?;
    for p in &placements {
        let c = r.channel(p.id)?.filter(|c| c.guild_id == Some(gid)).ok_or_else(AppError::unknown_channel)?;
        if let Some(parent) = p.parent_id {
            check_parent_in(&r, gid, c.kind, parent)?;
        }
    }
    let (all, changed) = store
        .write(move |w| {
            // Check every item before writing any, so an error changes nothing.
            for p in &placements {
                w.channel(p.id)?.filter(|c| c.guild_id == Some(gid)).ok_or_else(AppError::unknown_channel)?;
            }
            let mut changed = false;
            for p in &placements {
                let current = w.channel(p.id)?.ok_or_else(AppError::unknown_channel)?;
                let next = patch::apply(&current, |c| {
                    if let Some(pos) = p.position {
                        c.position = pos;
                    }
                    if let Some(parent) = p.parent_id {
                        c.parent_id = parent;
                    }
                });
                if let Some(c) = next {
                    w.put_channel(&c)?;
                    changed = true;
                }
            }
            Ok::<_, AppError>((w.guild_channels(gid)?, changed))
        })
        .await?;
    let visible = all.into_iter().filter(|c| ga.can_view(c)).collect();
    Ok((visible, if changed { Effects::guild(gid, &[Change::Channels]) } else { Effects::none() }))
}

/// A patch checked against the channel it applies to.
struct CheckedPatch {
    name: Option<String>,
    topic: Option<Option<String>>,
    parent_id: Option<Option<Id>>,
    position: Option<i32>,
    slow: Option<u32>,
}

impl CheckedPatch {
    fn apply(self, c: &mut Channel) {
        if let Some(n) = self.name {
            c.name = Some(n);
        }
        if let Some(t) = self.topic {
            c.topic = t;
        }
        if let Some(p) = self.parent_id {
            c.parent_id = p;
        }
        if let Some(p) = self.position {
            c.position = p;
        }
        if let Some(s) = self.slow {
            c.rate_limit_per_user = s;
        }
    }
}

/// Which fields a channel of `kind` may have changed, and their values valid.
fn check_patch(kind: ChannelKind, b: ChannelPatch) -> Result<CheckedPatch, AppError> {
    let name = b.name.as_deref().map(|n| validate::name("name", n)).transpose()?;
    match kind {
        ChannelKind::Dm => return Err(AppError::invalid("direct messages have no settings")),
        ChannelKind::GroupDm
            if b.topic.is_some()
                || b.parent_id.is_some()
                || b.position.is_some()
                || b.rate_limit_per_user.is_some() =>
        {
            return Err(AppError::invalid("group DMs only have a name"));
        }
        _ => {}
    }
    let topic = match b.topic {
        Some(_) if kind == ChannelKind::Category => return Err(AppError::invalid("categories have no topic")),
        Some(t) => Some(validate::topic(t.as_deref())?),
        None => None,
    };
    let slow = b.rate_limit_per_user.map(slowmode).transpose()?;
    Ok(CheckedPatch { name, topic, parent_id: b.parent_id, position: b.position, slow })
}

/// Change a channel: guild channels need MANAGE_CHANNELS; any recipient may
/// rename a group DM.
pub async fn update(store: &Store, caller: Id, cid: Id, b: ChannelPatch) -> Result<(Channel, Effects), AppError> {
    patch::require_fields(&[
        b.name.is_some(),
        b.topic.is_some(),
        b.parent_id.is_some(),
        b.position.is_some(),
        b.rate_limit_per_user.is_some(),
    ])?;
    let r = store.read()?;
    let ca = ChannelAccess::load(&r, cid, caller)?;
    let kind = ca.channel.kind;
    if kind.is_guild() {
        ca.require(Permissions::MANAGE_CHANNELS)?;
    }
    let checked = check_patch(kind, b)?;
    if let (Some(parent), Some(gid)) = (checked.parent_id, ca.channel.guild_id) {
        check_parent_in(&r, gid, kind, parent)?;
    }
    let before = ca.channel.recipients.clone();
    let (updated, did_change) = store
        .write(move |w| {
            let current = w.channel(cid)?.ok_or_else(AppError::unknown_channel)?;
            let Some(c) = patch::apply(&current, |c| checked.apply(c)) else {
                return Ok((current, false));
            };
            w.put_channel(&c)?;
            Ok::<_, AppError>((c, true))
        })
        .await?;
    let effects = if did_change { changed(&updated, before) } else { Effects::none() };
    Ok((updated, effects))
}

/// Who must hear that a channel changed.
fn changed(c: &Channel, before: Vec<Id>) -> Effects {
    match c.guild_id {
        Some(gid) => Effects::guild(gid, &[Change::Channel(c.id)]),
        None => Effects::one(Effect::DmChanged { channel: c.id, before, after: Some(c.clone()) }),
    }
}

/// Delete a guild channel (MANAGE_CHANNELS); a category's children move to the top level.
pub async fn delete(store: &Store, caller: Id, cid: Id) -> Result<Effects, AppError> {
    let ca = ChannelAccess::load(&store.read()?, cid, caller)?;
    let Some(gid) = ca.channel.guild_id else {
        return Err(AppError::invalid(
            "DMs cannot be deleted; leave a group DM with DELETE /channels/{id}/recipients/@me",
        ));
    };
    ca.require(Permissions::MANAGE_CHANNELS)?;
    store
        .write(move |w| {
            let c = w.channel(cid)?.ok_or_else(AppError::unknown_channel)?;
            if c.kind == ChannelKind::Category {
                for mut child in w.guild_channels(gid)?.into_iter().filter(|x| x.parent_id == Some(cid)) {
                    child.parent_id = None;
                    w.put_channel(&child)?;
                }
            }
            w.delete_channel(&c)?;
            Ok::<_, AppError>(())
        })
        .await?;
    Ok(Effects::guild(gid, &[Change::Channels, Change::Channel(cid)]))
}

/// Set one target's overwrite on a guild channel (MANAGE_ROLES there, and
/// only bits the caller holds).
pub async fn put_overwrite(
    store: &Store,
    caller: Id,
    cid: Id,
    target: Id,
    b: OverwriteInput,
) -> Result<(Channel, Effects), AppError> {
    let r = store.read()?;
    let ca = ChannelAccess::load(&r, cid, caller)?;
    ca.require(Permissions::MANAGE_ROLES)?;
    let (channel, _, ga) = ca.into_guild("permission overwrites")?;
    let ow = Overwrite { id: target, kind: b.kind, allow: b.allow, deny: b.deny };
    let others = channel.overwrites.iter().filter(|o| o.id != target).count();
    if others + 1 > MAX_OVERWRITES_PER_CHANNEL {
        return Err(AppError::limit(format!("at most {MAX_OVERWRITES_PER_CHANNEL} overwrites per channel")));
    }
    // Only this target's overwrite is checked: stale or others' bits elsewhere
    // on the channel do not block an edit.
    check_overwrites(&r, &ga, &[ow], &channel.overwrites)?;
    let updated = store
        .write(move |w| {
            let mut c = w.channel(cid)?.ok_or_else(AppError::unknown_channel)?;
            c.overwrites.retain(|o| o.id != target);
            c.overwrites.push(ow);
            w.put_channel(&c)?;
            Ok::<_, AppError>(c)
        })
        .await?;
    let effects = changed(&updated, Vec::new());
    Ok((updated, effects))
}

/// Remove one target's overwrite (MANAGE_ROLES there).
pub async fn delete_overwrite(store: &Store, caller: Id, cid: Id, target: Id) -> Result<(Channel, Effects), AppError> {
    let ca = ChannelAccess::load(&store.read()?, cid, caller)?;
    ca.require(Permissions::MANAGE_ROLES)?;
    let (channel, _, _) = ca.into_guild("permission overwrites")?;
    if !channel.overwrites.iter().any(|o| o.id == target) {
        return Err(AppError::new(ErrorCode::NotFound, "no overwrite for that id on this channel"));
    }
    let updated = store
        .write(move |w| {
            let mut c = w.channel(cid)?.ok_or_else(AppError::unknown_channel)?;
            c.overwrites.retain(|o| o.id != target);
            w.put_channel(&c)?;
            Ok::<_, AppError>(c)
        })
        .await?;
    let effects = changed(&updated, Vec::new());
    Ok((updated, effects))
}

/// The explainer answers for yourself, or for anyone if you may manage roles.
fn explain_for(
    r: &impl Read,
    ga: &GuildAccess,
    target: Id,
    overwrites: Option<&[Overwrite]>,
) -> Result<Explanation, AppError> {
    if target != ga.user {
        ga.require(Permissions::MANAGE_ROLES)?;
    }
    let member = r.member_record(ga.guild.id, target)?.ok_or_else(AppError::unknown_member)?;
    Ok(permissions::explain(&ga.perms(), target, &member.roles, overwrites))
}

/// How `target`'s guild-wide permissions come about.
pub fn explain_guild(r: &impl Read, caller: Id, gid: Id, target: Id) -> Result<Explanation, AppError> {
    let ga = GuildAccess::load(r, gid, caller)?;
    explain_for(r, &ga, target, None)
}

/// How `target`'s permissions in a channel come about.
pub fn explain_channel(r: &impl Read, caller: Id, cid: Id, target: Id) -> Result<Explanation, AppError> {
    let (channel, _, ga) = ChannelAccess::load(r, cid, caller)?.into_guild("permission overwrites")?;
    explain_for(r, &ga, target, Some(&channel.overwrites))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chan(kind: ChannelKind, guild: Option<Id>) -> Channel {
        Channel::new(Id(7), kind, guild, Some("c".into()))
    }

    fn patch() -> ChannelPatch {
        ChannelPatch { name: None, topic: None, parent_id: None, position: None, rate_limit_per_user: None }
    }

    #[test]
    fn parents_are_categories_of_the_same_guild() {
        let g = Id(1);
        let cat = chan(ChannelKind::Category, Some(g));
        assert!(check_parent(ChannelKind::Text, g, Some(&cat)).is_ok());
        assert!(check_parent(ChannelKind::Category, g, Some(&cat)).is_err(), "no nesting");
        assert!(check_parent(ChannelKind::Text, Id(2), Some(&cat)).is_err(), "other guild");
        assert!(check_parent(ChannelKind::Text, g, Some(&chan(ChannelKind::Text, Some(g)))).is_err());
        assert!(check_parent(ChannelKind::Text, g, None).is_err(), "missing parent");
    }

    #[test]
    fn patches_fit_the_kind() {
        assert!(check_patch(ChannelKind::Dm, patch()).is_err());
        let p = ChannelPatch { topic: Some(Some("t".into())), ..patch() };
        assert!(check_patch(ChannelKind::GroupDm, p).is_err());
        let p = ChannelPatch { topic: Some(Some("t".into())), ..patch() };
        assert!(check_patch(ChannelKind::Category, p).is_err());
        let p = ChannelPatch { rate_limit_per_user: Some(MAX_SLOWMODE_SECS + 1), ..patch() };
        assert!(check_patch(ChannelKind::Text, p).is_err());
        let p = ChannelPatch { name: Some(" new ".into()), topic: Some(None), position: Some(3), ..patch() };
        let mut c = chan(ChannelKind::Text, Some(Id(1)));
        c.topic = Some("old".into());
        check_patch(ChannelKind::Text, p).unwrap().apply(&mut c);
        assert_eq!((c.name.as_deref(), c.topic.as_deref(), c.position), (Some("new"), None, 3));
    }

    #[test]
    fn touched_bits_count_moves_between_allow_and_deny() {
        let old = [Overwrite {
            id: Id(3),
            kind: OverwriteKind::Role,
            allow: Permissions::SEND_MESSAGES,
            deny: Permissions::NONE,
        }];
        let moved = Overwrite {
            id: Id(3),
            kind: OverwriteKind::Role,
            allow: Permissions::NONE,
            deny: Permissions::SEND_MESSAGES,
        };
        assert_eq!(touched_bits(&moved, &old), Permissions::SEND_MESSAGES);
        assert_eq!(touched_bits(&old[0], &old), Permissions::NONE);
    }
}
