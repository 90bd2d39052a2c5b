//! Guilds: create, get, list mine, rename, delete, leave.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::access::{self, GuildAccess};
use super::extract::{Body, Caller};
use crate::actors::guild::Change;
use crate::actors::Core;
use crate::domain::patch;
use crate::errors::AppError;
use crate::model::{validate, Channel, ChannelKind, Guild, Id, Permissions, Role};
use crate::protocol::limits::MAX_GUILDS_PER_USER;
use crate::store::{MemberRecord, Read, Write};

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/guilds", web::post().to(create))
        .route("/users/@me/guilds", web::get().to(list_mine))
        .route("/users/@me/guilds/{id}", web::delete().to(leave))
        .route("/guilds/{id}", web::get().to(get))
        .route("/guilds/{id}", web::patch().to(update))
        .route("/guilds/{id}", web::delete().to(delete));
}

type CoreData = web::Data<Arc<Core>>;

#[derive(Deserialize)]
struct CreateGuild {
    name: String,
}

async fn create(core: CoreData, caller: Caller, Body(b): Body<CreateGuild>) -> Result<HttpResponse, AppError> {
    let name = validate::name("name", &b.name)?;
    let ids = core.store.ids();
    let gid = ids.next();
    let now = gid.timestamp_ms();
    let owner = caller.user.id;
    let guild = Guild { id: gid, name, owner_id: owner, created_at: now };
    let everyone = Role {
        id: gid,
        guild_id: gid,
        name: "@everyone".into(),
        color: 0,
        position: 0,
        permissions: Permissions::DEFAULT_EVERYONE,
        hoist: false,
    };
    let channel = |kind, name: &str, position| Channel {
        id: ids.next(),
        kind,
        guild_id: Some(gid),
        name: Some(name.to_string()),
        topic: None,
        position,
        parent_id: None,
        overwrites: Vec::new(),
        recipients: Vec::new(),
        owner_id: None,
        rate_limit_per_user: 0,
        created_at: now,
    };
    let defaults = [channel(ChannelKind::Text, "general", 0), channel(ChannelKind::Voice, "General", 1)];
    let g = guild.clone();
    core.store
        .write(move |w| {
            if w.user_guild_ids(owner)?.len() >= MAX_GUILDS_PER_USER {
                return Err(AppError::limit(format!("a user may be in at most {MAX_GUILDS_PER_USER} guilds")));
            }
            w.put_guild(&g)?;
            w.put_role(&everyone)?;
            for c in &defaults {
                w.put_channel(c)?;
            }
            w.put_member(gid, owner, &MemberRecord::joined(now))?;
            Ok(())
        })
        .await?;
    access::joined(&core, gid, owner).await?;
    Ok(HttpResponse::Created().json(guild))
}

async fn list_mine(core: CoreData, caller: Caller) -> Result<HttpResponse, AppError> {
    let r = core.store.read()?;
    let mut out = Vec::new();
    for gid in r.user_guild_ids(caller.user.id)? {
        if let Some(g) = r.guild(gid)? {
            out.push(g);
        }
    }
    Ok(HttpResponse::Ok().json(out))
}

async fn get(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    let ga = GuildAccess::load(&core.store.read()?, path.into_inner(), caller.user.id)?;
    Ok(HttpResponse::Ok().json(ga.guild))
}

#[derive(Deserialize)]
struct UpdateGuild {
    name: Option<String>,
}

async fn update(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<UpdateGuild>,
) -> Result<HttpResponse, AppError> {
    let gid = path.into_inner();
    patch::require_fields(&[b.name.is_some()])?;
    let ga = GuildAccess::load(&core.store.read()?, gid, caller.user.id)?;
    ga.require(Permissions::MANAGE_GUILD)?;
    let name = b.name.as_deref().map(|n| validate::name("name", n)).transpose()?;
    let (guild, changed) = core
        .store
        .write(move |w| {
            let current = w.guild(gid)?.ok_or_else(AppError::unknown_guild)?;
            let Some(g) = patch::apply(&current, |g| {
                if let Some(n) = name {
                    g.name = n;
                }
            }) else {
                return Ok((current, false));
            };
            w.put_guild(&g)?;
            Ok::<_, AppError>((g, true))
        })
        .await?;
    if changed {
        access::reload(&core, gid, Change::Guild).await;
    }
    Ok(HttpResponse::Ok().json(guild))
}

async fn delete(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    let gid = path.into_inner();
    let ga = GuildAccess::load(&core.store.read()?, gid, caller.user.id)?;
    if !ga.is_owner() {
        return Err(AppError::new("missing_permissions", "only the owner may delete a guild"));
    }
    core.store.write(move |w| Ok::<_, AppError>(w.delete_guild(gid)?)).await?;
    access::reload(&core, gid, Change::Deleted).await;
    Ok(HttpResponse::NoContent().finish())
}

async fn leave(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    let gid = path.into_inner();
    let uid = caller.user.id;
    let ga = GuildAccess::load(&core.store.read()?, gid, uid)?;
    if ga.is_owner() {
        return Err(AppError::conflict("the owner cannot leave; delete the guild instead"));
    }
    core.store
        .write(move |w| {
            w.member_record(gid, uid)?.ok_or_else(AppError::unknown_guild)?;
            w.delete_member(gid, uid)?;
            Ok::<_, AppError>(())
        })
        .await?;
    access::reload(&core, gid, Change::Member(uid)).await;
    access::reload(&core, gid, Change::Channels).await;
    Ok(HttpResponse::NoContent().finish())
}
