//! Messages: history, get one, send (through the channel actor), edit,
//! delete, bulk delete, earlier versions, typing. The rules are in
//! [`crate::domain::messages`], [`crate::domain::compose`] and
//! [`crate::domain::message_actions`].

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::extract::{Body, Caller};
use crate::actors::channel::{Mutate, Send as SendToChannel, Typing};
use crate::core::Core;
use crate::domain::message_actions::{self, MessagePatch};
use crate::domain::messages::{self, Draft, HistoryParams, SendBody};
use crate::domain::{ChannelAccess, ChannelOp};
use crate::errors::AppError;
use crate::model::Id;
use crate::util::now_ms;

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/channels/{id}/messages", web::get().to(history))
        .route("/channels/{id}/messages", web::post().to(send))
        .route("/channels/{id}/messages/bulk-delete", web::post().to(bulk_delete))
        .route("/channels/{id}/messages/{message}", web::get().to(get))
        .route("/channels/{id}/messages/{message}", web::patch().to(edit))
        .route("/channels/{id}/messages/{message}", web::delete().to(delete))
        .route("/channels/{id}/messages/{message}/versions", web::get().to(versions))
        .route("/channels/{id}/typing", web::post().to(typing));
}

type CoreData = web::Data<Arc<Core>>;

/// Run a domain operation on a channel's messages through its actor (so it
/// is ordered with the channel's sends and its events follow the commit).
pub async fn run<T: Send + 'static>(core: &Arc<Core>, channel: Id, op: ChannelOp<T>) -> Result<T, AppError> {
    let actor = core.registry.channel(core, channel)?.ok_or_else(AppError::unknown_channel)?;
    actor.send(Mutate(op)).await?
}

/// The caller's standing in a channel (404 when they cannot see it).
pub fn access(core: &Core, channel: Id, caller: &Caller) -> Result<ChannelAccess, AppError> {
    ChannelAccess::load(&core.store.read()?, channel, caller.user.id)
}

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

async fn send(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<SendBody>,
) -> Result<HttpResponse, AppError> {
    let cid = path.into_inner();
    // Visibility first, so a hidden channel answers 404 whatever the body.
    access(&core, cid, &caller)?;
    let draft = Draft::from_body(b)?;
    let channel = core.registry.channel(&core, cid)?.ok_or_else(AppError::unknown_channel)?;
    let m = channel.send(SendToChannel { author: caller.user, draft }).await??;
    Ok(HttpResponse::Created().json(m))
}

async fn edit(
    core: CoreData,
    caller: Caller,
    path: web::Path<(Id, Id)>,
    Body(b): Body<MessagePatch>,
) -> Result<HttpResponse, AppError> {
    let (cid, mid) = path.into_inner();
    let op = message_actions::edit(&access(&core, cid, &caller)?, caller.user.id, mid, b)?;
    let mut m = [run(&core, cid, op).await?];
    messages::present(&core.store.read()?, caller.user.id, &mut m)?;
    let [m] = m;
    Ok(HttpResponse::Ok().json(m))
}

async fn delete(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, mid) = path.into_inner();
    let op = message_actions::delete(&access(&core, cid, &caller)?, caller.user.id, mid)?;
    run(&core, cid, op).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct BulkBody {
    messages: Vec<Id>,
}

async fn bulk_delete(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<BulkBody>,
) -> Result<HttpResponse, AppError> {
    let cid = path.into_inner();
    let op = message_actions::bulk_delete(&access(&core, cid, &caller)?, b.messages, now_ms())?;
    run(&core, cid, op).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn versions(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, mid) = path.into_inner();
    Ok(HttpResponse::Ok().json(message_actions::versions(&core.store.read()?, caller.user.id, cid, mid)?))
}

async fn typing(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    let cid = path.into_inner();
    access(&core, cid, &caller)?;
    let channel = core.registry.channel(&core, cid)?.ok_or_else(AppError::unknown_channel)?;
    channel.send(Typing { user_id: caller.user.id }).await??;
    Ok(HttpResponse::NoContent().finish())
}
