//! Invites: create (optional max uses and expiry), list, preview, join, revoke.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::access::{self, ChannelAccess, GuildAccess};
use super::extract::{Body, Caller};
use crate::actors::Core;
use crate::auth::new_invite_code;
use crate::errors::AppError;
use crate::model::{Guild, Id, Invite, Permissions};
use crate::protocol::limits::{MAX_GUILDS_PER_USER, MAX_INVITES_PER_GUILD, MAX_INVITE_AGE_SECS, MAX_INVITE_USES};
use crate::store::{MemberRecord, Read, Write};
use crate::util::now_ms;

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/channels/{id}/invites", web::post().to(create))
        .route("/guilds/{id}/invites", web::get().to(list))
        .route("/invites/{code}", web::get().to(preview))
        .route("/invites/{code}", web::post().to(join))
        .route("/invites/{code}", web::delete().to(revoke));
}

type CoreData = web::Data<Arc<Core>>;

#[derive(Deserialize)]
struct CreateInvite {
    /// 1–100000; absent or null for unlimited.
    max_uses: Option<u32>,
    /// Lifetime in seconds, 1–604800; absent or null for the maximum (7 days); 0 for never.
    max_age_secs: Option<u64>,
}

async fn create(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<CreateInvite>,
) -> Result<HttpResponse, AppError> {
    let cid = path.into_inner();
    let ca = ChannelAccess::load(&core.store.read()?, cid, caller.user.id)?;
    let gid = ca.channel.guild_id.ok_or_else(|| AppError::invalid("invites are for guild channels"))?;
    if !ca.channel.kind.has_messages() {
        return Err(AppError::invalid("invites point at a text or voice channel, not a category"));
    }
    ca.require(Permissions::CREATE_INVITES)?;
    if b.max_uses.is_some_and(|m| m == 0 || m > MAX_INVITE_USES) {
        return Err(AppError::invalid(format!("max_uses must be 1–{MAX_INVITE_USES}")));
    }
    let age = b.max_age_secs.unwrap_or(MAX_INVITE_AGE_SECS);
    if age > MAX_INVITE_AGE_SECS {
        return Err(AppError::invalid(format!("max_age_secs must be 0–{MAX_INVITE_AGE_SECS}")));
    }
    let now = now_ms();
    let invite = Invite {
        code: new_invite_code(),
        guild_id: gid,
        channel_id: cid,
        inviter_id: caller.user.id,
        max_uses: b.max_uses,
        uses: 0,
        expires_at: (age > 0).then(|| now + age * 1000),
        created_at: now,
    };
    let inv = invite.clone();
    core.store
        .write(move |w| {
            // Expired and used-up invites are purged rather than counted
            // (after every check: a refused write must change nothing).
            let (live, spent): (Vec<Invite>, Vec<Invite>) =
                w.guild_invites(gid)?.into_iter().partition(|i| i.is_usable(now));
            if live.len() >= MAX_INVITES_PER_GUILD {
                return Err(AppError::limit(format!("a guild may have at most {MAX_INVITES_PER_GUILD} invites")));
            }
            if w.invite(&inv.code)?.is_some() {
                return Err(AppError::conflict("invite code collision; try again"));
            }
            for old in spent {
                w.delete_invite(gid, &old.code)?;
            }
            w.put_invite(&inv)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Created().json(invite))
}

async fn list(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    let gid = path.into_inner();
    let r = core.store.read()?;
    let ga = GuildAccess::load(&r, gid, caller.user.id)?;
    ga.require(Permissions::MANAGE_GUILD)?;
    Ok(HttpResponse::Ok().json(r.guild_invites(gid)?))
}

#[derive(Serialize)]
struct Preview {
    code: String,
    guild: Guild,
    channel_id: Id,
    channel_name: Option<String>,
    member_count: usize,
    expires_at: Option<u64>,
}

fn usable(r: &impl Read, code: &str) -> Result<Invite, AppError> {
    r.invite(code)?.filter(|i| i.is_usable(now_ms())).ok_or_else(AppError::unknown_invite)
}

async fn preview(core: CoreData, _caller: Caller, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let r = core.store.read()?;
    let inv = usable(&r, &path)?;
    let guild = r.guild(inv.guild_id)?.ok_or_else(AppError::unknown_invite)?;
    let channel_name = r.channel(inv.channel_id)?.and_then(|c| c.name);
    Ok(HttpResponse::Ok().json(Preview {
        code: inv.code,
        member_count: r.member_count(guild.id)?,
        guild,
        channel_id: inv.channel_id,
        channel_name,
        expires_at: inv.expires_at,
    }))
}

async fn join(core: CoreData, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let code = path.into_inner();
    let uid = caller.user.id;
    let guild = core
        .store
        .write(move |w| {
            let mut inv = usable(w, &code)?;
            let guild = w.guild(inv.guild_id)?.ok_or_else(AppError::unknown_invite)?;
            if w.member_record(guild.id, uid)?.is_some() {
                return Err(AppError::conflict("you are already a member of this guild"));
            }
            if w.user_guild_ids(uid)?.len() >= MAX_GUILDS_PER_USER {
                return Err(AppError::limit(format!("a user may be in at most {MAX_GUILDS_PER_USER} guilds")));
            }
            inv.uses += 1;
            w.put_invite(&inv)?;
            w.put_member(guild.id, uid, &MemberRecord::joined(now_ms()))?;
            Ok(guild)
        })
        .await?;
    access::joined(&core, guild.id, uid).await?;
    Ok(HttpResponse::Ok().json(guild))
}

async fn revoke(core: CoreData, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let code = path.into_inner();
    let r = core.store.read()?;
    let inv = r.invite(&code)?.ok_or_else(AppError::unknown_invite)?;
    let ga = GuildAccess::load(&r, inv.guild_id, caller.user.id).map_err(|_| AppError::unknown_invite())?;
    if inv.inviter_id != caller.user.id {
        ga.require(Permissions::MANAGE_GUILD)?;
    }
    let gid = inv.guild_id;
    core.store
        .write(move |w| {
            w.invite(&code)?.ok_or_else(AppError::unknown_invite)?;
            w.delete_invite(gid, &code)?;
            Ok::<_, AppError>(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
