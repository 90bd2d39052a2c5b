//! Accounts: register, login, logout, profile, password, login sessions.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::extract::{Body, Caller};
use crate::actors::hub::dispatch_to;
use crate::auth::{new_token, token_hash};
use crate::core::Core;
use crate::domain::{patch, Change, Effect, Effects};
use crate::errors::{AppError, ErrorCode};
use crate::model::limits::MAX_TOKENS_PER_USER;
use crate::model::{validate, Id, TokenRecord, User, UserRecord};
use crate::protocol::events::event;
use crate::store::{Read, Write};
use crate::util::now_ms;

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/auth/register", web::post().to(register))
        .route("/auth/login", web::post().to(login))
        .route("/auth/logout", web::post().to(logout))
        .route("/users/@me", web::get().to(me))
        .route("/users/@me", web::patch().to(update_me))
        .route("/users/@me/password", web::post().to(change_password))
        .route("/users/@me/sessions", web::get().to(list_sessions))
        .route("/users/@me/sessions/{id}", web::delete().to(revoke_session))
        .route("/users/{id}", web::get().to(get_user));
}

type Core_ = web::Data<Arc<Core>>;

/// Close live gateway sessions of revoked tokens and end detached ones.
fn revoke_sessions(core: &Core, user: Id, only: Option<Id>, keep: Option<Id>) {
    for shared in core.online.kick_tokens(user, only, keep) {
        crate::actors::session::end_session(core, &shared);
    }
}

/// The client's IP: the TCP peer, or the client a trusted proxy reports
/// (`--trusted-proxies`, [`super::client_ip`]).
pub fn peer_ip(req: &HttpRequest) -> std::net::IpAddr {
    let trusted = req.app_data::<Core_>().map(|c| c.config.trusted_proxies.as_slice()).unwrap_or_default();
    super::client_ip::of_request(req.peer_addr(), req.headers(), trusted)
}

#[derive(Deserialize)]
struct Register {
    username: String,
    password: String,
    #[serde(default)]
    display_name: Option<String>,
}

/// Wait out a password attempt's slowdown (`login_per_account`), if any.
async fn slow_down(delay: std::time::Duration) {
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
}

