//! Friends, blocks and privacy settings as operations: decide with the pure
//! rules of [`super::relationships`] and [`super::privacy`], commit both
//! users' rows in one write (so two racing requests see each other), and
//! return the events each side must hear.

use serde::Deserialize;

use super::effects::{Effect, Effects};
use super::privacy::{self, PrivacySettings, SettingsPatch};
use super::relationships::{self as rules, Counts, Pair, RelationshipError};
use crate::errors::AppError;
use crate::model::{validate, Id, User};
use crate::protocol::events::Relationship;
use crate::ratelimit::Limits;
use crate::store::{Read, Store, Write};

/// What `PUT /users/@me/relationships/{user}` asks for.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PutType {
    /// Send (or accept) a friend request.
    Friend,
    /// Block.
    Blocked,
}

/// The body of `PUT /users/@me/relationships/{user}`.
#[derive(Debug, Deserialize)]
pub struct Put {
    /// friend or blocked.
    #[serde(rename = "type")]
    pub kind: PutType,
    /// Only accept an incoming request; never send a new one.
    #[serde(default, deserialize_with = "privacy::not_null")]
    pub accept: Option<bool>,
}

/// The body of `POST /users/@me/relationships`.
#[derive(Debug, Deserialize)]
pub struct ByName {
    /// Whom to befriend.
    pub username: String,
}

/// The caller's relationship with `them` afterwards (None if there is none).
pub type Outcome = (Option<Relationship>, Effects);

/// Befriend (or accept) or block `them`. New friend requests count against
/// `friend_requests`; accepting does not.
pub async fn put(store: &Store, limits: &Limits, me: &User, them: Id, b: Put) -> Result<Outcome, AppError> {
    let accept = b.accept.unwrap_or(false);
    match b.kind {
        PutType::Friend => {
            if !accept {
                limits.friend_request(me.id)?;
            }
            change(store, me, them, move |p, c| rules::request(p, c, accept)).await
        }
        PutType::Blocked => change(store, me, them, rules::block).await,
    }
}

/// Send a friend request by username.
pub async fn request_by_name(store: &Store, limits: &Limits, me: &User, b: ByName) -> Result<Outcome, AppError> {
    let name = validate::username(&b.username)?;
    let them = store.read()?.user_id_by_name(&validate::username_key(&name))?.ok_or_else(AppError::unknown_user)?;
    limits.friend_request(me.id)?;
    change(store, me, them, |p, c| rules::request(p, c, false)).await
}

/// Cancel, decline, unfriend or unblock.
pub async fn remove(store: &Store, me: &User, them: Id) -> Result<Effects, AppError> {
    Ok(change(store, me, them, |p, _| rules::remove(p)).await?.1)
}

/// Decide and write a relationship change between `me` and `them` in one
/// write, and say who hears what.
async fn change(
    store: &Store,
    me: &User,
    them: Id,
    decide: impl FnOnce(Pair, Counts) -> Result<Pair, RelationshipError> + Send + 'static,
) -> Result<Outcome, AppError> {
    let my_id = me.id;
    rules::not_self(my_id, them)?;
    let (before, after, other) = store
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
    let effects = Effects(vec![
        Effect::RelationshipChanged { owner: my_id, other: other.clone(), before: before.mine, after: after.mine },
        Effect::RelationshipChanged { owner: them, other: me.clone(), before: before.theirs, after: after.theirs },
    ]);
    Ok((after.mine.map(|kind| Relationship { id: them, kind, user: other }), effects))
}

/// The caller's privacy settings.
pub fn settings(r: &impl Read, me: Id) -> Result<PrivacySettings, AppError> {
    Ok(r.user_settings(me)?)
}

/// Change the caller's privacy settings; their sessions hear USER_SETTINGS_UPDATE.
pub async fn update_settings(store: &Store, me: Id, b: SettingsPatch) -> Result<(PrivacySettings, Effects), AppError> {
    let settings = store
        .write(move |w| {
            let next = privacy::apply(&w.user_settings(me)?, b, &w.user_guild_ids(me)?)?;
            w.put_user_settings(me, &next)?;
            Ok::<_, AppError>(next)
        })
        .await?;
    Ok((settings.clone(), Effects::one(Effect::SettingsUpdated { user: me, settings })))
}
