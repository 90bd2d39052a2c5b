//! Guilds: create, list mine, get, update, delete, leave. The rules are in
//! [`crate::domain::guilds`] and [`crate::domain::members`].

use std::sync::Arc;

use actix_web::{web, HttpResponse};

use super::extract::{Body, Caller};
use crate::actors::effects::deliver;
use crate::core::Core;
use crate::domain::guilds::{self, GuildPatch, NewGuild};
use crate::domain::members;
use crate::errors::AppError;
use crate::model::Id;

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/guilds", web::post().to(create))
        .route("/users/@me/guilds", web::get().to(list_mine))
        .route("/users/@me/guilds/{id}", web::delete().to(leave))
        .route("/guilds/{id}", web::get().to(get))
        .route("/guilds/{id}", web::patch().to(update))
        .route("/guilds/{id}", web::delete().to(delete));
}

type CoreData = web::Data<Arc<Core>>;

async fn create(core: CoreData, caller: Caller, Body(b): Body<NewGuild>) -> Result<HttpResponse, AppError> {
    let (guild, effects) = guilds::create(&core.store, caller.user.id, b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Created().json(guild))
}

async fn list_mine(core: CoreData, caller: Caller) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(guilds::list_mine(&core.store.read()?, caller.user.id)?))
}

async fn get(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(guilds::get(&core.store.read()?, caller.user.id, path.into_inner())?))
}

async fn update(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<GuildPatch>,
) -> Result<HttpResponse, AppError> {
    let (guild, effects) = guilds::update(&core.store, caller.user.id, path.into_inner(), b).await?;
    deliver(&core, effects).await?;
    Ok(HttpResponse::Ok().json(guild))
}

async fn delete(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    deliver(&core, guilds::delete(&core.store, caller.user.id, path.into_inner()).await?).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn leave(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    deliver(&core, members::leave(&core.store, caller.user.id, path.into_inner()).await?).await?;
    Ok(HttpResponse::NoContent().finish())
}