async fn register(core: Core_, req: HttpRequest, Body(b): Body<Register>) -> Result<HttpResponse, AppError> {
    core.limits.register(peer_ip(&req))?;
    let username = validate::username(&b.username)?;
    validate::password(&b.password)?;
    let display_name = validate::display_name("display_name", b.display_name.as_deref())?;
    let key = validate::username_key(&username);
    if core.store.read()?.user_id_by_name(&key)?.is_some() {
        return Err(AppError::new(ErrorCode::UsernameTaken, "that username is taken"));
    }
    let password_hash = core.hashing.hash(b.password).await?;
    let id = core.store.ids().next();
    let user = User { id, username, display_name, created_at: id.timestamp_ms() };
    let rec = UserRecord { user: user.clone(), password_hash, admin: false, disabled: false };
    core.store
        .write(move |w| {
            // Checked again inside the write: two registrations may race.
            if w.user_id_by_name(&key)?.is_some() {
                return Err(AppError::new(ErrorCode::UsernameTaken, "that username is taken"));
            }
            w.put_user(&rec, &key)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Created().json(user))
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
    #[serde(default)]
    client: Option<String>,
}

#[derive(Serialize)]
struct LoginResponse {
    token: String,
    session_id: Id,
    user: User,
}

async fn login(core: Core_, req: HttpRequest, Body(b): Body<Login>) -> Result<HttpResponse, AppError> {
    let key = validate::username_key(&b.username);
    slow_down(core.limits.login(peer_ip(&req), &key)?).await;
    let bad = || AppError::new(ErrorCode::InvalidCredentials, "wrong username or password");
    let rec = {
        let r = core.store.read()?;
        match r.user_id_by_name(&key)? {
            Some(id) => r.user_record(id)?,
            None => None,
        }
    };
    // Unknown usernames are checked against the pool's dummy hash: same cost, never a match.
    let phc = rec.as_ref().map(|r| r.password_hash.clone());
    let ok = core.hashing.verify(b.password, phc).await?;
    let Some(rec) = rec.filter(|_| ok) else {
        return Err(bad());
    };
    if rec.disabled {
        return Err(AppError::account_disabled());
    }
    let client = b.client.map(|c| c.chars().take(64).collect::<String>());
    let token = new_token();
    let hash = token_hash(&token);
    let tid = core.store.ids().next();
    let user = rec.user.clone();
    let trec = TokenRecord { id: tid, user_id: user.id, created_at: now_ms(), client };
    let evicted = core
        .store
        .write(move |w| {
            let existing = w.user_tokens(trec.user_id)?;
            let mut evicted = Vec::new();
            // Keep at most MAX_TOKENS_PER_USER: the oldest logins go first.
            let excess = (existing.len() + 1).saturating_sub(MAX_TOKENS_PER_USER);
            for (old_id, old_hash) in existing.into_iter().take(excess) {
                w.delete_token(trec.user_id, old_id, &old_hash)?;
                evicted.push(old_id);
            }
            w.put_token(&hash, &trec)?;
            Ok::<_, AppError>(evicted)
        })
        .await?;
    for old in evicted {
        revoke_sessions(&core, user.id, Some(old), None);
    }
    Ok(HttpResponse::Ok().json(LoginResponse { token, session_id: tid, user }))
}

async fn logout(core: Core_, caller: Caller) -> Result<HttpResponse, AppError> {
    revoke(&core, caller.user.id, caller.token.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn revoke(core: &Arc<Core>, user: Id, token_id: Id) -> Result<(), AppError> {
    core.store
        .write(move |w| {
            let tokens = w.user_tokens(user)?;
            let (_, hash) = tokens
                .into_iter()
                .find(|(id, _)| *id == token_id)
                .ok_or_else(|| AppError::new(ErrorCode::UnknownSession, "unknown login session"))?;
            w.delete_token(user, token_id, &hash)?;
            Ok::<_, AppError>(())
        })
        .await?;
    revoke_sessions(core, user, Some(token_id), None);
    Ok(())
}

async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(caller.user)
}

#[derive(Deserialize)]
struct UpdateMe {
    /// Absent: unchanged; null or "": cleared.
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    display_name: Option<Option<String>>,
}

async fn update_me(core: Core_, caller: Caller, Body(b): Body<UpdateMe>) -> Result<HttpResponse, AppError> {
    patch::require_fields(&[b.display_name.is_some()])?;
    let display_name = match b.display_name {
        Some(d) => Some(validate::display_name("display_name", d.as_deref())?),
        None => None,
    };
    let uid = caller.user.id;
    let (user, changed) = core
        .store
        .write(move |w| {
            let mut rec = w.user_record(uid)?.ok_or_else(AppError::unauthorized)?;
            let Some(user) = patch::apply(&rec.user, |u| {
                if let Some(d) = display_name {
                    u.display_name = d;
                }
            }) else {
                return Ok((rec.user, false));
            };
            rec.user = user;
            let key = validate::username_key(&rec.user.username);
            w.put_user(&rec, &key)?;
            Ok::<_, AppError>((rec.user, true))
        })
        .await?;
    if !changed {
        return Ok(HttpResponse::Ok().json(user));
    }
    dispatch_to(&core.online.sessions(uid), event::USER_UPDATE, &user);
    let guilds = core.store.read()?.user_guild_ids(uid)?;
    let effects = Effects(guilds.into_iter().map(|g| Effect::Guild(g, Change::Member(uid))).collect());
    crate::actors::effects::deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize)]
struct ChangePassword {
    current_password: String,
    new_password: String,
}

async fn change_password(
    core: Core_,
    req: HttpRequest,
    caller: Caller,
    Body(b): Body<ChangePassword>,
) -> Result<HttpResponse, AppError> {
    validate::password(&b.new_password)?;
    // A stolen token must not become an unlimited password oracle: the login limits apply.
    let key = validate::username_key(&caller.user.username);
    slow_down(core.limits.login(peer_ip(&req), &key)?).await;
    let uid = caller.user.id;
    let current = core.store.read()?.user_record(uid)?.ok_or_else(AppError::unauthorized)?;
    if !core.hashing.verify(b.current_password, Some(current.password_hash)).await? {
        return Err(AppError::new(ErrorCode::InvalidCredentials, "current password is wrong"));
    }
    let new_hash = core.hashing.hash(b.new_password).await?;
    let keep = caller.token.id;
    core.store
        .write(move |w| {
            let mut rec = w.user_record(uid)?.ok_or_else(AppError::unauthorized)?;
            rec.password_hash = new_hash;
            let key = validate::username_key(&rec.user.username);
            w.put_user(&rec, &key)?;
            for (tid, hash) in w.user_tokens(uid)? {
                if tid != keep {
                    w.delete_token(uid, tid, &hash)?;
                }
            }
            Ok::<_, AppError>(())
        })
        .await?;
    revoke_sessions(&core, uid, None, Some(keep));
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize)]
struct SessionInfo {
    id: Id,
    created_at: u64,
    client: Option<String>,
    current: bool,
}

async fn list_sessions(core: Core_, caller: Caller) -> Result<HttpResponse, AppError> {
    let r = core.store.read()?;
    let mut out = Vec::new();
    for (_, hash) in r.user_tokens(caller.user.id)? {
        if let Some(t) = r.token(&hash)? {
            out.push(SessionInfo {
                id: t.id,
                created_at: t.created_at,
                client: t.client,
                current: t.id == caller.token.id,
            });
        }
    }
    Ok(HttpResponse::Ok().json(out))
}

async fn revoke_session(core: Core_, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    revoke(&core, caller.user.id, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn get_user(core: Core_, _caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    let user = core.store.read()?.user(path.into_inner())?.ok_or_else(AppError::unknown_user)?;
    Ok(HttpResponse::Ok().json(user))
}
