//! Reactions and pins. The rules are in [`crate::domain::reactions`] and
//! [`crate::domain::pins`].

use std::sync::Arc;

use actix_web::{web, HttpResponse};

use super::extract::Caller;
use super::messages::{access, run};
use crate::core::Core;
use crate::domain::{pins, reactions};
use crate::errors::AppError;
use crate::model::{Author, Id};

/// Routes of this module.
pub fn routes(cfg: &mut super::Routes<'_>) {
    cfg.route("/channels/{id}/messages/{message}/reactions/{emoji}/@me", web::put().to(add))
        .route("/channels/{id}/messages/{message}/reactions/{emoji}/@me", web::delete().to(remove_own))
        .route("/channels/{id}/messages/{message}/reactions/{emoji}/{user}", web::delete().to(remove_user))
        .route("/channels/{id}/messages/{message}/reactions/{emoji}", web::get().to(users))
        .route("/channels/{id}/messages/{message}/reactions/{emoji}", web::delete().to(clear_emoji))
        .route("/channels/{id}/messages/{message}/reactions", web::delete().to(clear_all))
        .route("/channels/{id}/pins", web::get().to(list_pins))
        .route("/channels/{id}/pins/{message}", web::put().to(pin))
        .route("/channels/{id}/pins/{message}", web::delete().to(unpin));
}

type CoreData = web::Data<Arc<Core>>;

fn done() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

async fn add(core: CoreData, caller: Caller, path: web::Path<(Id, Id, String)>) -> Result<HttpResponse, AppError> {
    let (cid, mid, emoji) = path.into_inner();
    let op = reactions::add(&core.limits, &access(&core, cid, &caller)?, caller.user.id, mid, &emoji)?;
    run(&core, cid, op).await?;
    Ok(done())
}

async fn remove_own(
    core: CoreData,
    caller: Caller,
    path: web::Path<(Id, Id, String)>,
) -> Result<HttpResponse, AppError> {
    let (cid, mid, emoji) = path.into_inner();
    let me = caller.user.id;
    let op = reactions::remove(&core.limits, &access(&core, cid, &caller)?, me, me, mid, &emoji)?;
    run(&core, cid, op).await?;
    Ok(done())
}

async fn remove_user(
    core: CoreData,
    caller: Caller,
    path: web::Path<(Id, Id, String, Id)>,
) -> Result<HttpResponse, AppError> {
    let (cid, mid, emoji, user) = path.into_inner();
    let op = reactions::remove(&core.limits, &access(&core, cid, &caller)?, caller.user.id, user, mid, &emoji)?;
    run(&core, cid, op).await?;
    Ok(done())
}

async fn users(
    core: CoreData,
    caller: Caller,
    path: web::Path<(Id, Id, String)>,
    q: web::Query<reactions::UsersPage>,
) -> Result<HttpResponse, AppError> {
    let (cid, mid, emoji) = path.into_inner();
    Ok(HttpResponse::Ok().json(reactions::users(&core.store.read()?, caller.user.id, cid, mid, &emoji, &q)?))
}

async fn clear_emoji(
    core: CoreData,
    caller: Caller,
    path: web::Path<(Id, Id, String)>,
) -> Result<HttpResponse, AppError> {
    let (cid, mid, emoji) = path.into_inner();
    let op = reactions::clear(&access(&core, cid, &caller)?, mid, Some(&emoji))?;
    run(&core, cid, op).await?;
    Ok(done())
}

async fn clear_all(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, mid) = path.into_inner();
    let op = reactions::clear(&access(&core, cid, &caller)?, mid, None)?;
    run(&core, cid, op).await?;
    Ok(done())
}

async fn list_pins(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(pins::list(&core.store.read()?, caller.user.id, path.into_inner())?))
}

async fn pin(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, mid) = path.into_inner();
    let op = pins::pin(&access(&core, cid, &caller)?, Author::from(&caller.user), mid)?;
    run(&core, cid, op).await?;
    Ok(done())
}

async fn unpin(core: CoreData, caller: Caller, path: web::Path<(Id, Id)>) -> Result<HttpResponse, AppError> {
    let (cid, mid) = path.into_inner();
    let op = pins::unpin(&access(&core, cid, &caller)?, mid)?;
    run(&core, cid, op).await?;
    Ok(done())
}
