//! Friends, blocks and DM privacy settings; and the lookups that feed the DM
//! rules of [`crate::domain::privacy`] for the DM routes.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::extract::{Body, Caller};
use crate::actors::hub::dispatch_to;
use crate::core::Core;
use crate::domain::privacy::{self, PrivacySettings, SettingsPatch};
use crate::domain::relationships::{self as rules, Counts, Pair, RelationshipError, RelationshipKind};
use crate::errors::AppError;
use crate::model::{validate, Id, User};
use crate::protocol::events::{event, Relationship, RelationshipRemove};
use crate::store::{Read, Write};

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
    Ok(HttpResponse::Ok().json(rules::relationships_of(&core.store.read()?, caller.user.id)?))
}

/// What a PUT asks for.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PutType {
    Friend,
    Blocked,
}

#[derive(Deserialize)]
struct Put {
    #[serde(rename = "type")]
    kind: PutType,
    /// Only accept an incoming request; never send a new one.
    #[serde(default, deserialize_with = "privacy::not_null")]
    accept: Option<bool>,
}

#[derive(Deserialize)]
struct ByName {
    username: String,
}

async fn put(
    core: CoreData,
    caller: Caller,
    path: web::Path<Id>,
    Body(b): Body<Put>,
) -> Result<HttpResponse, AppError> {
    let them = path.into_inner();
    let accept = b.accept.unwrap_or(false);
    match b.kind {
        PutType::Friend => {
            if !accept {
                core.limits.friend_request(caller.user.id)?;
            }
            change(&core, &caller.user, them, move |p, c| rules::request(p, c, accept)).await
        }
        PutType::Blocked => change(&core, &caller.user, them, rules::block).await,
    }
}

async fn request_by_name(core: CoreData, caller: Caller, Body(b): Body<ByName>) -> Result<HttpResponse, AppError> {
    let name = validate::username(&b.username)?;
    let them =
        core.store.read()?.user_id_by_name(&validate::username_key(&name))?.ok_or_else(AppError::unknown_user)?;
    core.limits.friend_request(caller.user.id)?;
    change(&core, &caller.user, them, |p, c| rules::request(p, c, false)).await
}

async fn delete(core: CoreData, caller: Caller, path: web::Path<Id>) -> Result<HttpResponse, AppError> {
    change(&core, &caller.user, path.into_inner(), |p, _| rules::remove(p)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Decide and write a relationship change between `me` and `them` in one
/// write (so two racing requests see each other), then tell both sides.
/// Answers with the caller's relationship afterwards (`null` if none).
async fn change(
    core: &Arc<Core>,
    me: &User,
    them: Id,
    decide: impl FnOnce(Pair, Counts) -> Result<Pair, RelationshipError> + Send + 'static,
) -> Result<HttpResponse, AppError> {
    let my_id = me.id;
    rules::not_self(my_id, them)?;
    let (before, after, other) = core
        .store
        .write(move |w| {
            let other = w.user(them)?.ok_or_else(AppError::unknown_user)?;
            let before = w.relationship_pair(my_id, them)?;
            let counts = Counts { mine: w.relationship_count(my_id)?, theirs: w.relationship_count(them)? };
            let after = decide(before, counts)?;
            if after.mine != before.mine {
                w.set_relationship(my_id, them, after.mine)?;
            }
            if after.theirs != before.theirs {
                w.set_relationship(them, my_id, after.theirs)?;
            }
            Ok::<_, AppError>((before, after, other))
        })
        .await?;
    announce(core, my_id, &other, before.mine, after.mine);
    announce(core, them, me, before.theirs, after.theirs);
    Ok(HttpResponse::Ok().json(after.mine.map(|kind| Relationship { id: them, kind, user: other })))
}

/// Tell `owner`'s sessions that their row about `other` changed.
fn announce(core: &Core, owner: Id, other: &User, before: Option<RelationshipKind>, after: Option<RelationshipKind>) {
    let sessions = core.online.sessions_of(&[owner]);
    match (before, after) {
        (b, Some(kind)) if b != Some(kind) => {
            dispatch_to(&sessions, event::RELATIONSHIP_ADD, &Relationship { id: other.id, kind, user: other.clone() });
        }
        (Some(kind), None) => {
            dispatch_to(&sessions, event::RELATIONSHIP_REMOVE, &RelationshipRemove { id: other.id, kind });
        }
        _ => {}
    }
}

async fn get_settings(core: CoreData, caller: Caller) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(core.store.read()?.user_settings(caller.user.id)?))
}

async fn patch_settings(
    core: CoreData,
    caller: Caller,
    Body(b): Body<SettingsPatch>,
) -> Result<HttpResponse, AppError> {
    let me = caller.user.id;
    let settings: PrivacySettings = core
        .store
        .write(move |w| {
            let next = privacy::apply(&w.user_settings(me)?, b, &w.user_guild_ids(me)?)?;
            w.put_user_settings(me, &next)?;
            Ok::<_, AppError>(next)
        })
        .await?;
    dispatch_to(&core.online.sessions_of(&[me]), event::USER_SETTINGS_UPDATE, &settings);
    Ok(HttpResponse::Ok().json(settings))
}
