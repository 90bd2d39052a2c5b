//! Friends, blocks and DM privacy settings. The rules are in
//! [`crate::domain::contacts`] (with [`crate::domain::relationships`] and
//! [`crate::domain::privacy`]).

use std::sync::Arc;

use actix_web::{web, HttpResponse};

use super::extract::{Body, Caller};
use crate::actors::effects::deliver;
use crate::core::Core;
use crate::domain::contacts::{self, ByName, Put};
use crate::domain::privacy::SettingsPatch;
use crate::domain::relationships;
use crate::errors::AppError;
use crate::model::Id;

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/users/@me/relationships", web::get().to(list))
        .route("/users/@me/relationships", web::post().to(request_by_name))
        .route("/users/@me/relationships/{user}", web::put().to(put))
        .route("/users/@me/relationships/{user}", web::delete().to(delete))
        .route("/users/@me/settings", web::get().to(get_settings))
        .route("/users/@me/settings", web::patch().to(patch_settings));
}

type CoreData = web::Data<Arc<Core>>;

async fn list(core: CoreData, caller: Caller) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(relationships::relationships_of(&core.store.read()?, caller.user.id)?))
}

async fn put(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<Put>,
) -> Result<HttpResponse, AppError> {
    let (rel, effects) = contacts::put(&core.store, &core.limits, &caller.user, path.into_inner(), b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(rel))
}

async fn request_by_name(core: CoreData, caller: Caller, Body(b): Body<ByName>) -> Result<HttpResponse, AppError> {
    let (rel, effects) = contacts::request_by_name(&core.store, &core.limits, &caller.user, b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(rel))
}

async fn delete(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    deliver(&core, contacts::remove(&core.store, &caller.user, path.into_inner()).await?).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn get_settings(core: CoreData, caller: Caller) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(contacts::settings(&core.store.read()?, caller.user.id)?))
}

async fn patch_settings(
    core: CoreData,
    caller: Caller,
    Body(b): Body<SettingsPatch>,
) -> Result<HttpResponse, AppError> {
    let (settings, effects) = contacts::update_settings(&core.store, caller.user.id, b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(settings))
}
