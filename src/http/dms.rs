//! Direct messages: 1:1 DMs (one channel per pair, found again on the second
//! request) and group DMs (up to MAX_GROUP_DM_MEMBERS people; add, remove, leave).

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::extract::{Body, Caller};
use super::relationships;
use crate::actors::channel::ReloadDm;
use crate::actors::hub::dispatch_to;
use crate::actors::Core;
use crate::domain::privacy;
use crate::errors::AppError;
use crate::model::{validate, Channel, ChannelKind, Id};
use crate::protocol::events::{event, ChannelDelete};
use crate::protocol::limits::{MAX_GROUP_DM_MEMBERS, MAX_PRIVATE_CHANNELS_PAGE};
use crate::store::{Read, Write};

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/users/@me/channels", web::get().to(list))
        .route("/users/@me/channels", web::post().to(open))
        .route("/channels/{id}/recipients/@me", web::delete().to(leave))
        .route("/channels/{id}/recipients/{user}", web::put().to(add))
        .route("/channels/{id}/recipients/{user}", web::delete().to(remove));
}

type CoreData = web::Data<Arc<Core>>;

#[derive(Deserialize)]
struct Page {
    after: Option<Id>,
    limit: Option<u32>,
}

async fn list(core: CoreData, caller: Caller, page: web::Query<Page>) -> Result<HttpResponse, AppError> {
    let limit = page.limit.unwrap_or(MAX_PRIVATE_CHANNELS_PAGE);
    if !(1..=MAX_PRIVATE_CHANNELS_PAGE).contains(&limit) {
        return Err(AppError::new(
            "invalid_query",
            format!("limit: 1–{MAX_PRIVATE_CHANNELS_PAGE} (MAX_PRIVATE_CHANNELS_PAGE)"),
        ));
    }
    let page = core.store.read()?.user_channels_page(caller.user.id, page.after, limit as usize)?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Deserialize)]
struct Open {
    /// Open (or find) the 1:1 DM with this user.
    recipient_id: Option<Id>,
    /// Or create a group DM with these users (the caller is added).
    recipient_ids: Option<Vec<Id>>,
    /// Optional group DM name.
    name: Option<String>,
}

fn new_dm(id: Id, kind: ChannelKind, recipients: Vec<Id>, owner: Option<Id>, name: Option<String>) -> Channel {
    Channel {
        id,
        kind,
        guild_id: None,
        name,
        topic: None,
        position: 0,
        parent_id: None,
        overwrites: Vec::new(),
        recipients,
        owner_id: owner,
        rate_limit_per_user: 0,
        created_at: id.timestamp_ms(),
    }
}

async fn open(core: CoreData, caller: Caller, Body(b): Body<Open>) -> Result<HttpResponse, AppError> {
    let me = caller.user.id;
    match (b.recipient_id, b.recipient_ids) {
        (Some(other), None) => open_dm(&core, me, other).await,
        (None, Some(others)) => open_group(&core, me, others, b.name).await,
        _ => Err(AppError::invalid("give either recipient_id or recipient_ids")),
    }
}

async fn open_dm(core: &Arc<Core>, me: Id, other: Id) -> Result<HttpResponse, AppError> {
    if other == me {
        return Err(AppError::invalid("recipient_id: cannot open a DM with yourself"));
    }
    core.limits.dm_open(me)?;
    let r = core.store.read()?;
    r.user(other)?.ok_or_else(AppError::unknown_user)?;
    if let Some(cid) = r.dm_channel_id(me, other)? {
        // An existing DM is found again unless a block stands between the two.
        relationships::check_dm_send(&r, me, other)?;
        let c = r.channel(cid)?.ok_or_else(AppError::unknown_channel)?;
        return Ok(HttpResponse::Ok().json(c));
    }
    relationships::check_dm_open(&r, me, other)?;
    let channel = new_dm(core.store.ids().next(), ChannelKind::Dm, vec![me, other], None, None);
    let c = channel.clone();
    let (created, channel) = core
        .store
        .write(move |w| {
            // Two requests may race; the first one's channel wins.
            if let Some(existing) = w.dm_channel_id(me, other)? {
                return Ok::<_, AppError>((false, w.channel(existing)?.ok_or_else(AppError::unknown_channel)?));
            }
            // A block may have landed since the check above.
            relationships::check_dm_open(w, me, other)?;
            w.put_channel(&c)?;
            w.put_dm_pair(me, other, c.id)?;
            w.add_user_channel(me, c.id)?;
            w.add_user_channel(other, c.id)?;
            Ok((true, c))
        })
        .await?;
    if created {
        dispatch_to(&core.online.sessions_of(&channel.recipients), event::CHANNEL_CREATE, &channel);
        Ok(HttpResponse::Created().json(channel))
    } else {
        Ok(HttpResponse::Ok().json(channel))
    }
}

