//! Roles: create, update, delete, reorder. Nobody grants permissions they do
//! not hold, and nobody touches a role at or above their own highest role
//! (the owner and administrators excepted, as the permission rules say).

use serde::Deserialize;

use super::access::GuildAccess;
use super::effects::{Change, Effects};
use super::patch;
use crate::errors::AppError;
use crate::model::limits::MAX_ROLES_PER_GUILD;
use crate::model::{validate, Id, Permissions, Role};
use crate::store::{Read, Store, Write};

/// Largest role colour (RGB).
const MAX_COLOR: u32 = 0xFF_FFFF;

/// A new role, as a client asks for it.
#[derive(Debug, Deserialize)]
pub struct NewRole {
    /// Name.
    pub name: String,
    /// RGB colour (0 = none).
    #[serde(default)]
    pub color: u32,
    /// Permissions (default none).
    #[serde(default)]
    pub permissions: Option<Permissions>,
    /// Shown separately in the member list.
    #[serde(default)]
    pub hoist: bool,
    /// Anyone may ping it.
    #[serde(default)]
    pub mentionable: bool,
}

/// Changes to a role; absent fields stay as they are.
#[derive(Debug, Deserialize)]
pub struct RolePatch {
    /// New name (not for @everyone).
    pub name: Option<String>,
    /// New colour.
    pub color: Option<u32>,
    /// New permissions.
    pub permissions: Option<Permissions>,
    /// New hoist flag.
    pub hoist: Option<bool>,
    /// New mentionable flag.
    pub mentionable: Option<bool>,
}

/// Where one role goes in a reorder.
#[derive(Debug, Deserialize)]
pub struct RolePosition {
    /// The role.
    pub id: Id,
    /// New position (1 and up; 0 is @everyone).
    pub position: i32,
}

fn check_color(c: u32) -> Result<u32, AppError> {
    if c > MAX_COLOR {
        return Err(AppError::invalid(format!("color must be an RGB value 0–{MAX_COLOR}")));
    }
    Ok(c)
}

fn role_of(ga: &GuildAccess, rid: Id) -> Result<Role, AppError> {
    ga.roles.iter().find(|r| r.id == rid).cloned().ok_or_else(AppError::unknown_role)
}

/// The roles of a guild the caller is in.
pub fn list(r: &impl Read, caller: Id, gid: Id) -> Result<Vec<Role>, AppError> {
    Ok(GuildAccess::load(r, gid, caller)?.roles)
}

/// Create a role just above @everyone (MANAGE_ROLES).
pub async fn create(store: &Store, caller: Id, gid: Id, b: NewRole) -> Result<(Role, Effects), AppError> {
    let ga = GuildAccess::load(&store.read()?, gid, caller)?;
    ga.require(Permissions::MANAGE_ROLES)?;
    let name = validate::name("name", &b.name)?;
    let permissions = b.permissions.unwrap_or(Permissions::NONE);
    ga.require_grantable(permissions, "grant")?;
    let role = Role {
        id: store.ids().next(),
        guild_id: gid,
        name,
        color: check_color(b.color)?,
        position: 1,
        permissions,
        hoist: b.hoist,
        mentionable: b.mentionable,
    };
    let r = role.clone();
    store
        .write(move |w| {
            let roles = w.roles(gid)?;
            if roles.len() >= MAX_ROLES_PER_GUILD {
                return Err(AppError::limit(format!("a guild may have at most {MAX_ROLES_PER_GUILD} roles")));
            }
            for mut other in roles.into_iter().filter(|x| x.id != gid) {
                other.position += 1;
                w.put_role(&other)?;
            }
            w.put_role(&r)?;
            Ok(())
        })
        .await?;
    let id = role.id;
    Ok((role, Effects::guild(gid, &[Change::Role(id), Change::Roles])))
}

