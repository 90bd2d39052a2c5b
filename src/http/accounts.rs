//! Accounts and login sessions: register, log in and out, profile, password,
//! the session list, user profiles. The rules are in
//! [`crate::domain::accounts`].

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{Body, Caller};
use crate::actors::effects::deliver;
use crate::core::Core;
use crate::domain::accounts::{self, Accounts, Login, PasswordChange, ProfilePatch, Register};
use crate::errors::AppError;
use crate::model::Id;

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

type CoreData = web::Data<Arc<Core>>;

fn accounts(core: &Core) -> Accounts<'_> {
    Accounts { store: &core.store, limits: &core.limits, hashing: &core.hashing }
}

/// The client's IP: the TCP peer, or the client a trusted proxy reports
/// (`--trusted-proxies`, [`super::client_ip`]).
pub fn peer_ip(req: &HttpRequest) -> std::net::IpAddr {
    let trusted = req.app_data::<CoreData>().map(|c| c.config.trusted_proxies.as_slice()).unwrap_or_default();
    super::client_ip::of_request(req.peer_addr(), req.headers(), trusted)
}

async fn register(core: CoreData, req: HttpRequest, Body(b): Body<Register>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Created().json(accounts(&core).register(peer_ip(&req), b).await?))
}

async fn login(core: CoreData, req: HttpRequest, Body(b): Body<Login>) -> Result<HttpResponse, AppError> {
    let (answer, effects) = accounts(&core).login(peer_ip(&req), b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(answer))
}

async fn logout(core: CoreData, caller: Caller) -> Result<HttpResponse, AppError> {
    deliver(&core, accounts::revoke(&core.store, caller.user.id, caller.token.id).await?).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(caller.user)
}

async fn update_me(core: CoreData, caller: Caller, Body(b): Body<ProfilePatch>) -> Result<HttpResponse, AppError> {
    let (user, effects) = accounts::update_profile(&core.store, caller.user.id, b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(user))
}

async fn change_password(
    core: CoreData,
    req: HttpRequest,
    caller: Caller,
    Body(b): Body<PasswordChange>,
) -> Result<HttpResponse, AppError> {
    let effects = accounts(&core).change_password(peer_ip(&req), &caller.user, caller.token.id, b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_sessions(core: CoreData, caller: Caller) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(accounts::sessions(&core.store.read()?, caller.user.id, caller.token.id)?))
}

async fn revoke_session(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    deliver(&core, accounts::revoke(&core.store, caller.user.id, path.into_inner()).await?).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn get_user(core: CoreData, _caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(accounts::user(&core.store.read()?, path.into_inner())?))
}
