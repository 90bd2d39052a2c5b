//! Accounts and login sessions: register, log in (a token per login, at most
//! MAX_TOKENS_PER_USER), log out or revoke a session, change the profile,
//! change the password (every other session ends).
//!
//! Password attempts are rate-limited per address, per (account, address)
//! and slowed per account (never refused for the account as a whole, so
//! nobody can lock the owner out), and every hash runs on the bounded
//! [`HashPool`].

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::effects::{Change, Effect, Effects};
use super::patch;
use crate::auth::pool::HashPool;
use crate::auth::{new_token, token_hash};
use crate::errors::{AppError, ErrorCode};
use crate::model::limits::MAX_TOKENS_PER_USER;
use crate::model::{validate, Id, TokenRecord, User, UserRecord};
use crate::ratelimit::Limits;
use crate::store::{Read, Store, Write};
use crate::util::now_ms;

/// Longest client name kept with a login session, in characters.
const MAX_CLIENT_NAME_CHARS: usize = 64;

/// What the shared parts of account operations need.
pub struct Accounts<'a> {
    /// The store.
    pub store: &'a Store,
    /// Rate limiters.
    pub limits: &'a Limits,
    /// The password hashing pool.
    pub hashing: &'a HashPool,
}

/// A registration.
#[derive(Debug, Deserialize)]
pub struct Register {
    /// Username (unique, case-insensitively).
    pub username: String,
    /// Password.
    pub password: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A login.
#[derive(Debug, Deserialize)]
pub struct Login {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
    /// What the client calls itself (shown in the session list).
    #[serde(default)]
    pub client: Option<String>,
}

/// The answer to a login.
#[derive(Debug, Serialize)]
pub struct LoginResponse {
    /// The bearer token (shown once).
    pub token: String,
    /// The login session's id.
    pub session_id: Id,
    /// The user.
    pub user: User,
}

/// Changes to one's own profile.
#[derive(Debug, Deserialize)]
pub struct ProfilePatch {
    /// Absent: unchanged; null or "": cleared.
    #[serde(default, deserialize_with = "super::input::present")]
    pub display_name: Option<Option<String>>,
}

/// A password change.
#[derive(Debug, Deserialize)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new one.
    pub new_password: String,
}

/// One login session, as its owner sees it.
#[derive(Debug, Serialize)]
pub struct SessionInfo {
    /// Its id.
    pub id: Id,
    /// When it logged in (ms since the Unix epoch).
    pub created_at: u64,
    /// What the client called itself.
    pub client: Option<String>,
    /// Whether it is the session asking.
    pub current: bool,
}

/// Wait out a password attempt's slowdown (`login_per_account`), if any.
async fn slow_down(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

fn username_taken() -> AppError {
    AppError::new(ErrorCode::UsernameTaken, "that username is taken")
}

/// How many of a user's `existing` tokens (oldest first) to drop when one
/// more is added, so that at most MAX_TOKENS_PER_USER remain.
pub fn tokens_to_evict(existing: usize) -> usize {
    (existing + 1).saturating_sub(MAX_TOKENS_PER_USER)
}

impl Accounts<'_> {
    /// Create an account.
    pub async fn register(&self, ip: IpAddr, b: Register) -> Result<User, AppError> {
        self.limits.register(ip)?;
        let username = validate::username(&b.username)?;
        validate::password(&b.password)?;
        let display_name = validate::display_name("display_name", b.display_name.as_deref())?;
        let key = validate::username_key(&username);
        if self.store.read()?.user_id_by_name(&key)?.is_some() {
            return Err(username_taken());
        }
        let password_hash = self.hashing.hash(b.password).await?;
        let id = self.store.ids().next();
        let user = User { id, username, display_name, created_at: id.timestamp_ms() };
        let rec = UserRecord { user: user.clone(), password_hash, admin: false, disabled: false };
        self.store
            .write(move |w| {
                // Checked again inside the write: two registrations may race.
                if w.user_id_by_name(&key)?.is_some() {
                    return Err(username_taken());
                }
                w.put_user(&rec, &key)?;
                Ok(())
            })
            .await?;
        Ok(user)
    }

    /// Log in: a new token; the oldest sessions past MAX_TOKENS_PER_USER end.
    pub async fn login(&self, ip: IpAddr, b: Login) -> Result<(LoginResponse, Effects), AppError> {
        let key = validate::username_key(&b.username);
        slow_down(self.limits.login(ip, &key)?).await;
        let rec = {
            let r = self.store.read()?;
            match r.user_id_by_name(&key)? {
                Some(id) => r.user_record(id)?,
                None => None,
            }
        };
        // Unknown usernames are checked against the pool's dummy hash: same cost, never a match.
        let phc = rec.as_ref().map(|r| r.password_hash.clone());
        let ok = self.hashing.verify(b.password, phc).await?;
        let Some(rec) = rec.filter(|_| ok) else {
            return Err(AppError::new(ErrorCode::InvalidCredentials, "wrong username or password"));
        };
        if rec.disabled {
            return Err(AppError::account_disabled());
        }
        let client = b.client.map(|c| c.chars().take(MAX_CLIENT_NAME_CHARS).collect::<String>());
        let token = new_token();
        let hash = token_hash(&token);
        let tid = self.store.ids().next();
        let user = rec.user;
        let trec = TokenRecord { id: tid, user_id: user.id, created_at: now_ms(), client };
        let evicted = self
            .store
            .write(move |w| {
                let existing = w.user_tokens(trec.user_id)?;
                let mut evicted = Vec::new();
                let excess = tokens_to_evict(existing.len());
                for (old_id, old_hash) in existing.into_iter().take(excess) {
                    w.delete_token(trec.user_id, old_id, &old_hash)?;
                    evicted.push(old_id);
                }
                w.put_token(&hash, &trec)?;
                Ok::<_, AppError>(evicted)
            })
            .await?;
        let uid = user.id;
        let effects = Effects(
            evicted.into_iter().map(|t| Effect::RevokeTokens { user: uid, only: Some(t), keep: None }).collect(),
        );
        Ok((LoginResponse { token, session_id: tid, user }, effects))
    }

    /// Change the password: the current one must be right (and is limited
    /// like a login, so a stolen token is no password oracle); every other
    /// login session ends.
    pub async fn change_password(
        &self,
        ip: IpAddr,
        caller: &User,
        keep: Id,
        b: PasswordChange,
    ) -> Result<Effects, AppError> {
        validate::password(&b.new_password)?;
        let key = validate::username_key(&caller.username);
        slow_down(self.limits.login(ip, &key)?).await;
        let uid = caller.id;
        let current = self.store.read()?.user_record(uid)?.ok_or_else(AppError::unauthorized)?;
        if !self.hashing.verify(b.current_password, Some(current.password_hash)).await? {
            return Err(AppError::new(ErrorCode::InvalidCredentials, "current password is wrong"));
        }
        let new_hash = self.hashing.hash(b.new_password).await?;
        self.store
            .write(move |w| {
                let mut rec = w.user_record(uid)?.ok_or_else(AppError::unauthorized)?;
                rec.password_hash = new_hash;
                let key = validate::username_key(&rec.user.username);
                w.put_user(&rec, &key)?;
                for (tid, hash) in w.user_tokens(uid)? {
                    if tid != keep {
                        w.delete_token(uid, tid, &hash)?;
                    }
                }
                Ok::<_, AppError>(())
            })
            .await?;
        Ok(Effects::one(Effect::RevokeTokens { user: uid, only: None, keep: Some(keep) }))
    }
}

