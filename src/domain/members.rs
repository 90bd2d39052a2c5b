//! Members: list (paged), get, update (nickname, roles, voice mute/deafen,
//! disconnect), role grants, kick, leave.

use serde::Deserialize;

use super::access::GuildAccess;
use super::effects::{Change, Effect, Effects};
use super::input::present;
use super::patch;
use crate::errors::{AppError, ErrorCode};
use crate::model::limits::MAX_MEMBERS_PAGE;
use crate::model::{validate, Id, Member, Permissions};
use crate::store::{Read, Store, Write};

/// Default page of members.
const DEFAULT_MEMBERS_PAGE: u32 = 100;

/// A page request.
#[derive(Debug, Deserialize)]
pub struct MemberPage {
    /// Page size (1–MAX_MEMBERS_PAGE, default 100).
    pub limit: Option<u32>,
    /// Members with user ids above this.
    pub after: Option<Id>,
}

/// Changes to a member; absent fields stay as they are.
#[derive(Debug, Deserialize)]
pub struct MemberPatch {
    /// Absent: unchanged; null or "": cleared.
    #[serde(default, deserialize_with = "present")]
    pub nick: Option<Option<String>>,
    /// The complete new role list.
    pub roles: Option<Vec<Id>>,
    /// Server mute in voice (mute_members).
    pub mute: Option<bool>,
    /// Server deafen in voice (deafen_members).
    pub deaf: Option<bool>,
    /// null: disconnect the member from voice (move_members).
    #[serde(default, deserialize_with = "present")]
    pub channel_id: Option<Option<Id>>,
}

/// A page of a guild's members.
pub fn list(r: &impl Read, caller: Id, gid: Id, page: &MemberPage) -> Result<Vec<Member>, AppError> {
    GuildAccess::load(r, gid, caller)?;
    let limit = page.limit.unwrap_or(DEFAULT_MEMBERS_PAGE);
    if !(1..=MAX_MEMBERS_PAGE).contains(&limit) {
        return Err(AppError::new(ErrorCode::InvalidQuery, format!("limit must be 1–{MAX_MEMBERS_PAGE}")));
    }
    Ok(r.members(gid, page.after, limit as usize)?)
}

/// Members in one GUILD_MEMBERS_CHUNK (op 8): the gateway clamps what the
/// client asked for to 1–MAX_MEMBERS_PAGE (default MAX_MEMBERS_PAGE) rather
/// than refusing, as the command has no error path of its own.
pub fn chunk_size(limit: Option<u32>) -> usize {
    limit.unwrap_or(MAX_MEMBERS_PAGE).clamp(1, MAX_MEMBERS_PAGE) as usize
}

/// One member of a guild the caller is in.
pub fn get(r: &impl Read, caller: Id, gid: Id, uid: Id) -> Result<Member, AppError> {
    GuildAccess::load(r, gid, caller)?;
    r.member(gid, uid)?.ok_or_else(AppError::unknown_member)
}

/// Check that the caller may set `target`'s roles from `old` to `new`.
fn check_role_change(ga: &GuildAccess, target: Id, old: &[Id], new: &[Id]) -> Result<(), AppError> {
    ga.require(Permissions::MANAGE_ROLES)?;
    if target != ga.user {
        ga.require_over_member(target, old)?;
    }
    let changed = old.iter().filter(|r| !new.contains(r)).chain(new.iter().filter(|r| !old.contains(r)));
    for rid in changed {
        let role = ga.roles.iter().find(|r| r.id == *rid).ok_or_else(AppError::unknown_role)?;
        if role.id == ga.guild.id {
            return Err(AppError::invalid("@everyone cannot be assigned; every member has it"));
        }
        ga.require_above(role.position, &format!("role {}", role.name))?;
    }
    Ok(())
}

