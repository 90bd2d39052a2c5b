//! Applying a committed change: re-read it, tell clients, recompute who may
//! read which channel, and push the result to the channel actors.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use actix::prelude::*;

use super::messages::push_access;
use super::GuildActor;
use crate::actors::channel::Shutdown;
use crate::actors::hub::{dispatch_to, Readers, SessionRef};
pub use crate::domain::Change;
use crate::model::snapshot::{GuildSnapshot, MemberRoles};
use crate::model::{Channel, Id};
use crate::protocol::events::{event, ChannelDelete, GuildDelete, MemberRemove, RoleDelete, RoleEvent};
use crate::store::{Read, StoreError};

/// Apply a committed change. Answers once clients were told and channel
/// actors have the new access data queued.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reload(pub Change);

impl Handler<Reload> for GuildActor {
    type Result = ();

    fn handle(&mut self, msg: Reload, ctx: &mut Context<Self>) {
        if let Err(e) = self.apply(msg.0, ctx) {
            // The store is the truth; a failed re-read leaves the old state
            // until the next change. Say so loudly.
            tracing::error!(guild = %self.id(), error = %e, change = ?msg.0, "guild reload failed");
        }
    }
}

impl GuildActor {
    fn apply(&mut self, change: Change, ctx: &mut Context<Self>) -> Result<(), StoreError> {
        let id = self.id();
        let r = self.core.store.read()?;
        let mut snap = (*self.snap).clone();
        let mut updated_channels = BTreeSet::new();
        match change {
            Change::Deleted => {
                self.delete_all(ctx);
                return Ok(());
            }
            Change::Guild => {
                let Some(g) = r.guild(id)? else {
                    self.delete_all(ctx);
                    return Ok(());
                };
                snap.guild = g.clone();
                self.all.dispatch(event::GUILD_UPDATE, &g);
            }
            Change::Channel(cid) => {
                match r.channel(cid)? {
                    Some(c) if c.guild_id == Some(id) => snap.upsert_channel(c),
                    _ => snap.channels.retain(|c| c.id != cid),
                }
                updated_channels.insert(cid);
            }
            Change::Channels => {
                let fresh = r.guild_channels(id)?;
                for c in &fresh {
                    if snap.channel(c.id) != Some(c) {
                        updated_channels.insert(c.id);
                    }
                }
                snap.channels = fresh;
            }
            Change::Role(rid) => {
                let existed = snap.roles.iter().any(|x| x.id == rid);
                let mut roles = snap.roles.clone();
                roles.retain(|x| x.id != rid);
                match r.role(id, rid)? {
                    Some(role) => {
                        roles.push(role.clone());
                        let name = if existed { event::GUILD_ROLE_UPDATE } else { event::GUILD_ROLE_CREATE };
                        self.all.dispatch(name, &RoleEvent { guild_id: id, role });
                    }
                    None => {
                        for m in snap.members.values_mut() {
                            m.roles.retain(|x| *x != rid);
                        }
                        self.all.dispatch(event::GUILD_ROLE_DELETE, &RoleDelete { guild_id: id, role_id: rid });
                    }
                }
                snap.set_roles(roles);
            }
            Change::Roles => {
                let roles = r.roles(id)?;
                for role in &roles {
                    if !snap.roles.contains(role) {
                        self.all.dispatch(event::GUILD_ROLE_UPDATE, &RoleEvent { guild_id: id, role: role.clone() });
                    }
                }
                snap.set_roles(roles);
            }
            Change::Member(uid) => {
                return self.apply_member(uid, snap, ctx);
            }
        }
        self.install(snap, &updated_channels);
        Ok(())
    }

