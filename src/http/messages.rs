//! Messages: history, get one, send (through the channel actor), typing.
//! The rules are in [`crate::domain::messages`].

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::extract::{Body, Caller};
use crate::actors::channel::{Send as SendToChannel, Typing};
use crate::core::Core;
use crate::domain::messages::{self, Draft, HistoryParams};
use crate::domain::ChannelAccess;
use crate::errors::AppError;
use crate::model::Id;

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/channels/{id}/messages", web::get().to(history))
        .route("/channels/{id}/messages", web::post().to(send))
        .route("/channels/{id}/messages/{message}", web::get().to(get))
        .route("/channels/{id}/typing", web::post().to(typing));
}

type CoreData = web::Data<Arc<Core>>;

async fn history(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    q: web::Query<HistoryParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(messages::history(&core.store.read()?, caller.user.id, path.into_inner(), &q)?))
}

async fn get(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, mid) = path.into_inner();
    Ok(HttpResponse::Ok().json(messages::get(&core.store.read()?, caller.user.id, cid, mid)?))
}

#[derive(Deserialize)]
struct SendBody {
    content: String,
    #[serde(default)]
    nonce: Option<String>,
}

async fn send(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<SendBody>,
) -> Result<HttpResponse, AppError> {
    let cid = path.into_inner();
    // Visibility first, so a hidden channel answers 404 whatever the body.
    ChannelAccess::load(&core.store.read()?, cid, caller.user.id)?;
    let draft = Draft::new(&b.content, b.nonce)?;
    let channel = core.registry.channel(&core, cid)?.ok_or_else(AppError::unknown_channel)?;
    let m = channel.send(SendToChannel { author: caller.user, draft }).await??;
    Ok(HttpResponse::Created().json(m))
}

async fn typing(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    let cid = path.into_inner();
    ChannelAccess::load(&core.store.read()?, cid, caller.user.id)?;
    let channel = core.registry.channel(&core, cid)?.ok_or_else(AppError::unknown_channel)?;
    channel.send(Typing { user_id: caller.user.id }).await??;
    Ok(HttpResponse::NoContent().finish())
}
