//! Invites: create (CREATE_INVITES, with use and age limits), list
//! (MANAGE_GUILD), preview, join, revoke (the inviter or MANAGE_GUILD).

use serde::{Deserialize, Serialize};

use super::access::{ChannelAccess, GuildAccess};
use super::effects::{Effect, Effects};
use super::guilds::check_guild_count;
use crate::auth::new_invite_code;
use crate::errors::AppError;
use crate::model::limits::{MAX_INVITES_PER_GUILD, MAX_INVITE_AGE_SECS, MAX_INVITE_USES};
use crate::model::{Guild, Id, Invite, Permissions};
use crate::store::{MemberRecord, Read, Store, Write};
use crate::util::now_ms;

/// A new invite, as a client asks for it.
#[derive(Debug, Deserialize)]
pub struct NewInvite {
    /// 1–MAX_INVITE_USES; absent: unlimited.
    pub max_uses: Option<u32>,
    /// 0 (never) – MAX_INVITE_AGE_SECS; absent: MAX_INVITE_AGE_SECS.
    pub max_age_secs: Option<u64>,
}

/// What anyone with the code may see before joining.
#[derive(Debug, Serialize)]
pub struct Preview {
    /// The code.
    pub code: String,
    /// The guild.
    pub guild: Guild,
    /// The channel it points at.
    pub channel_id: Id,
    /// That channel's name.
    pub channel_name: Option<String>,
    /// Members now.
    pub member_count: usize,
    /// When it expires (ms since the Unix epoch).
    pub expires_at: Option<u64>,
}

/// The invite limits a client asked for, checked: (max_uses, expires_at).
pub fn check_limits(b: &NewInvite, now: u64) -> Result<(Option<u32>, Option<u64>), AppError> {
    if b.max_uses.is_some_and(|m| m == 0 || m > MAX_INVITE_USES) {
        return Err(AppError::invalid(format!("max_uses must be 1–{MAX_INVITE_USES}")));
    }
    let age = b.max_age_secs.unwrap_or(MAX_INVITE_AGE_SECS);
    if age > MAX_INVITE_AGE_SECS {
        return Err(AppError::invalid(format!("max_age_secs must be 0–{MAX_INVITE_AGE_SECS}")));
    }
    Ok((b.max_uses, (age > 0).then(|| now + age * 1000)))
}

/// Create an invite to a text or voice channel.
pub async fn create(store: &Store, caller: Id, cid: Id, b: NewInvite) -> Result<Invite, AppError> {
    let ca = ChannelAccess::load(&store.read()?, cid, caller)?;
    let gid = ca.channel.guild_id.ok_or_else(|| AppError::invalid("invites are for guild channels"))?;
    if !ca.channel.kind.has_messages() {
        return Err(AppError::invalid("invites point at a text or voice channel, not a category"));
    }
    ca.require(Permissions::CREATE_INVITES)?;
    let now = now_ms();
    let (max_uses, expires_at) = check_limits(&b, now)?;
    let invite = Invite {
        code: new_invite_code(),
        guild_id: gid,
        channel_id: cid,
        inviter_id: caller,
        max_uses,
        uses: 0,
        expires_at,
        created_at: now,
    };
    let inv = invite.clone();
    store
        .write(move |w| {
            let (live, spent): (Vec<Invite>, Vec<Invite>) =
                w.guild_invites(gid)?.into_iter().partition(|i| i.is_usable(now));
            if live.len() >= MAX_INVITES_PER_GUILD {
                return Err(AppError::limit(format!("a guild may have at most {MAX_INVITES_PER_GUILD} invites")));
            }
            if w.invite(&inv.code)?.is_some() {
                return Err(AppError::conflict("invite code collision; try again"));
            }
            for old in spent {
                w.delete_invite(gid, &old.code)?;
            }
            w.put_invite(&inv)?;
            Ok(())
        })
        .await?;
    Ok(invite)
}

/// A guild's invites (MANAGE_GUILD).
pub fn list(r: &impl Read, caller: Id, gid: Id) -> Result<Vec<Invite>, AppError> {
    GuildAccess::load(r, gid, caller)?.require(Permissions::MANAGE_GUILD)?;
    Ok(r.guild_invites(gid)?)
}

fn usable(r: &impl Read, code: &str) -> Result<Invite, AppError> {
    r.invite(code)?.filter(|i| i.is_usable(now_ms())).ok_or_else(AppError::unknown_invite)
}

/// What an invite leads to.
pub fn preview(r: &impl Read, code: &str) -> Result<Preview, AppError> {
    let inv = usable(r, code)?;
    let guild = r.guild(inv.guild_id)?.ok_or_else(AppError::unknown_invite)?;
    let channel_name = r.channel(inv.channel_id)?.and_then(|c| c.name);
    Ok(Preview {
        code: inv.code,
        member_count: r.member_count(guild.id)?,
        guild,
        channel_id: inv.channel_id,
        channel_name,
        expires_at: inv.expires_at,
    })
}

/// Join the guild an invite points at.
pub async fn join(store: &Store, uid: Id, code: String) -> Result<(Guild, Effects), AppError> {
    let guild = store
        .write(move |w| {
            let mut inv = usable(w, &code)?;
            let guild = w.guild(inv.guild_id)?.ok_or_else(AppError::unknown_invite)?;
            if w.member_record(guild.id, uid)?.is_some() {
                return Err(AppError::conflict("you are already a member of this guild"));
            }
            check_guild_count(w, uid)?;
            inv.uses += 1;
            w.put_invite(&inv)?;
            w.put_member(guild.id, uid, &MemberRecord::joined(now_ms()))?;
            Ok(guild)
        })
        .await?;
    let gid = guild.id;
    Ok((guild, Effects::one(Effect::Joined { guild: gid, user: uid })))
}

/// Revoke an invite: its creator, or anyone with MANAGE_GUILD.
pub async fn revoke(store: &Store, caller: Id, code: String) -> Result<(), AppError> {
    let r = store.read()?;
    let inv = r.invite(&code)?.ok_or_else(AppError::unknown_invite)?;
    let ga = GuildAccess::load(&r, inv.guild_id, caller).map_err(|_| AppError::unknown_invite())?;
    if inv.inviter_id != caller {
        ga.require(Permissions::MANAGE_GUILD)?;
    }
    let gid = inv.guild_id;
    store
        .write(move |w| {
            w.invite(&code)?.ok_or_else(AppError::unknown_invite)?;
            w.delete_invite(gid, &code)?;
            Ok::<_, AppError>(())
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_limits() {
        let b = |max_uses, max_age_secs| NewInvite { max_uses, max_age_secs };
        assert_eq!(check_limits(&b(None, None), 1000).unwrap(), (None, Some(1000 + MAX_INVITE_AGE_SECS * 1000)));
        assert_eq!(check_limits(&b(Some(5), Some(0)), 1000).unwrap(), (Some(5), None), "0 = never expires");
        assert!(check_limits(&b(Some(0), None), 0).is_err());
        assert!(check_limits(&b(Some(MAX_INVITE_USES + 1), None), 0).is_err());
        assert!(check_limits(&b(None, Some(MAX_INVITE_AGE_SECS + 1)), 0).is_err());
    }
}
