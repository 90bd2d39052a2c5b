//! Messages: history, get one, send (through the channel actor), typing.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::access::ChannelAccess;
use super::extract::{Body, Caller};
use crate::actors::channel::{Send as SendToChannel, Typing};
use crate::actors::Core;
use crate::errors::AppError;
use crate::model::{validate, Id, Permissions};
use crate::protocol::limits::{DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT};
use crate::store::{HistoryQuery, Read};

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/channels/{id}/messages", web::get().to(history))
        .route("/channels/{id}/messages", web::post().to(send))
        .route("/channels/{id}/messages/{message}", web::get().to(get))
        .route("/channels/{id}/typing", web::post().to(typing));
}

type CoreData = web::Data<Arc<Core>>;

#[derive(Deserialize)]
struct HistoryParams {
    before: Option<Id>,
    after: Option<Id>,
    around: Option<Id>,
    limit: Option<u32>,
}

async fn history(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    q: web::Query<HistoryParams>,
) -> Result<HttpResponse, AppError> {
    let cid = path.into_inner();
    let r = core.store.read()?;
    let ca = ChannelAccess::load(&r, cid, caller.user.id)?;
    ca.require(Permissions::READ_MESSAGE_HISTORY)?;
    let limit = q.limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
    if !(1..=MAX_HISTORY_LIMIT).contains(&limit) {
        return Err(AppError::new("invalid_query", format!("limit must be 1–{MAX_HISTORY_LIMIT}")));
    }
    let query = match (q.before, q.after, q.around) {
        (None, None, None) => HistoryQuery::Latest,
        (Some(b), None, None) => HistoryQuery::Before(b),
        (None, Some(a), None) => HistoryQuery::After(a),
        (None, None, Some(x)) => HistoryQuery::Around(x),
        _ => return Err(AppError::new("invalid_query", "give at most one of before, after, around")),
    };
    Ok(HttpResponse::Ok().json(r.history(cid, query, limit as usize)?))
}

async fn get(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, mid) = path.into_inner();
    let r = core.store.read()?;
    let ca = ChannelAccess::load(&r, cid, caller.user.id)?;
    ca.require(Permissions::READ_MESSAGE_HISTORY)?;
    let m = r.message(cid, mid)?.ok_or_else(AppError::unknown_message)?;
    Ok(HttpResponse::Ok().json(m))
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
    let content = validate::content(&b.content)?;
    let nonce = validate::nonce(b.nonce)?;
    let channel = core.registry.channel(&core, cid)?.ok_or_else(AppError::unknown_channel)?;
    let m = channel.send(SendToChannel { author: caller.user, content, nonce }).await??;
    Ok(HttpResponse::Created().json(m))
}

async fn typing(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    let cid = path.into_inner();
    ChannelAccess::load(&core.store.read()?, cid, caller.user.id)?;
    let channel = core.registry.channel(&core, cid)?.ok_or_else(AppError::unknown_channel)?;
    channel.send(Typing { user_id: caller.user.id }).await??;
    Ok(HttpResponse::NoContent().finish())
}
