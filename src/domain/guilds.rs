//! Guilds: create (with @everyone, #general and a General voice channel),
//! list mine, get, update, delete (owner only).

use serde::Deserialize;

use super::access::GuildAccess;
use super::effects::{Change, Effect, Effects};
use super::patch;
use crate::errors::AppError;
use crate::model::limits::MAX_GUILDS_PER_USER;
use crate::model::{validate, Channel, ChannelKind, Guild, Id, Permissions, Role};
use crate::store::{MemberRecord, Read, Store, Write};

/// A new guild, as a client asks for it.
#[derive(Debug, Deserialize)]
pub struct NewGuild {
    /// Name.
    pub name: String,
}

/// Changes to a guild; absent fields stay as they are.
#[derive(Debug, Deserialize)]
pub struct GuildPatch {
    /// New name.
    pub name: Option<String>,
}

/// 422 if `user` is in MAX_GUILDS_PER_USER guilds already.
pub fn check_guild_count(r: &impl Read, user: Id) -> Result<(), AppError> {
    if r.user_guild_ids(user)?.len() >= MAX_GUILDS_PER_USER {
        return Err(AppError::limit(format!("a user may be in at most {MAX_GUILDS_PER_USER} guilds")));
    }
    Ok(())
}

/// Create a guild owned by the caller.
pub async fn create(store: &Store, owner: Id, b: NewGuild) -> Result<(Guild, Effects), AppError> {
    let name = validate::name("name", &b.name)?;
    let ids = store.ids();
    let gid = ids.next();
    let now = gid.timestamp_ms();
    let guild = Guild { id: gid, name, owner_id: owner, created_at: now };
    let everyone = Role::everyone(gid);
    let channel = |kind, name: &str, position| Channel {
        position,
        ..Channel::new(ids.next(), kind, Some(gid), Some(name.to_string()))
    };
    let defaults = [channel(ChannelKind::Text, "general", 0), channel(ChannelKind::Voice, "General", 1)];
    let g = guild.clone();
    store
        .write(move |w| {
            check_guild_count(w, owner)?;
            w.put_guild(&g)?;
            w.put_role(&everyone)?;
            for c in &defaults {
                w.put_channel(c)?;
            }
            w.put_member(gid, owner, &MemberRecord::joined(now))?;
            Ok::<_, AppError>(())
        })
        .await?;
    Ok((guild, Effects::one(Effect::Joined { guild: gid, user: owner })))
}

/// The guilds the caller is in.
pub fn list_mine(r: &impl Read, caller: Id) -> Result<Vec<Guild>, AppError> {
    let mut out = Vec::new();
    for gid in r.user_guild_ids(caller)? {
        if let Some(g) = r.guild(gid)? {
            out.push(g);
        }
    }
    Ok(out)
}

/// A guild the caller is in.
pub fn get(r: &impl Read, caller: Id, gid: Id) -> Result<Guild, AppError> {
    Ok(GuildAccess::load(r, gid, caller)?.guild)
}

/// Change a guild (MANAGE_GUILD).
pub async fn update(store: &Store, caller: Id, gid: Id, b: GuildPatch) -> Result<(Guild, Effects), AppError> {
    patch::require_fields(&[b.name.is_some()])?;
    let ga = GuildAccess::load(&store.read()?, gid, caller)?;
    ga.require(Permissions::MANAGE_GUILD)?;
    let name = b.name.as_deref().map(|n| validate::name("name", n)).transpose()?;
    let (guild, changed) = store
        .write(move |w| {
            let current = w.guild(gid)?.ok_or_else(AppError::unknown_guild)?;
            let Some(g) = patch::apply(&current, |g| {
                if let Some(n) = name {
                    g.name = n;
                }
            }) else {
                return Ok((current, false));
            };
            w.put_guild(&g)?;
            Ok::<_, AppError>((g, true))
        })
        .await?;
    Ok((guild, if changed { Effects::guild(gid, &[Change::Guild]) } else { Effects::none() }))
}

/// Delete a guild (its owner only).
pub async fn delete(store: &Store, caller: Id, gid: Id) -> Result<Effects, AppError> {
    let ga = GuildAccess::load(&store.read()?, gid, caller)?;
    if !ga.is_owner() {
        return Err(AppError::missing_permissions_msg("only the owner may delete a guild"));
    }
    store.write(move |w| Ok::<_, AppError>(w.delete_guild(gid)?)).await?;
    Ok(Effects::guild(gid, &[Change::Deleted]))
}
