//! Voice states of a guild: who is in which voice channel, admitted here
//! (permissions, room and server limits) and carried out by the channel's
//! [`VoiceRoom`] actor. A user is in at most one voice channel on the server
//! (joining another, in any guild, leaves the first), through one gateway
//! session; the state ends when that session ends, when the user leaves, or
//! when the room drops the participant (failure, time-out).

use std::sync::Arc;

use actix::prelude::*;

use super::GuildActor;
use crate::actors::hub::SessionRef;
use crate::actors::voice_room::{Answer, Join, Leave, SetFlags, VoiceLeft, VoiceRoom};
use crate::domain::voice;
use crate::errors::{AppError, ErrorCode};
use crate::model::{Id, Permissions};
use crate::protocol::commands::{VoiceAnswer, VoiceStateUpdate};
use crate::protocol::events::{event, VoiceState};
use crate::store::Read;
use crate::voice::flags::Flags;
use crate::voice::room::Joiner;
use crate::voice::VoiceNet;

/// One user's voice connection in this guild.
pub struct VoiceEntry {
    /// The session holding it.
    pub session: SessionRef,
    /// What clients see.
    pub state: VoiceState,
}

impl VoiceEntry {
    fn flags(&self) -> Flags {
        let s = &self.state;
        Flags { self_mute: s.self_mute, self_deaf: s.self_deaf, mute: s.mute, deaf: s.deaf, suppress: s.suppress }
    }

    fn channel(&self) -> Id {
        self.state.channel_id.unwrap_or(Id(0))
    }
}

/// op 44 from a session of this guild.
#[derive(Message)]
#[rtype(result = "Result<(), AppError>")]
pub struct VoiceUpdate {
    /// The session.
    pub session: SessionRef,
    /// What it asked.
    pub cmd: VoiceStateUpdate,
}

/// op 45 from a session of this guild.
#[derive(Message)]
#[rtype(result = "Result<(), AppError>")]
pub struct VoiceAnswerFor {
    /// The session number.
    pub session_id: u64,
    /// Its user.
    pub user_id: Id,
    /// The answer.
    pub cmd: VoiceAnswer,
}

/// Take the user out of voice in this guild (they joined voice in another
/// guild, or a moderator disconnected them).
#[derive(Message)]
#[rtype(result = "()")]
pub struct VoiceEvict {
    /// The user.
    pub user_id: Id,
}

fn net(actor: &GuildActor) -> Result<Arc<VoiceNet>, AppError> {
    actor
        .core
        .voice
        .clone()
        .ok_or_else(|| AppError::new(ErrorCode::VoiceUnavailable, "voice is turned off on this server"))
}

impl GuildActor {
    /// Voice states for READY / GUILD_CREATE.
    pub(super) fn voice_states(&self) -> Vec<VoiceState> {
        self.voice.values().map(|e| e.state.clone()).collect()
    }

    fn room(&mut self, channel: Id, ctx: &mut Context<Self>) -> Result<Addr<VoiceRoom>, AppError> {
        if let Some(a) = self.rooms.get(&channel).filter(|a| a.connected()) {
            return Ok(a.clone());
        }
        let net = net(self)?;
        let (gid, guild) = (self.id(), ctx.address());
        let arbiter = self.core.registry.arbiter(channel);
        let addr = VoiceRoom::start_in_arbiter(&arbiter, move |_| VoiceRoom::new(net, gid, channel, guild.recipient()));
        self.rooms.insert(channel, addr.clone());
        Ok(addr)
    }

    /// Server mute and deafen of a member, from the store.
    fn moderation(&self, user: Id) -> (bool, bool) {
        match self.core.store.read().and_then(|r| r.member_record(self.id(), user)) {
            Ok(Some(m)) => (m.mute, m.deaf),
            _ => (false, false),
        }
    }

    fn voice_update(&mut self, s: SessionRef, cmd: VoiceStateUpdate, ctx: &mut Context<Self>) -> Result<(), AppError> {
        let net = net(self)?;
        let user = s.user_id();
        if !self.sessions.contains_key(&s.id()) {
            return Err(AppError::unknown_guild());
        }
        let Some(ch) = cmd.channel_id else {
            if self.voice.contains_key(&user) {
                self.leave_voice(user, true);
            }
            return Ok(());
        };
        let channel = self.snap.channel(ch).ok_or_else(AppError::unknown_channel)?;
        let grant = voice::admit(channel.kind, self.snap.channel_permissions(user, channel))?;
        let (mute, deaf) = self.moderation(user);
        let state = VoiceState {
            guild_id: self.id(),
            channel_id: Some(ch),
            user_id: user,
            session_id: format!("{:x}", s.id()),
            self_mute: cmd.self_mute,
            self_deaf: cmd.self_deaf,
            mute,
            deaf,
            suppress: grant.suppress,
        };
        if let Some(e) = self.voice.get_mut(&user) {
            if e.state.channel_id == Some(ch) && e.session.id() == s.id() {
                // Same connection: only the flags change.
                e.state = state.clone();
                let flags = e.flags();
                if let Some(room) = self.rooms.get(&ch) {
                    room.do_send(SetFlags { pid: s.id(), flags });
                }
                self.all.dispatch(event::VOICE_STATE_UPDATE, &state);
                return Ok(());
            }
        }
        let in_room = self.voice.values().filter(|e| e.state.channel_id == Some(ch) && e.state.user_id != user).count();
        voice::check_room(in_room, net.max_room)?;
        // A move: leave the old channel without announcing the gap.
        if self.voice.contains_key(&user) {
            self.leave_voice(user, false);
        }
        if !net.try_admit() {
            return Err(voice::server_full(net.max_total));
        }
        if let Some(prev) = net.users.insert(user, self.id()) {
            if prev != self.id() {
                if let Some(g) = self.core.registry.live_guild(prev) {
                    g.do_send(VoiceEvict { user_id: user });
                }
            }
        }
        let room = match self.room(ch, ctx) {
            Ok(r) => r,
            Err(e) => {
                net.release();
                return Err(e);
            }
        };
        let entry = VoiceEntry { session: s.clone(), state: state.clone() };
        room.do_send(Join { who: Joiner { pid: s.id(), user_id: user, flags: entry.flags() }, session: s });
        self.voice.insert(user, entry);
        self.all.dispatch(event::VOICE_STATE_UPDATE, &state);
        Ok(())
    }