/// Change a role (MANAGE_ROLES, below the caller's highest role).
pub async fn update(store: &Store, caller: Id, gid: Id, rid: Id, b: RolePatch) -> Result<(Role, Effects), AppError> {
    patch::require_fields(&[
        b.name.is_some(),
        b.color.is_some(),
        b.permissions.is_some(),
        b.hoist.is_some(),
        b.mentionable.is_some(),
    ])?;
    let ga = GuildAccess::load(&store.read()?, gid, caller)?;
    let role = role_of(&ga, rid)?;
    ga.require(Permissions::MANAGE_ROLES)?;
    let is_everyone = rid == gid;
    if !is_everyone {
        ga.require_above(role.position, &format!("role {}", role.name))?;
    }
    let name = match b.name {
        Some(_) if is_everyone => return Err(AppError::invalid("@everyone cannot be renamed")),
        Some(n) => Some(validate::name("name", &n)?),
        None => None,
    };
    if let Some(p) = b.permissions {
        ga.require_grantable(Permissions(p.bits() ^ role.permissions.bits()), "grant")?;
    }
    let color = b.color.map(check_color).transpose()?;
    let (updated, changed) = store
        .write(move |w| {
            let current = w.role(gid, rid)?.ok_or_else(AppError::unknown_role)?;
            let Some(r) = patch::apply(&current, |r| {
                if let Some(n) = name {
                    r.name = n;
                }
                if let Some(c) = color {
                    r.color = c;
                }
                if let Some(p) = b.permissions {
                    r.permissions = p;
                }
                if let Some(m) = b.mentionable {
                    r.mentionable = m;
                }
                if let Some(h) = b.hoist {
                    r.hoist = h;
                }
            }) else {
                return Ok((current, false));
            };
            w.put_role(&r)?;
            Ok::<_, AppError>((r, true))
        })
        .await?;
    Ok((updated, if changed { Effects::guild(gid, &[Change::Role(rid)]) } else { Effects::none() }))
}

/// Delete a role (MANAGE_ROLES, below the caller's highest role; not @everyone).
pub async fn delete(store: &Store, caller: Id, gid: Id, rid: Id) -> Result<Effects, AppError> {
    let ga = GuildAccess::load(&store.read()?, gid, caller)?;
    let role = role_of(&ga, rid)?;
    ga.require(Permissions::MANAGE_ROLES)?;
    if rid == gid {
        return Err(AppError::invalid("@everyone cannot be deleted"));
    }
    ga.require_above(role.position, &format!("role {}", role.name))?;
    store
        .write(move |w| {
            w.role(gid, rid)?.ok_or_else(AppError::unknown_role)?;
            w.delete_role(gid, rid)?;
            Ok::<_, AppError>(())
        })
        .await?;
    Ok(Effects::guild(gid, &[Change::Role(rid), Change::Channels]))
}

/// New positions for the roles (not @everyone) after moving some: the moved
/// ones take their asked positions, then all are renumbered 1.. without gaps.
pub fn reposition(ga: &GuildAccess, moves: &[RolePosition]) -> Result<Vec<(Id, i32)>, AppError> {
    let gid = ga.guild.id;
    let mut roles: Vec<Role> = ga.roles.iter().filter(|r| r.id != gid).cloned().collect();
    for p in moves {
        let role = roles.iter_mut().find(|r| r.id == p.id).ok_or_else(AppError::unknown_role)?;
        if p.position < 1 {
            return Err(AppError::invalid("positions start at 1 (0 is @everyone)"));
        }
        ga.require_above(role.position, &format!("role {}", role.name))?;
        ga.require_above(p.position, &format!("position {}", p.position))?;
        role.position = p.position;
    }
    roles.sort_by_key(|r| (r.position, r.id));
    Ok(roles.iter().enumerate().map(|(i, r)| (r.id, i32::try_from(i + 1).unwrap_or(i32::MAX))).collect())
}

/// Reorder roles (MANAGE_ROLES; only roles below the caller, to positions below the caller).
pub async fn reorder(
    store: &Store,
    caller: Id,
    gid: Id,
    moves: Vec<RolePosition>,
) -> Result<(Vec<Role>, Effects), AppError> {
    patch::require_fields(&[!moves.is_empty()])?;
    let ga = GuildAccess::load(&store.read()?, gid, caller)?;
    ga.require(Permissions::MANAGE_ROLES)?;
    let positions = reposition(&ga, &moves)?;
    let (roles, changed) = store
        .write(move |w| {
            // Only positions change; other fields are re-read so concurrent edits survive.
            let mut changed = false;
            for (id, pos) in &positions {
                if let Some(current) = w.role(gid, *id)? {
                    if let Some(r) = patch::apply(&current, |r| r.position = *pos) {
                        w.put_role(&r)?;
                        changed = true;
                    }
                }
            }
            Ok::<_, AppError>((w.roles(gid)?, changed))
        })
        .await?;
    Ok((roles, if changed { Effects::guild(gid, &[Change::Roles]) } else { Effects::none() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_are_rgb() {
        assert!(check_color(MAX_COLOR).is_ok());
        assert!(check_color(MAX_COLOR + 1).is_err());
    }
}
