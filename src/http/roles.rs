//! Roles: list, create, update, delete, reorder. The rules are in
//! [`crate::domain::roles`].

use std::sync::Arc;

use actix_web::{web, HttpResponse};

use super::extract::{Body, Caller};
use crate::actors::effects::deliver;
use crate::core::Core;
use crate::domain::roles::{self, NewRole, RolePatch, RolePosition};
use crate::errors::AppError;
use crate::model::Id;

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
    Ok(HttpResponse::Ok().json(roles::list(&core.store.read()?, caller.user.id, path.into_inner())?))
}

async fn create(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<NewRole>,
) -> Result<HttpResponse, AppError> {
    let (role, effects) = roles::create(&core.store, caller.user.id, path.into_inner(), b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Created().json(role))
}

async fn update(
    core: CoreData,
    caller: Caller,
    path: web::Path<(Id, Id)>,
    Body(b): Body<RolePatch>,
) -> Result<HttpResponse, AppError> {
    let (gid, rid) = path.into_inner();
    let (role, effects) = roles::update(&core.store, caller.user.id, gid, rid, b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(role))
}

async fn delete(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (gid, rid) = path.into_inner();
    deliver(&core, roles::delete(&core.store, caller.user.id, gid, rid).await?).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn reorder(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<Vec<RolePosition>>,
) -> Result<HttpResponse, AppError> {
    let (all, effects) = roles::reorder(&core.store, caller.user.id, path.into_inner(), b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(all))
}