    /// Take `user` out of voice here: tell the room, forget an empty room,
    /// and (if `announce`) dispatch the state with no channel.
    pub(super) fn leave_voice(&mut self, user: Id, announce: bool) {
        let Some(e) = self.voice.remove(&user) else { return };
        let ch = e.channel();
        if let Some(room) = self.rooms.get(&ch) {
            room.do_send(Leave { pid: e.session.id() });
        }
        if !self.voice.values().any(|o| o.state.channel_id == Some(ch)) {
            // The room stops once nothing refers to it.
            self.rooms.remove(&ch);
        }
        if let Some(net) = &self.core.voice {
            net.users.remove_if(&user, |_, g| *g == self.id());
        }
        if announce {
            let state = VoiceState { channel_id: None, self_mute: false, self_deaf: false, ..e.state };
            self.all.dispatch(event::VOICE_STATE_UPDATE, &state);
        }
    }

    /// A session ended: its voice connection ends too.
    pub(super) fn voice_session_gone(&mut self, session_id: u64, user: Id) {
        if self.voice.get(&user).is_some_and(|e| e.session.id() == session_id) {
            self.leave_voice(user, true);
        }
    }

    /// After a snapshot or member change: drop who may no longer connect,
    /// and update speak permission and server mute/deafen.
    pub(super) fn recheck_voice(&mut self) {
        let users: Vec<Id> = self.voice.keys().copied().collect();
        for user in users {
            let Some(e) = self.voice.get(&user) else { continue };
            let ch = e.channel();
            let perms = match self.snap.channel(ch) {
                Some(c) if self.snap.members.contains_key(&user) => self.snap.channel_permissions(user, c),
                _ => Permissions::NONE,
            };
            let Some(grant) = voice::recheck(perms) else {
                self.leave_voice(user, true);
                continue;
            };
            let (mute, deaf) = self.moderation(user);
            let Some(e) = self.voice.get_mut(&user) else { continue };
            let suppress = grant.suppress;
            if (e.state.mute, e.state.deaf, e.state.suppress) == (mute, deaf, suppress) {
                continue;
            }
            e.state.mute = mute;
            e.state.deaf = deaf;
            e.state.suppress = suppress;
            let (flags, pid, state) = (e.flags(), e.session.id(), e.state.clone());
            if let Some(room) = self.rooms.get(&ch) {
                room.do_send(SetFlags { pid, flags });
            }
            self.all.dispatch(event::VOICE_STATE_UPDATE, &state);
        }
    }

    /// The guild is going away: release every voice connection.
    pub(super) fn clear_voice(&mut self) {
        let users: Vec<Id> = self.voice.keys().copied().collect();
        for u in users {
            self.leave_voice(u, false);
        }
    }
}

impl Handler<VoiceUpdate> for GuildActor {
    type Result = Result<(), AppError>;

    fn handle(&mut self, msg: VoiceUpdate, ctx: &mut Context<Self>) -> Self::Result {
        self.voice_update(msg.session, msg.cmd, ctx)
    }
}

impl Handler<VoiceAnswerFor> for GuildActor {
    type Result = ResponseFuture<Result<(), AppError>>;

    fn handle(&mut self, msg: VoiceAnswerFor, _: &mut Context<Self>) -> Self::Result {
        let ch = msg.cmd.channel_id;
        let room = match self.voice.get(&msg.user_id) {
            Some(e) if e.session.id() == msg.session_id && e.state.channel_id == Some(ch) => {
                self.rooms.get(&ch).cloned()
            }
            _ => None,
        };
        Box::pin(async move {
            let room =
                room.ok_or_else(|| AppError::new(ErrorCode::Conflict, "this session is not in that voice channel"))?;
            room.send(Answer { pid: msg.session_id, revision: msg.cmd.revision, sdp: msg.cmd.sdp }).await?
        })
    }
}

impl Handler<VoiceLeft> for GuildActor {
    type Result = ();

    fn handle(&mut self, msg: VoiceLeft, _: &mut Context<Self>) {
        let user = self
            .voice
            .iter()
            .find(|(_, e)| e.session.id() == msg.pid && e.state.channel_id == Some(msg.channel_id))
            .map(|(u, _)| *u);
        if let Some(user) = user {
            tracing::debug!(user = user.0, reason = %msg.reason, "left voice");
            self.leave_voice(user, true);
        }
    }
}

impl Handler<VoiceEvict> for GuildActor {
    type Result = ();

    fn handle(&mut self, msg: VoiceEvict, _: &mut Context<Self>) {
        // The server-wide entry already names the other guild, and leave_voice only clears it if it names this one.
        self.leave_voice(msg.user_id, true);
    }
}