/// Change a member. Each field needs its own permission.
pub async fn update(
    store: &Store,
    caller: Id,
    gid: Id,
    uid: Id,
    b: MemberPatch,
) -> Result<(Member, Effects), AppError> {
    patch::require_fields(&[
        b.nick.is_some(),
        b.roles.is_some(),
        b.mute.is_some(),
        b.deaf.is_some(),
        b.channel_id.is_some(),
    ])?;
    let r = store.read()?;
    let ga = GuildAccess::load(&r, gid, caller)?;
    let current = r.member_record(gid, uid)?.ok_or_else(AppError::unknown_member)?;
    let nick = match b.nick {
        Some(n) => {
            if uid == caller {
                ga.require(Permissions::CHANGE_NICKNAME)?;
            } else {
                ga.require(Permissions::MANAGE_NICKNAMES)?;
                ga.require_over_member(uid, &current.roles)?;
            }
            Some(validate::display_name("nick", n.as_deref())?)
        }
        None => None,
    };
    let roles = match b.roles {
        Some(mut new) => {
            new.sort();
            new.dedup();
            check_role_change(&ga, uid, &current.roles, &new)?;
            Some(new)
        }
        None => None,
    };
    if b.mute.is_some() {
        ga.require(Permissions::MUTE_MEMBERS)?;
    }
    if b.deaf.is_some() {
        ga.require(Permissions::DEAFEN_MEMBERS)?;
    }
    let disconnect = match b.channel_id {
        Some(Some(_)) => {
            return Err(AppError::invalid(
                "moving members between voice channels is not supported; channel_id null disconnects",
            ))
        }
        Some(None) => {
            ga.require(Permissions::MOVE_MEMBERS)?;
            true
        }
        None => false,
    };
    let (mute, deaf) = (b.mute, b.deaf);
    let (member, changed) = store
        .write(move |w| {
            let current = w.member_record(gid, uid)?.ok_or_else(AppError::unknown_member)?;
            let next = patch::apply(&current, |m| {
                if let Some(n) = nick {
                    m.nick = n;
                }
                if let Some(r) = roles {
                    m.roles = r;
                }
                if let Some(v) = mute {
                    m.mute = v;
                }
                if let Some(v) = deaf {
                    m.deaf = v;
                }
            });
            let changed = next.is_some();
            if let Some(m) = next {
                w.put_member(gid, uid, &m)?;
            }
            Ok::<_, AppError>((w.member(gid, uid)?.ok_or_else(AppError::unknown_member)?, changed))
        })
        .await?;
    let mut effects = if changed { Effects::guild(gid, &[Change::Member(uid)]) } else { Effects::none() };
    if disconnect {
        effects.push(Effect::VoiceEvict { guild: gid, user: uid });
    }
    Ok((member, effects))
}

/// Give (`add`) or take a role (MANAGE_ROLES, hierarchy).
pub async fn set_role(store: &Store, caller: Id, gid: Id, uid: Id, rid: Id, add: bool) -> Result<Effects, AppError> {
    let r = store.read()?;
    let ga = GuildAccess::load(&r, gid, caller)?;
    let current = r.member_record(gid, uid)?.ok_or_else(AppError::unknown_member)?;
    let mut new = current.roles.clone();
    new.retain(|r| *r != rid);
    if add {
        new.push(rid);
    }
    check_role_change(&ga, uid, &current.roles, &new)?;
    store
        .write(move |w| {
            let mut m = w.member_record(gid, uid)?.ok_or_else(AppError::unknown_member)?;
            m.roles.retain(|r| *r != rid);
            if add {
                w.role(gid, rid)?.ok_or_else(AppError::unknown_role)?;
                m.roles.push(rid);
            }
            w.put_member(gid, uid, &m)?;
            Ok::<_, AppError>(())
        })
        .await?;
    Ok(Effects::guild(gid, &[Change::Member(uid)]))
}

/// Remove a member (KICK_MEMBERS, hierarchy; not the owner, not yourself).
pub async fn kick(store: &Store, caller: Id, gid: Id, uid: Id) -> Result<Effects, AppError> {
    let r = store.read()?;
    let ga = GuildAccess::load(&r, gid, caller)?;
    let target = r.member_record(gid, uid)?.ok_or_else(AppError::unknown_member)?;
    ga.require(Permissions::KICK_MEMBERS)?;
    if uid == ga.guild.owner_id {
        return Err(AppError::hierarchy("the owner"));
    }
    if uid == ga.user {
        return Err(AppError::invalid("use DELETE /users/@me/guilds/{id} to leave"));
    }
    ga.require_over_member(uid, &target.roles)?;
    store
        .write(move |w| {
            w.member_record(gid, uid)?.ok_or_else(AppError::unknown_member)?;
            w.delete_member(gid, uid)?;
            Ok::<_, AppError>(())
        })
        .await?;
    Ok(Effects::guild(gid, &[Change::Member(uid), Change::Channels]))
}

/// Leave a guild (not as its owner).
pub async fn leave(store: &Store, uid: Id, gid: Id) -> Result<Effects, AppError> {
    let ga = GuildAccess::load(&store.read()?, gid, uid)?;
    if ga.is_owner() {
        return Err(AppError::conflict("the owner cannot leave; delete the guild instead"));
    }
    store
        .write(move |w| {
            w.member_record(gid, uid)?.ok_or_else(AppError::unknown_guild)?;
            w.delete_member(gid, uid)?;
            Ok::<_, AppError>(())
        })
        .await?;
    Ok(Effects::guild(gid, &[Change::Member(uid), Change::Channels]))
}
