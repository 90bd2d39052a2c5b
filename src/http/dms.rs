//! Direct messages and group DMs. The rules are in [`crate::domain::dms`].

use std::sync::Arc;

use actix_web::{web, HttpResponse};

use super::extract::{Body, Caller};
use crate::actors::effects::deliver;
use crate::core::Core;
use crate::domain::dms::{self, DmPage, OpenDm};
use crate::errors::AppError;
use crate::model::Id;

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/users/@me/channels", web::get().to(list))
        .route("/users/@me/channels", web::post().to(open))
        .route("/channels/{id}/recipients/@me", web::delete().to(leave))
        .route("/channels/{id}/recipients/{user}", web::put().to(add))
        .route("/channels/{id}/recipients/{user}", web::delete().to(remove));
}

type CoreData = web::Data<Arc<Core>>;

async fn list(core: CoreData, caller: Caller, page: web::Query<DmPage>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(dms::list(&core.store.read()?, caller.user.id, &page)?))
}

async fn open(core: CoreData, caller: Caller, Body(b): Body<OpenDm>) -> Result<HttpResponse, AppError> {
    let (channel, created, effects) = dms::open(&core.store, &core.limits, caller.user.id, b).await?;
    deliver(&core, effects).await?;
    Ok(if created { HttpResponse::Created() } else { HttpResponse::Ok() }.json(channel))
}

async fn add(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, uid) = path.into_inner();
    let (channel, effects) = dms::add(&core.store, &core.limits, caller.user.id, cid, uid).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(channel))
}

async fn remove(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, uid) = path.into_inner();
    deliver(&core, dms::remove(&core.store, caller.user.id, cid, uid).await?).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn leave(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    let me = caller.user.id;
    deliver(&core, dms::remove(&core.store, me, path.into_inner(), me).await?).await?;
    Ok(HttpResponse::NoContent().finish())
}
