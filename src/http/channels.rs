//! Guild channels and categories: list, create, reorder/move, get, update,
//! delete, permission overwrites and the permission explainer.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::access::{self, ChannelAccess, GuildAccess};
use super::extract::{Body, Caller};
use crate::actors::channel::ReloadDm;
use crate::actors::guild::Change;
use crate::actors::hub::dispatch_to;
use crate::actors::Core;
use crate::domain::patch;
use crate::errors::AppError;
use crate::model::permissions::{self, Overwrite, OverwriteKind};
use crate::model::{validate, Channel, ChannelKind, Id, Permissions};
use crate::protocol::events::event;
use crate::protocol::limits::{MAX_CHANNELS_PER_GUILD, MAX_OVERWRITES_PER_CHANNEL, MAX_SLOWMODE_SECS};
use crate::store::{Read, Write};

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/guilds/{id}/channels", web::get().to(list))
        .route("/guilds/{id}/channels", web::post().to(create))
        .route("/guilds/{id}/channels", web::patch().to(reorder))
        .route("/guilds/{id}/permissions/{user}", web::get().to(explain_guild))
        .route("/channels/{id}", web::get().to(get))
        .route("/channels/{id}", web::patch().to(update))
        .route("/channels/{id}", web::delete().to(delete))
        .route("/channels/{id}/permissions/{target}", web::put().to(put_overwrite))
        .route("/channels/{id}/permissions/{target}", web::delete().to(delete_overwrite))
        .route("/channels/{id}/permissions/{target}", web::get().to(explain_channel));
}

type CoreData = web::Data<Arc<Core>>;

async fn list(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    let gid = path.into_inner();
    let r = core.store.read()?;
    let ga = GuildAccess::load(&r, gid, caller.user.id)?;
    let visible: Vec<Channel> =
        r.guild_channels(gid)?.into_iter().filter(|c| ga.in_channel(c).contains(Permissions::VIEW_CHANNEL)).collect();
    Ok(HttpResponse::Ok().json(visible))
}

