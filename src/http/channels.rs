//! Guild channels and categories: list, create, reorder/move, get, update,
//! delete, permission overwrites and the permission explainer. The rules are
//! in [`crate::domain::channels`].

use std::sync::Arc;

use actix_web::{web, HttpResponse};

use super::extract::{Body, Caller};
use crate::actors::effects::deliver;
use crate::core::Core;
use crate::domain::channels::{self, ChannelPatch, NewChannel, OverwriteInput, Placement};
use crate::errors::AppError;
use crate::model::Id;

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
    Ok(HttpResponse::Ok().json(channels::list(&core.store.read()?, caller.user.id, path.into_inner())?))
}

async fn create(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<NewChannel>,
) -> Result<HttpResponse, AppError> {
    let (channel, effects) = channels::create(&core.store, caller.user.id, path.into_inner(), b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Created().json(channel))
}

async fn reorder(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<Vec<Placement>>,
) -> Result<HttpResponse, AppError> {
    let (visible, effects) = channels::reorder(&core.store, caller.user.id, path.into_inner(), b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(visible))
}

async fn get(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(channels::get(&core.store.read()?, caller.user.id, path.into_inner())?))
}

async fn update(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<ChannelPatch>,
) -> Result<HttpResponse, AppError> {
    let (channel, effects) = channels::update(&core.store, caller.user.id, path.into_inner(), b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(channel))
}

async fn delete(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    deliver(&core, channels::delete(&core.store, caller.user.id, path.into_inner()).await?).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn put_overwrite(
    core: CoreData,
    caller: Caller,
    path: web::Path<(Id, Id)>,
    Body(b): Body<OverwriteInput>,
) -> Result<HttpResponse, AppError> {
    let (cid, target) = path.into_inner();
    let (channel, effects) = channels::put_overwrite(&core.store, caller.user.id, cid, target, b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(channel))
}

async fn delete_overwrite(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, target) = path.into_inner();
    let (channel, effects) = channels::delete_overwrite(&core.store, caller.user.id, cid, target).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(channel))
}

async fn explain_guild(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (gid, target) = path.into_inner();
    Ok(HttpResponse::Ok().json(channels::explain_guild(&core.store.read()?, caller.user.id, gid, target)?))
}

async fn explain_channel(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, target) = path.into_inner();
    Ok(HttpResponse::Ok().json(channels::explain_channel(&core.store.read()?, caller.user.id, cid, target)?))
}
