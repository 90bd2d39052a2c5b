//! Members: list (paged), get, update (nickname, roles, voice), role grants,
//! kick. The rules are in [`crate::domain::members`].

use std::sync::Arc;

use actix_web::{web, HttpResponse};

use super::extract::{Body, Caller};
use crate::actors::effects::deliver;
use crate::core::Core;
use crate::domain::members::{self, MemberPage, MemberPatch};
use crate::errors::AppError;
use crate::model::Id;

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

async fn list(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    q: web::Query<MemberPage>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(members::list(&core.store.read()?, caller.user.id, path.into_inner(), &q)?))
}

async fn get(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (gid, uid) = path.into_inner();
    Ok(HttpResponse::Ok().json(members::get(&core.store.read()?, caller.user.id, gid, uid)?))
}

async fn update(
    core: CoreData,
    caller: Caller,
    path: web::Path<(Id, Id)>,
    Body(b): Body<MemberPatch>,
) -> Result<HttpResponse, AppError> {
    let (gid, uid) = path.into_inner();
    let (member, effects) = members::update(&core.store, caller.user.id, gid, uid, b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(member))
}

async fn set_role(core: CoreData, caller: Caller, ids: (Id, Id, Id), add: bool) -> Result<HttpResponse, AppError> {
    let (gid, uid, rid) = ids;
    deliver(&core, members::set_role(&core.store, caller.user.id, gid, uid, rid, add).await?).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn add_role(core: CoreData, caller: Caller, path: web::Path<(Id, Id, Id)>) -> Result<HttpResponse, AppError> {
    set_role(core, caller, path.into_inner(), true).await
}

async fn remove_role(core: CoreData, caller: Caller, path: web::Path<(Id, Id, Id)>) -> Result<HttpResponse, AppError> {
    set_role(core, caller, path.into_inner(), false).await
}

async fn kick(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (gid, uid) = path.into_inner();
    deliver(&core, members::kick(&core.store, caller.user.id, gid, uid).await?).await?;
    Ok(HttpResponse::NoContent().finish())
}