fn check_parent(r: &impl Read, gid: Id, kind: ChannelKind, parent: Option<Id>) -> Result<(), AppError> {
    let Some(pid) = parent else { return Ok(()) };
    if kind == ChannelKind::Category {
        return Err(AppError::invalid("parent_id: categories cannot be nested"));
    }
    match r.channel(pid)? {
        Some(p) if p.guild_id == Some(gid) && p.kind == ChannelKind::Category => Ok(()),
        _ => Err(AppError::invalid("parent_id: not a category of this guild")),
    }
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
        let (old_allow, old_deny) =
            old.iter().find(|p| p.id == o.id).map_or((0, 0), |p| (p.allow.bits(), p.deny.bits()));
        // A bit moved from allow to deny (or back) is a change too.
        let touched = Permissions((o.allow.bits() ^ old_allow) | (o.deny.bits() ^ old_deny));
        let extra = Permissions(touched.bits() & !ga.base.bits());
        if !extra.is_empty() {
            return Err(AppError::new(
                "missing_permissions",
                format!("cannot allow or deny permissions you do not have: {}", extra.names().join(", ")),
            ));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct CreateChannel {
    name: String,
    #[serde(default = "default_kind")]
    kind: ChannelKind,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    parent_id: Option<Id>,
    #[serde(default)]
    position: Option<i32>,
    #[serde(default)]
    overwrites: Vec<Overwrite>,
    /// Slow mode seconds (0 = off).
    #[serde(default)]
    rate_limit_per_user: u32,
}

fn default_kind() -> ChannelKind {
    ChannelKind::Text
}

fn slowmode(secs: u32) -> Result<u32, AppError> {
    if secs > MAX_SLOWMODE_SECS {
        return Err(AppError::invalid(format!("rate_limit_per_user must be 0–{MAX_SLOWMODE_SECS}")));
    }
    Ok(secs)
}

async fn create(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<CreateChannel>,
) -> Result<HttpResponse, AppError> {
    let gid = path.into_inner();
    let r = core.store.read()?;
    let ga = GuildAccess::load(&r, gid, caller.user.id)?;
    ga.require(Permissions::MANAGE_CHANNELS)?;
    if !b.kind.is_guild() {
        return Err(AppError::invalid("kind must be text, voice or category"));
    }
    let name = validate::name("name", &b.name)?;
    let topic = if b.kind == ChannelKind::Category { None } else { validate::topic(b.topic.as_deref())? };
    check_parent(&r, gid, b.kind, b.parent_id)?;
    if !b.overwrites.is_empty() {
        // Setting permissions on a channel is managing roles there.
        ga.require(Permissions::MANAGE_ROLES)?;
    }
    check_overwrites(&r, &ga, &b.overwrites, &[])?;
    let id = core.store.ids().next();
    let mut channel = Channel {
        id,
        kind: b.kind,
        guild_id: Some(gid),
        name: Some(name),
        topic,
        position: b.position.unwrap_or(0),
        parent_id: b.parent_id,
        overwrites: b.overwrites,
        recipients: Vec::new(),
        owner_id: None,
        rate_limit_per_user: slowmode(b.rate_limit_per_user)?,
        created_at: id.timestamp_ms(),
    };
    let explicit_position = b.position.is_some();
    channel = core
        .store
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
    access::reload(&core, gid, Change::Channel(id)).await;
    Ok(HttpResponse::Created().json(channel))
}

#[derive(Deserialize)]
struct Placement {
    id: Id,
    position: Option<i32>,
    /// Absent: unchanged; null: no category.
    #[serde(default, deserialize_with = "super::extract::present")]
    parent_id: Option<Option<Id>>,
}

async fn reorder(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<Vec<Placement>>,
) -> Result<HttpResponse, AppError> {
    let gid = path.into_inner();
    patch::require_fields(&[b.iter().any(|p| p.position.is_some() || p.parent_id.is_some())])?;
    let r = core.store.read()?;
    let ga = GuildAccess::load(&r, gid, caller.user.id)?;
    ga.require(Permissions::MANAGE_CHANNELS)?;
    for p in &b {
        let c = r.channel(p.id)?.filter(|c| c.guild_id == Some(gid)).ok_or_else(AppError::unknown_channel)?;
        if let Some(parent) = p.parent_id {
            check_parent(&r, gid, c.kind, parent)?;
        }
    }
    let changed = core
        .store
        .write(move |w| {
            // Check every item before writing any, so an error changes nothing.
            for p in &b {
                w.channel(p.id)?.filter(|c| c.guild_id == Some(gid)).ok_or_else(AppError::unknown_channel)?;
            }
            let mut changed = false;
            for p in &b {
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
            Ok::<_, AppError>(changed)
        })
        .await?;
    if changed {
        access::reload(&core, gid, Change::Channels).await;
    }
    let visible: Vec<Channel> = core
        .store
        .read()?
        .guild_channels(gid)?
        .into_iter()
        .filter(|c| ga.in_channel(c).contains(Permissions::VIEW_CHANNEL))
        .collect();
    Ok(HttpResponse::Ok().json(visible))
}

async fn get(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    let ca = ChannelAccess::load(&core.store.read()?, path.into_inner(), caller.user.id)?;
    Ok(HttpResponse::Ok().json(ca.channel))
}

#[derive(Deserialize)]
struct UpdateChannel {
    name: Option<String>,
    #[serde(default, deserialize_with = "super::extract::present")]
    topic: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::extract::present")]
    parent_id: Option<Option<Id>>,
    position: Option<i32>,
    rate_limit_per_user: Option<u32>,
}

async fn update(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<UpdateChannel>,
) -> Result<HttpResponse, AppError> {
    let cid = path.into_inner();
    patch::require_fields(&[
        b.name.is_some(),
        b.topic.is_some(),
        b.parent_id.is_some(),
        b.position.is_some(),
        b.rate_limit_per_user.is_some(),
    ])?;
    let r = core.store.read()?;
    let ca = ChannelAccess::load(&r, cid, caller.user.id)?;
    let name = b.name.as_deref().map(|n| validate::name("name", n)).transpose()?;
    if ca.channel.kind == ChannelKind::Dm {
        return Err(AppError::invalid("direct messages have no settings"));
    }
    if ca.channel.kind == ChannelKind::GroupDm {
        if b.topic.is_some() || b.parent_id.is_some() || b.position.is_some() || b.rate_limit_per_user.is_some() {
            return Err(AppError::invalid("group DMs only have a name"));
        }
    } else {
        ca.require(Permissions::MANAGE_CHANNELS)?;
    }
    let topic = match b.topic {
        Some(_) if ca.channel.kind == ChannelKind::Category => {
            return Err(AppError::invalid("categories have no topic"));
        }
        Some(t) => Some(validate::topic(t.as_deref())?),
        None => None,
    };
    if let (Some(parent), Some(gid)) = (b.parent_id, ca.channel.guild_id) {
        check_parent(&r, gid, ca.channel.kind, parent)?;
    }
    let slow = b.rate_limit_per_user.map(slowmode).transpose()?;
    let (updated, changed) = core
        .store
        .write(move |w| {
            let current = w.channel(cid)?.ok_or_else(AppError::unknown_channel)?;
            let Some(c) = patch::apply(&current, |c| {
                if let Some(n) = name {
                    c.name = Some(n);
                }
                if let Some(t) = topic {
                    c.topic = t;
                }
                if let Some(p) = b.parent_id {
                    c.parent_id = p;
                }
                if let Some(p) = b.position {
                    c.position = p;
                }
                if let Some(s) = slow {
                    c.rate_limit_per_user = s;
                }
            }) else {
                return Ok((current, false));
            };
            w.put_channel(&c)?;
            Ok::<_, AppError>((c, true))
        })
        .await?;
    if changed {
        after_channel_change(&core, &updated).await;
    }
    Ok(HttpResponse::Ok().json(updated))
}

/// Tell whoever must know that a channel changed.
async fn after_channel_change(core: &Arc<Core>, c: &Channel) {
    match c.guild_id {
        Some(gid) => access::reload(core, gid, Change::Channel(c.id)).await,
        None => {
            if let Some(a) = core.registry.live_channel(c.id) {
                let _ = a.send(ReloadDm).await;
            }
            dispatch_to(&core.online.sessions_of(&c.recipients), event::CHANNEL_UPDATE, c);
        }
    }
}

async fn delete(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    let cid = path.into_inner();
    let ca = ChannelAccess::load(&core.store.read()?, cid, caller.user.id)?;
    let Some(gid) = ca.channel.guild_id else {
        return Err(AppError::invalid(
            "DMs cannot be deleted; leave a group DM with DELETE /channels/{id}/recipients/@me",
        ));
    };
    ca.require(Permissions::MANAGE_CHANNELS)?;
    core.store
        .write(move |w| {
            let c = w.channel(cid)?.ok_or_else(AppError::unknown_channel)?;
            // Children of a deleted category move to the top level.
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
    access::reload(&core, gid, Change::Channels).await;
    access::reload(&core, gid, Change::Channel(cid)).await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct PutOverwrite {
    kind: OverwriteKind,
    #[serde(default)]
    allow: Permissions,
    #[serde(default)]
    deny: Permissions,
}

fn guild_channel(core: &Arc<Core>, cid: Id, user: Id) -> Result<(ChannelAccess, GuildAccess), AppError> {
    let mut ca = ChannelAccess::load(&core.store.read()?, cid, user)?;
    let ga = ca.guild.take().ok_or_else(|| AppError::invalid("DMs have no permission overwrites"))?;
    Ok((ca, ga))
}

async fn put_overwrite(
    core: CoreData,
    caller: Caller,
    path: web::Path<(Id, Id)>,
    Body(b): Body<PutOverwrite>,
) -> Result<HttpResponse, AppError> {
    let (cid, target) = path.into_inner();
    let (ca, ga) = guild_channel(&core, cid, caller.user.id)?;
    ca.require(Permissions::MANAGE_ROLES)?;
    let ow = Overwrite { id: target, kind: b.kind, allow: b.allow, deny: b.deny };
    let mut all: Vec<Overwrite> = ca.channel.overwrites.iter().filter(|o| o.id != target).copied().collect();
    all.push(ow);
    if all.len() > MAX_OVERWRITES_PER_CHANNEL {
        return Err(AppError::limit(format!("at most {MAX_OVERWRITES_PER_CHANNEL} overwrites per channel")));
    }
    // Only this target's overwrite is checked: stale or others' bits elsewhere
    // on the channel do not block an edit.
    check_overwrites(&core.store.read()?, &ga, &[ow], &ca.channel.overwrites)?;
    let updated = core
        .store
        .write(move |w| {
            let mut c = w.channel(cid)?.ok_or_else(AppError::unknown_channel)?;
            c.overwrites.retain(|o| o.id != target);
            c.overwrites.push(ow);
            w.put_channel(&c)?;
            Ok::<_, AppError>(c)
        })
        .await?;
    after_channel_change(&core, &updated).await;
    Ok(HttpResponse::Ok().json(updated))
}

async fn delete_overwrite(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, target) = path.into_inner();
    let (ca, _) = guild_channel(&core, cid, caller.user.id)?;
    ca.require(Permissions::MANAGE_ROLES)?;
    if !ca.channel.overwrites.iter().any(|o| o.id == target) {
        return Err(AppError::new("not_found", "no overwrite for that id on this channel"));
    }
    let updated = core
        .store
        .write(move |w| {
            let mut c = w.channel(cid)?.ok_or_else(AppError::unknown_channel)?;
            c.overwrites.retain(|o| o.id != target);
            w.put_channel(&c)?;
            Ok::<_, AppError>(c)
        })
        .await?;
    after_channel_change(&core, &updated).await;
    Ok(HttpResponse::Ok().json(updated))
}

/// The explainer answers for yourself, or for anyone if you may manage roles.
fn explain_for(
    core: &Arc<Core>,
    ga: &GuildAccess,
    target: Id,
    overwrites: Option<&[Overwrite]>,
) -> Result<HttpResponse, AppError> {
    if target != ga.user {
        ga.require(Permissions::MANAGE_ROLES)?;
    }
    let member = core.store.read()?.member_record(ga.guild.id, target)?.ok_or_else(AppError::unknown_member)?;
    let e = permissions::explain(&ga.perms(), target, &member.roles, overwrites);
    Ok(HttpResponse::Ok().json(e))
}

async fn explain_guild(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (gid, target) = path.into_inner();
    let ga = GuildAccess::load(&core.store.read()?, gid, caller.user.id)?;
    explain_for(&core, &ga, target, None)
}

async fn explain_channel(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, target) = path.into_inner();
    let (ca, ga) = guild_channel(&core, cid, caller.user.id)?;
    explain_for(&core, &ga, target, Some(&ca.channel.overwrites))
}
