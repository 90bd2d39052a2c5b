//! Invites: create, list, preview, join, revoke. The rules are in
//! [`crate::domain::invites`].

use std::sync::Arc;

use actix_web::{web, HttpResponse};

use super::extract::{Body, Caller};
use crate::actors::effects::deliver;
use crate::core::Core;
use crate::domain::invites::{self, NewInvite};
use crate::errors::AppError;
use crate::model::Id;

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/channels/{id}/invites", web::post().to(create))
        .route("/guilds/{id}/invites", web::get().to(list))
        .route("/invites/{code}", web::get().to(preview))
        .route("/invites/{code}", web::post().to(join))
        .route("/invites/{code}", web::delete().to(revoke));
}

type CoreData = web::Data<Arc<Core>>;

async fn create(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<NewInvite>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Created().json(invites::create(&core.store, caller.user.id, path.into_inner(), b).await?))
}

async fn list(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(invites::list(&core.store.read()?, caller.user.id, path.into_inner())?))
}

/// Needs a login (the caller is unused): invites are shared among users.
async fn preview(core: CoreData, _caller: Caller, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(invites::preview(&core.store.read()?, &path)?))
}

async fn join(core: CoreData, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (guild, effects) = invites::join(&core.store, caller.user.id, path.into_inner()).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(guild))
}

async fn revoke(core: CoreData, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    invites::revoke(&core.store, caller.user.id, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
