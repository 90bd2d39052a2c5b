//! What sessions and channel actors ask of a guild.

use std::sync::Arc;

use actix::prelude::*;

use super::GuildActor;
use crate::actors::channel::{Attach, Detach, SetAccess};
use crate::actors::hub::{dispatch_to, Readers, SessionRef};
use crate::model::snapshot::GuildSnapshot;
use crate::model::{Id, Status};
use crate::protocol::commands::RequestGuildMembers;
use crate::protocol::events::{event, GuildState, MembersChunk, Presence};
use crate::store::Read;

/// A session of a member comes online in this guild. Answers the guild as the
/// member sees it, or `None` if the user is not a member.
#[derive(Message)]
#[rtype(result = "Option<GuildState>")]
pub struct Connect {
    /// The session.
    pub session: SessionRef,
}

/// A session went away.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    /// The session number.
    pub session_id: u64,
    /// Its user.
    pub user_id: Id,
}

/// A member changed their status.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PresenceChanged {
    /// The user.
    pub user_id: Id,
    /// The new status.
    pub status: Status,
}

/// A session asked for members (op 8).
#[derive(Message)]
#[rtype(result = "Result<(), crate::errors::AppError>")]
pub struct RequestMembers {
    /// The asking session.
    pub session: SessionRef,
    /// The request.
    pub request: RequestGuildMembers,
}

impl GuildActor {
    /// The guild as `user` sees it.
    pub(super) fn state_for(&self, user: Id) -> Option<GuildState> {
        let member = match self.core.store.read().and_then(|r| r.member(self.id(), user)) {
            Ok(Some(m)) => m,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(error = %e, "reading member for guild state");
                return None;
            }
        };
        let channels = self.snap.channels.iter().filter(|c| self.snap.can_view(user, c)).cloned().collect();
        let presences = if self.is_large() {
            Vec::new()
        } else {
            self.by_user
                .keys()
                .map(|u| Presence { user_id: *u, status: self.core.online.status(*u) })
                .filter(|p| p.status != Status::Offline)
                .collect()
        };
        Some(GuildState {
            guild: self.snap.guild.clone(),
            channels,
            roles: self.snap.roles.clone(),
            member,
            member_count: self.snap.members.len(),
            presences,
            large: self.is_large(),
            voice_states: self.voice_states(),
        })
    }

    /// Register a live session of a member; returns its guild state.
    pub(super) fn add_session(&mut self, s: SessionRef) -> Option<GuildState> {
        let user = s.user_id();
        if !self.snap.members.contains_key(&user) {
            return None;
        }
        let first = !self.by_user.contains_key(&user);
        if self.sessions.contains_key(&s.id()) {
            return self.state_for(user);
        }
        let vis = self.visible.entry(user).or_insert_with(|| self.snap.visible_channels(user)).clone();
        for c in &vis {
            self.readers.entry(*c).or_default().add(s.clone());
            if let Some(a) = self.channel_actors.get(c) {
                a.do_send(crate::actors::channel::AddReader(s.clone()));
            }
        }
        self.by_user.entry(user).or_default().push(s.id());
        self.sessions.insert(s.id(), s.clone());
        self.all.add(s);
        self.idle_since = None;
        if first {
            self.announce_presence(user, self.core.online.status(user));
        }
        self.state_for(user)
    }

    /// Unregister a session.
    pub(super) fn remove_session(&mut self, session_id: u64, user: Id) {
        if self.sessions.remove(&session_id).is_none() {
            return;
        }
        self.voice_session_gone(session_id, user);
        self.all.remove(session_id);
        self.presence_subs.remove(session_id);
        for (c, r) in self.readers.iter_mut() {
            r.remove(session_id);
            if let Some(a) = self.channel_actors.get(c) {
                a.do_send(crate::actors::channel::RemoveReader(session_id));
            }
        }
        let last = match self.by_user.get_mut(&user) {
            Some(ids) => {
                ids.retain(|i| *i != session_id);
                ids.is_empty()
            }
            None => true,
        };
        if last {
            self.by_user.remove(&user);
            self.visible.remove(&user);
            if self.snap.members.contains_key(&user) {
                self.announce_presence(user, Status::Offline);
            }
        }
    }
}

impl Handler<Connect> for GuildActor {
    type Result = Option<GuildState>;

    fn handle(&mut self, msg: Connect, _: &mut Context<Self>) -> Self::Result {
        self.add_session(msg.session)
    }
}

impl Handler<Disconnect> for GuildActor {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        self.remove_session(msg.session_id, msg.user_id);
    }
}

impl Handler<Attach> for GuildActor {
    type Result = Option<(Arc<GuildSnapshot>, Readers)>;

    fn handle(&mut self, msg: Attach, _: &mut Context<Self>) -> Self::Result {
        self.snap.channel(msg.channel_id)?;
        self.channel_actors.insert(msg.channel_id, msg.addr);
        let readers = self.readers.get(&msg.channel_id).cloned().unwrap_or_default();
        Some((self.snap.clone(), readers))
    }
}

impl Handler<Detach> for GuildActor {
    type Result = ();

    fn handle(&mut self, msg: Detach, _: &mut Context<Self>) {
        if self.channel_actors.get(&msg.channel_id) == Some(&msg.addr) {
            self.channel_actors.remove(&msg.channel_id);
        }
    }
}

impl Handler<PresenceChanged> for GuildActor {
    type Result = ();

    fn handle(&mut self, msg: PresenceChanged, _: &mut Context<Self>) {
        if self.by_user.contains_key(&msg.user_id) {
            self.announce_presence(msg.user_id, msg.status);
        }
    }
}

impl Handler<RequestMembers> for GuildActor {
    type Result = Result<(), crate::errors::AppError>;

    fn handle(&mut self, msg: RequestMembers, _: &mut Context<Self>) -> Self::Result {
        let user = msg.session.user_id();
        if !self.snap.members.contains_key(&user) {
            return Err(crate::errors::AppError::unknown_guild());
        }
        let limit = crate::domain::members::chunk_size(msg.request.limit);
        let members = self.core.store.read()?.members(self.id(), msg.request.after, limit)?;
        let presences = if msg.request.presences {
            self.presence_subs.add(msg.session.clone());
            members
                .iter()
                .map(|m| Presence { user_id: m.user.id, status: self.core.online.status(m.user.id) })
                .filter(|p| p.status != Status::Offline)
                .collect()
        } else {
            Vec::new()
        };
        let chunk = MembersChunk { guild_id: self.id(), members, presences, nonce: msg.request.nonce };
        dispatch_to(&[msg.session], event::GUILD_MEMBERS_CHUNK, &chunk);
        Ok(())
    }
}

/// Push the current snapshot and readers to every running channel actor.
pub(super) fn push_access(actor: &GuildActor) {
    for (c, addr) in &actor.channel_actors {
        let readers = actor.readers.get(c).cloned().unwrap_or_default();
        addr.do_send(SetAccess { snap: actor.snap.clone(), readers });
    }
}