/// End one login session of `user` (log out, or revoke from the session list).
pub async fn revoke(store: &Store, user: Id, token_id: Id) -> Result<Effects, AppError> {
    store
        .write(move |w| {
            let tokens = w.user_tokens(user)?;
            let (_, hash) = tokens
                .into_iter()
                .find(|(id, _)| *id == token_id)
                .ok_or_else(|| AppError::new(ErrorCode::UnknownSession, "unknown login session"))?;
            w.delete_token(user, token_id, &hash)?;
            Ok::<_, AppError>(())
        })
        .await?;
    Ok(Effects::one(Effect::RevokeTokens { user, only: Some(token_id), keep: None }))
}

/// Change one's own profile; members of the user's guilds hear of it.
pub async fn update_profile(store: &Store, uid: Id, b: ProfilePatch) -> Result<(User, Effects), AppError> {
    patch::require_fields(&[b.display_name.is_some()])?;
    let display_name = match b.display_name {
        Some(d) => Some(validate::display_name("display_name", d.as_deref())?),
        None => None,
    };
    let (user, changed, guilds) = store
        .write(move |w| {
            let mut rec = w.user_record(uid)?.ok_or_else(AppError::unauthorized)?;
            let Some(user) = patch::apply(&rec.user, |u| {
                if let Some(d) = display_name {
                    u.display_name = d;
                }
            }) else {
                return Ok((rec.user, false, Vec::new()));
            };
            rec.user = user;
            let key = validate::username_key(&rec.user.username);
            w.put_user(&rec, &key)?;
            Ok::<_, AppError>((rec.user, true, w.user_guild_ids(uid)?))
        })
        .await?;
    if !changed {
        return Ok((user, Effects::none()));
    }
    let mut effects = Effects::one(Effect::UserUpdated(user.clone()));
    effects.0.extend(guilds.into_iter().map(|g| Effect::Guild(g, Change::Member(uid))));
    Ok((user, effects))
}

/// The caller's login sessions.
pub fn sessions(r: &impl Read, user: Id, current: Id) -> Result<Vec<SessionInfo>, AppError> {
    let mut out = Vec::new();
    for (_, hash) in r.user_tokens(user)? {
        if let Some(t) = r.token(&hash)? {
            out.push(SessionInfo { id: t.id, created_at: t.created_at, client: t.client, current: t.id == current });
        }
    }
    Ok(out)
}

/// Any user's public profile.
pub fn user(r: &impl Read, id: Id) -> Result<User, AppError> {
    r.user(id)?.ok_or_else(AppError::unknown_user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_tokens_go_first_past_the_cap() {
        assert_eq!(tokens_to_evict(3), 0);
        assert_eq!(tokens_to_evict(MAX_TOKENS_PER_USER - 1), 0);
        assert_eq!(tokens_to_evict(MAX_TOKENS_PER_USER), 1, "one new login evicts the oldest");
        assert_eq!(tokens_to_evict(MAX_TOKENS_PER_USER + 2), 3);
    }
}
