//! Roles: list, create, update, delete, reorder — under the hierarchy rules:
//! nobody manages a role at or above their own highest (the owner excepted),
//! and nobody grants permissions they do not have.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::access::{self, GuildAccess};
use super::extract::{Body, Caller};
use crate::actors::guild::Change;
use crate::actors::Core;
use crate::domain::patch;
use crate::errors::AppError;
use crate::model::{validate, Id, Permissions, Role};
use crate::protocol::limits::MAX_ROLES_PER_GUILD;
use crate::store::{Read, Write};

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/guilds/{id}/roles", web::get().to(list))
        .route("/guilds/{id}/roles", web::post().to(create))
        .route("/guilds/{id}/roles", web::patch().to(reorder))
        .route("/guilds/{id}/roles/{role}", web::patch().to(update))
        .route("/guilds/{id}/roles/{role}", web::delete().to(delete));
}

type CoreData = web::Data<Arc<Core>>;

async fn list(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    let ga = GuildAccess::load(&core.store.read()?, path.into_inner(), caller.user.id)?;
    Ok(HttpResponse::Ok().json(ga.roles))
}

/// 403 unless every bit in `p` is one the caller holds (owners and administrators hold all).
fn check_grantable(ga: &GuildAccess, p: Permissions) -> Result<(), AppError> {
    let extra = Permissions(p.bits() & !ga.base.bits());
    if extra.is_empty() {
        Ok(())
    } else {
        Err(AppError::new(
            "missing_permissions",
            format!("cannot grant permissions you do not have: {}", extra.names().join(", ")),
        ))
    }
}

#[derive(Deserialize)]
struct CreateRole {
    name: String,
    #[serde(default)]
    color: u32,
    #[serde(default)]
    permissions: Option<Permissions>,
    #[serde(default)]
    hoist: bool,
}

async fn create(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<CreateRole>,
) -> Result<HttpResponse, AppError> {
    let gid = path.into_inner();
    let ga = GuildAccess::load(&core.store.read()?, gid, caller.user.id)?;
    ga.require(Permissions::MANAGE_ROLES)?;
    let name = validate::name("name", &b.name)?;
    let permissions = b.permissions.unwrap_or(Permissions::NONE);
    check_grantable(&ga, permissions)?;
    if b.color > 0xFF_FFFF {
        return Err(AppError::invalid("color must be an RGB value 0–16777215"));
    }
    let role = Role {
        id: core.store.ids().next(),
        guild_id: gid,
        name,
        color: b.color,
        position: 1,
        permissions,
        hoist: b.hoist,
    };
    let r = role.clone();
    core.store
        .write(move |w| {
            let roles = w.roles(gid)?;
            if roles.len() >= MAX_ROLES_PER_GUILD {
                return Err(AppError::limit(format!("a guild may have at most {MAX_ROLES_PER_GUILD} roles")));
            }
            // New roles go to the bottom (just above @everyone); the others move up.
            for mut other in roles.into_iter().filter(|x| x.id != gid) {
                other.position += 1;
                w.put_role(&other)?;
            }
            w.put_role(&r)?;
            Ok(())
        })
        .await?;
    access::reload(&core, gid, Change::Role(role.id)).await;
    access::reload(&core, gid, Change::Roles).await;
    Ok(HttpResponse::Created().json(role))
}

#[derive(Deserialize)]
struct UpdateRole {
    name: Option<String>,
    color: Option<u32>,
    permissions: Option<Permissions>,
    hoist: Option<bool>,
}

