//! Members: list (paged), get, update (nickname, roles), kick.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::access::{self, GuildAccess};
use super::extract::{Body, Caller};
use crate::actors::guild::Change;
use crate::actors::Core;
use crate::domain::patch;
use crate::errors::AppError;
use crate::model::permissions::can_manage_member;
use crate::model::{validate, Id, Permissions};
use crate::protocol::limits::MAX_MEMBERS_PAGE;
use crate::store::{Read, Write};

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/guilds/{id}/members", web::get().to(list))
        .route("/guilds/{id}/members/{user}", web::get().to(get))
        .route("/guilds/{id}/members/{user}", web::patch().to(update))
        .route("/guilds/{id}/members/{user}", web::delete().to(kick))
        .route("/guilds/{id}/members/{user}/roles/{role}", web::put().to(add_role))
        .route("/guilds/{id}/members/{user}/roles/{role}", web::delete().to(remove_role));
}

type CoreData = web::Data<Arc<Core>>;

#[derive(Deserialize)]
struct Page {
    limit: Option<u32>,
    after: Option<Id>,
}

async fn list(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    q: web::Query<Page>,
) -> Result<HttpResponse, AppError> {
    let gid = path.into_inner();
    let r = core.store.read()?;
    GuildAccess::load(&r, gid, caller.user.id)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_MEMBERS_PAGE).contains(&limit) {
        return Err(AppError::new("invalid_query", format!("limit must be 1–{MAX_MEMBERS_PAGE}")));
    }
    Ok(HttpResponse::Ok().json(r.members(gid, q.after, limit as usize)?))
}

async fn get(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (gid, uid) = path.into_inner();
    let r = core.store.read()?;
    GuildAccess::load(&r, gid, caller.user.id)?;
    let m = r.member(gid, uid)?.ok_or_else(AppError::unknown_member)?;
    Ok(HttpResponse::Ok().json(m))
}

#[derive(Deserialize)]
struct UpdateMember {
    /// Absent: unchanged; null or "": cleared.
    #[serde(default, deserialize_with = "super::extract::present")]
    nick: Option<Option<String>>,
    roles: Option<Vec<Id>>,
    /// Server mute in voice (mute_members).
    mute: Option<bool>,
    /// Server deafen in voice (deafen_members).
    deaf: Option<bool>,
    /// null: disconnect the member from voice (move_members).
    #[serde(default, deserialize_with = "super::extract::present")]
    channel_id: Option<Option<Id>>,
}

/// Check that the caller may set `target`'s roles from `old` to `new`.
fn check_role_change(ga: &GuildAccess, target: Id, old: &[Id], new: &[Id]) -> Result<(), AppError> {
    ga.require(Permissions::MANAGE_ROLES)?;
    let target_is_self = target == ga.user;
    if !target_is_self && !can_manage_member(&ga.perms(), ga.user, &ga.member_roles, target, old) {
        return Err(AppError::hierarchy("that member"));
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

async fn update(
    core: CoreData,
    caller: Caller,
    path: web::Path<(Id, Id)>,
    Body(b): Body<UpdateMember>,
) -> Result<HttpResponse, AppError> {
    let (gid, uid) = path.into_inner();
    patch::require_fields(&[
        b.nick.is_some(),
        b.roles.is_some(),
        b.mute.is_some(),
        b.deaf.is_some(),
        b.channel_id.is_some(),
    ])?;
    let ga = GuildAccess::load(&core.store.read()?, gid, caller.user.id)?;
    let current = core.store.read()?.member_record(gid, uid)?.ok_or_else(AppError::unknown_member)?;
    let nick = match b.nick {
        Some(n) => {
            if uid == caller.user.id {
                ga.require(Permissions::CHANGE_NICKNAME)?;
            } else {
                ga.require(Permissions::MANAGE_NICKNAMES)?;
                if !can_manage_member(&ga.perms(), ga.user, &ga.member_roles, uid, &current.roles) {
                    return Err(AppError::hierarchy("that member"));
                }
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
    let changed = core
        .store
        .write(move |w| {
            let current = w.member_record(gid, uid)?.ok_or_else(AppError::unknown_member)?;
            let Some(m) = patch::apply(&current, |m| {
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
            }) else {
                return Ok(false);
            };
            w.put_member(gid, uid, &m)?;
            Ok::<_, AppError>(true)
        })
        .await?;
    if changed {
        access::reload(&core, gid, Change::Member(uid)).await;
    }
    if disconnect {
        if let Some(g) = core.registry.live_guild(gid) {
            let _ = g.send(crate::actors::guild::VoiceEvict { user_id: uid }).await;
        }
    }
    let m = core.store.read()?.member(gid, uid)?.ok_or_else(AppError::unknown_member)?;
    Ok(HttpResponse::Ok().json(m))
}

async fn set_role(
    core: CoreData,
    caller: Caller,
    gid: Id,
    uid: Id,
    rid: Id,
    add: bool,
) -> Result<HttpResponse, AppError> {
    let ga = GuildAccess::load(&core.store.read()?, gid, caller.user.id)?;
    let current = core.store.read()?.member_record(gid, uid)?.ok_or_else(AppError::unknown_member)?;
    let mut new = current.roles.clone();
    new.retain(|r| *r != rid);
    if add {
        new.push(rid);
    }
    check_role_change(&ga, uid, &current.roles, &new)?;
    core.store
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
    access::reload(&core, gid, Change::Member(uid)).await;
    Ok(HttpResponse::NoContent().finish())
}

async fn add_role(core: CoreData, caller: Caller, path: web::Path<(Id, Id, Id)>) -> Result<HttpResponse, AppError> {
    let (g, u, r) = path.into_inner();
    set_role(core, caller, g, u, r, true).await
}

async fn remove_role(core: CoreData, caller: Caller, path: web::Path<(Id, Id, Id)>) -> Result<HttpResponse, AppError> {
    let (g, u, r) = path.into_inner();
    set_role(core, caller, g, u, r, false).await
}

async fn kick(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (gid, uid) = path.into_inner();
    let ga = GuildAccess::load(&core.store.read()?, gid, caller.user.id)?;
    let target = core.store.read()?.member_record(gid, uid)?.ok_or_else(AppError::unknown_member)?;
    ga.require(Permissions::KICK_MEMBERS)?;
    if uid == ga.guild.owner_id {
        return Err(AppError::hierarchy("the owner"));
    }
    if uid == ga.user {
        return Err(AppError::invalid("use DELETE /users/@me/guilds/{id} to leave"));
    }
    if !can_manage_member(&ga.perms(), ga.user, &ga.member_roles, uid, &target.roles) {
        return Err(AppError::hierarchy("that member"));
    }
    core.store
        .write(move |w| {
            w.member_record(gid, uid)?.ok_or_else(AppError::unknown_member)?;
            w.delete_member(gid, uid)?;
            Ok::<_, AppError>(())
        })
        .await?;
    access::reload(&core, gid, Change::Member(uid)).await;
    access::reload(&core, gid, Change::Channels).await;
    Ok(HttpResponse::NoContent().finish())
}