    fn apply_member(&mut self, uid: Id, mut snap: GuildSnapshot, ctx: &mut Context<Self>) -> Result<(), StoreError> {
        let id = self.id();
        let member = self.core.store.read()?.member(id, uid)?;
        let was_member = snap.members.contains_key(&uid);
        match member {
            Some(m) => {
                snap.members.insert(uid, MemberRoles { roles: m.roles.clone() });
                let name = if was_member { event::GUILD_MEMBER_UPDATE } else { event::GUILD_MEMBER_ADD };
                self.all.dispatch(name, &m);
                self.install(snap, &BTreeSet::new());
                // A member's live sessions that are not here yet (just joined,
                // or just created the guild) join now.
                for s in self.core.online.sessions(uid) {
                    if self.sessions.contains_key(&s.id()) {
                        continue;
                    }
                    if let Some(state) = self.add_session(s.clone()) {
                        dispatch_to(std::slice::from_ref(&s), event::GUILD_CREATE, &state);
                        s.shared.set_guild(id, Some(ctx.address()));
                    }
                }
            }
            None if was_member => {
                let user = self.core.store.read()?.user(uid)?;
                let leaving = self.user_sessions(uid);
                for s in &leaving {
                    self.remove_session(s.id(), uid);
                    s.shared.set_guild(id, None);
                }
                dispatch_to(&leaving, event::GUILD_DELETE, &GuildDelete { id });
                snap.members.remove(&uid);
                self.install(snap, &BTreeSet::new());
                if let Some(user) = user {
                    self.all.dispatch(event::GUILD_MEMBER_REMOVE, &MemberRemove { guild_id: id, user });
                }
            }
            None => {}
        }
        Ok(())
    }

    fn delete_all(&mut self, ctx: &mut Context<Self>) {
        self.clear_voice();
        let id = self.id();
        self.all.dispatch(event::GUILD_DELETE, &GuildDelete { id });
        for s in self.sessions.values() {
            s.shared.set_guild(id, None);
        }
        for a in self.channel_actors.values() {
            a.do_send(Shutdown);
        }
        self.sessions.clear();
        self.by_user.clear();
        ctx.stop();
    }

    /// Switch to a new snapshot: diff every online user's visible channels,
    /// send CHANNEL_CREATE / UPDATE / DELETE, rebuild readers, push access.
    fn install(&mut self, snap: GuildSnapshot, updated: &BTreeSet<Id>) {
        let snap = Arc::new(snap);
        let mut created: HashMap<Id, Vec<SessionRef>> = HashMap::new();
        let mut deleted: HashMap<Id, Vec<SessionRef>> = HashMap::new();
        let mut changed: HashMap<Id, Vec<SessionRef>> = HashMap::new();
        let users: Vec<Id> = self.by_user.keys().copied().collect();
        for user in users {
            let new_vis = snap.visible_channels(user);
            let old_vis = self.visible.get(&user).cloned().unwrap_or_default();
            let sessions = self.user_sessions(user);
            for c in new_vis.difference(&old_vis) {
                created.entry(*c).or_default().extend(sessions.iter().cloned());
            }
            for c in old_vis.difference(&new_vis) {
                deleted.entry(*c).or_default().extend(sessions.iter().cloned());
            }
            for c in updated.intersection(&new_vis) {
                if old_vis.contains(c) {
                    changed.entry(*c).or_default().extend(sessions.iter().cloned());
                }
            }
            self.visible.insert(user, new_vis);
        }
        let find = |c: &Id| -> Option<&Channel> { snap.channel(*c) };
        for (c, ss) in &created {
            if let Some(ch) = find(c) {
                dispatch_to(ss, event::CHANNEL_CREATE, ch);
            }
        }
        for (c, ss) in &changed {
            if let Some(ch) = find(c) {
                dispatch_to(ss, event::CHANNEL_UPDATE, ch);
            }
        }
        for (c, ss) in &deleted {
            dispatch_to(ss, event::CHANNEL_DELETE, &ChannelDelete { id: *c, guild_id: Some(self.id()) });
        }
        // Readers per channel from the new visibility.
        let mut readers: HashMap<Id, Readers> = HashMap::new();
        for (user, vis) in &self.visible {
            for s in self.user_sessions(*user) {
                for c in vis {
                    readers.entry(*c).or_default().add(s.clone());
                }
            }
        }
        self.readers = readers;
        // Channels that no longer exist: stop their actors.
        let gone: Vec<Id> = self.channel_actors.keys().filter(|c| snap.channel(**c).is_none()).copied().collect();
        for c in gone {
            if let Some(a) = self.channel_actors.remove(&c) {
                a.do_send(Shutdown);
            }
        }
        self.snap = snap;
        push_access(self);
        self.recheck_voice();
    }
}