async fn update(
    core: CoreData,
    caller: Caller,
    path: web::Path<(Id, Id)>,
    Body(b): Body<UpdateRole>,
) -> Result<HttpResponse, AppError> {
    let (gid, rid) = path.into_inner();
    patch::require_fields(&[b.name.is_some(), b.color.is_some(), b.permissions.is_some(), b.hoist.is_some()])?;
    let ga = GuildAccess::load(&core.store.read()?, gid, caller.user.id)?;
    let role = ga.roles.iter().find(|r| r.id == rid).cloned().ok_or_else(AppError::unknown_role)?;
    ga.require(Permissions::MANAGE_ROLES)?;
    let is_everyone = rid == gid;
    if !is_everyone {
        ga.require_above(role.position, &format!("role {}", role.name))?;
    }
    let name = match b.name {
        Some(_) if is_everyone => return Err(AppError::invalid("@everyone cannot be renamed")),
        Some(n) => Some(validate::name("name", &n)?),
        None => None,
    };
    if let Some(p) = b.permissions {
        // Only changed bits must be grantable: keeping what others gave is fine.
        check_grantable(&ga, Permissions(p.bits() ^ role.permissions.bits()))?;
    }
    if b.color.is_some_and(|c| c > 0xFF_FFFF) {
        return Err(AppError::invalid("color must be an RGB value 0–16777215"));
    }
    let (updated, changed) = core
        .store
        .write(move |w| {
            let current = w.role(gid, rid)?.ok_or_else(AppError::unknown_role)?;
            let Some(r) = patch::apply(&current, |r| {
                if let Some(n) = name {
                    r.name = n;
                }
                if let Some(c) = b.color {
                    r.color = c;
                }
                if let Some(p) = b.permissions {
                    r.permissions = p;
                }
                if let Some(h) = b.hoist {
                    r.hoist = h;
                }
            }) else {
                return Ok((current, false));
            };
            w.put_role(&r)?;
            Ok::<_, AppError>((r, true))
        })
        .await?;
    if changed {
        access::reload(&core, gid, Change::Role(rid)).await;
    }
    Ok(HttpResponse::Ok().json(updated))
}

async fn delete(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (gid, rid) = path.into_inner();
    let ga = GuildAccess::load(&core.store.read()?, gid, caller.user.id)?;
    let role = ga.roles.iter().find(|r| r.id == rid).cloned().ok_or_else(AppError::unknown_role)?;
    ga.require(Permissions::MANAGE_ROLES)?;
    if rid == gid {
        return Err(AppError::invalid("@everyone cannot be deleted"));
    }
    ga.require_above(role.position, &format!("role {}", role.name))?;
    core.store
        .write(move |w| {
            w.role(gid, rid)?.ok_or_else(AppError::unknown_role)?;
            w.delete_role(gid, rid)?;
            Ok::<_, AppError>(())
        })
        .await?;
    access::reload(&core, gid, Change::Role(rid)).await;
    // Its overwrites were removed from the channels.
    access::reload(&core, gid, Change::Channels).await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct Position {
    id: Id,
    position: i32,
}

async fn reorder(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<Vec<Position>>,
) -> Result<HttpResponse, AppError> {
    let gid = path.into_inner();
    patch::require_fields(&[!b.is_empty()])?;
    let ga = GuildAccess::load(&core.store.read()?, gid, caller.user.id)?;
    ga.require(Permissions::MANAGE_ROLES)?;
    let mut roles: Vec<Role> = ga.roles.iter().filter(|r| r.id != gid).cloned().collect();
    for p in &b {
        let role = roles.iter_mut().find(|r| r.id == p.id).ok_or_else(AppError::unknown_role)?;
        if p.position < 1 {
            return Err(AppError::invalid("positions start at 1 (0 is @everyone)"));
        }
        // Both where the role is and where it goes must be below the caller.
        ga.require_above(role.position, &format!("role {}", role.name))?;
        ga.require_above(p.position, &format!("position {}", p.position))?;
        role.position = p.position;
    }
    // Normalise to 1..=n, keeping the requested order; ties by old order (id).
    roles.sort_by_key(|r| (r.position, r.id));
    for (i, r) in roles.iter_mut().enumerate() {
        r.position = i32::try_from(i + 1).unwrap_or(i32::MAX);
    }
    let positions: Vec<(Id, i32)> = roles.iter().map(|r| (r.id, r.position)).collect();
    let changed = core
        .store
        .write(move |w| {
            // Only positions change; other fields are re-read so concurrent edits survive.
            let mut changed = false;
            for (id, pos) in &positions {
                if let Some(current) = w.role(gid, *id)? {
                    if let Some(r) = patch::apply(&current, |r| r.position = *pos) {
                        w.put_role(&r)?;
                        changed = true;
                    }
                }
            }
            Ok::<_, AppError>(changed)
        })
        .await?;
    if changed {
        access::reload(&core, gid, Change::Roles).await;
    }
    Ok(HttpResponse::Ok().json(core.store.read()?.roles(gid)?))
}