async fn open_group(
    core: &Arc<Core>,
    me: Id,
    mut others: Vec<Id>,
    name: Option<String>,
) -> Result<HttpResponse, AppError> {
    others.retain(|u| *u != me);
    others.sort();
    others.dedup();
    if others.is_empty() || others.len() + 1 > MAX_GROUP_DM_MEMBERS {
        return Err(AppError::invalid(format!(
            "recipient_ids: a group DM has 2–{MAX_GROUP_DM_MEMBERS} people including you"
        )));
    }
    let name = name.as_deref().map(|n| validate::name("name", n)).transpose()?;
    let r = core.store.read()?;
    for u in &others {
        r.user(*u)?.ok_or_else(AppError::unknown_user)?;
    }
    privacy::group_dm_room(r.group_dm_count(me)?, true)?;
    for u in &others {
        relationships::check_group_add(&r, me, *u)?;
    }
    core.limits.group_dm_add(me)?;
    let mut recipients = vec![me];
    recipients.extend(others);
    let channel = new_dm(core.store.ids().next(), ChannelKind::GroupDm, recipients, Some(me), name);
    let c = channel.clone();
    core.store
        .write(move |w| {
            privacy::group_dm_room(w.group_dm_count(me)?, true)?;
            for u in c.recipients.iter().filter(|u| **u != me) {
                relationships::check_group_add(w, me, *u)?;
            }
            w.put_channel(&c)?;
            for u in &c.recipients {
                w.add_user_channel(*u, c.id)?;
            }
            Ok::<_, AppError>(())
        })
        .await?;
    dispatch_to(&core.online.sessions_of(&channel.recipients), event::CHANNEL_CREATE, &channel);
    Ok(HttpResponse::Created().json(channel))
}

fn group_of(core: &Arc<Core>, cid: Id, me: Id) -> Result<Channel, AppError> {
    let c = core
        .store
        .read()?
        .channel(cid)?
        .filter(|c| c.recipients.contains(&me))
        .ok_or_else(AppError::unknown_channel)?;
    if c.kind != ChannelKind::GroupDm {
        return Err(AppError::invalid("only group DMs have changeable recipients"));
    }
    Ok(c)
}

/// Tell everyone involved about a recipient change.
async fn announce(core: &Arc<Core>, before: &[Id], after: Option<&Channel>, cid: Id) {
    if let Some(a) = core.registry.live_channel(cid) {
        let _ = a.send(ReloadDm).await;
    }
    let after_ids: &[Id] = after.map_or(&[], |c| c.recipients.as_slice());
    let added: Vec<Id> = after_ids.iter().filter(|u| !before.contains(u)).copied().collect();
    let kept: Vec<Id> = after_ids.iter().filter(|u| before.contains(u)).copied().collect();
    let removed: Vec<Id> = before.iter().filter(|u| !after_ids.contains(u)).copied().collect();
    if let Some(c) = after {
        dispatch_to(&core.online.sessions_of(&added), event::CHANNEL_CREATE, c);
        dispatch_to(&core.online.sessions_of(&kept), event::CHANNEL_UPDATE, c);
    }
    dispatch_to(&core.online.sessions_of(&removed), event::CHANNEL_DELETE, &ChannelDelete { id: cid, guild_id: None });
}

async fn add(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, uid) = path.into_inner();
    let me = caller.user.id;
    let before = group_of(&core, cid, me)?.recipients;
    let r = core.store.read()?;
    r.user(uid)?.ok_or_else(AppError::unknown_user)?;
    if !before.contains(&uid) {
        relationships::check_group_add(&r, me, uid)?;
        core.limits.group_dm_add(me)?;
    }
    drop(r);
    let c = core
        .store
        .write(move |w| {
            let mut c = w.channel(cid)?.filter(|c| c.recipients.contains(&me)).ok_or_else(AppError::unknown_channel)?;
            if c.recipients.contains(&uid) {
                return Ok::<_, AppError>(c);
            }
            if c.recipients.len() >= MAX_GROUP_DM_MEMBERS {
                return Err(AppError::limit(format!("a group DM has at most {MAX_GROUP_DM_MEMBERS} people")));
            }
            relationships::check_group_add(w, me, uid)?;
            c.recipients.push(uid);
            w.put_channel(&c)?;
            w.add_user_channel(uid, cid)?;
            Ok(c)
        })
        .await?;
    announce(&core, &before, Some(&c), cid).await;
    Ok(HttpResponse::Ok().json(c))
}

async fn remove_user(core: &Arc<Core>, me: Id, cid: Id, uid: Id) -> Result<HttpResponse, AppError> {
    let c = group_of(core, cid, me)?;
    if uid != me && c.owner_id != Some(me) {
        return Err(AppError::new("missing_permissions", "only the group DM's owner may remove others"));
    }
    if !c.recipients.contains(&uid) {
        return Err(AppError::unknown_user());
    }
    let before = c.recipients.clone();
    let after = core
        .store
        .write(move |w| {
            let mut c = w.channel(cid)?.ok_or_else(AppError::unknown_channel)?;
            c.recipients.retain(|u| *u != uid);
            w.remove_user_channel(uid, cid)?;
            if c.recipients.is_empty() {
                w.delete_channel(&c)?;
                return Ok::<_, AppError>(None);
            }
            if c.owner_id == Some(uid) {
                // Ownership passes to the longest-standing remaining member.
                c.owner_id = c.recipients.first().copied();
            }
            w.put_channel(&c)?;
            Ok(Some(c))
        })
        .await?;
    announce(core, &before, after.as_ref(), cid).await;
    Ok(HttpResponse::NoContent().finish())
}

async fn remove(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, uid) = path.into_inner();
    remove_user(&core, caller.user.id, cid, uid).await
}

async fn leave(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    remove_user(&core, caller.user.id, path.into_inner(), caller.user.id).await
}
