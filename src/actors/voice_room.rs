//! The voice room actor: one per voice channel with participants, a thin
//! shell around a sans-IO [`Room`]. It feeds the room the datagrams the voice
//! socket routes here, the guild's commands and one timer, and delivers what
//! the room asks: datagrams to the socket, offers and speaking events to
//! sessions, routes to the demux, and removals the room decided to the guild.
//!
//! The guild actor admits participants (permissions, limits) and owns the
//! voice states; the room only moves media.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;

use super::hub::{dispatch_to, SessionRef};
use crate::errors::{AppError, ErrorCode};
use crate::metrics;
use crate::model::Id;
use crate::protocol::events::{event, VoiceOffer, VoiceSpeaking, VoiceStream};
use crate::protocol::limits::VOICE_ROOM_MAILBOX;
use crate::voice::flags::Flags;
use crate::voice::net::{Datagram, RoomTarget};
use crate::voice::room::{AnswerError, AnswerRefused, Event, Joiner, Offer, Output, Removal, Room, RouteKey};
use crate::voice::VoiceNet;

/// A room dropped a participant on its own (failure, time-out).
#[derive(Message)]
#[rtype(result = "()")]
pub struct VoiceLeft {
    /// The room's channel.
    pub channel_id: Id,
    /// The participant (session number).
    pub pid: u64,
    /// Why, for the log.
    pub reason: String,
}

/// One voice channel's room.
pub struct VoiceRoom {
    net: Arc<VoiceNet>,
    guild_id: Id,
    channel_id: Id,
    guild: Recipient<VoiceLeft>,
    room: Room,
    /// Each participant's gateway session (for offers and speaking events).
    sessions: HashMap<u64, SessionRef>,
    /// The scheduled wake-up and its handle.
    timer: Option<(Instant, SpawnHandle)>,
}

/// Add a participant (admitted by the guild; replaces one with the same pid).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Join {
    /// Who.
    pub who: Joiner,
    /// Its gateway session.
    pub session: SessionRef,
}

/// Remove a participant (the guild already updated the voice state).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    /// The participant.
    pub pid: u64,
}

/// New mute/deafen state.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetFlags {
    /// The participant.
    pub pid: u64,
    /// Its flags.
    pub flags: Flags,
}

/// A client's SDP answer.
#[derive(Message)]
#[rtype(result = "Result<(), AppError>")]
pub struct Answer {
    /// The participant.
    pub pid: u64,
    /// The offer's revision.
    pub revision: u32,
    /// The SDP.
    pub sdp: String,
}

impl VoiceRoom {
    /// A new, empty room.
    pub fn new(net: Arc<VoiceNet>, guild_id: Id, channel_id: Id, guild: Recipient<VoiceLeft>) -> VoiceRoom {
        let room = Room::new(net.advertised, net.crypto.clone());
        VoiceRoom { net, guild_id, channel_id, guild, room, sessions: HashMap::new(), timer: None }
    }

    /// Deliver everything the room asked for, then set the timer.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        loop {
            match self.room.poll_output() {
                Output::Transmit(t) => self.net.send(t.destination, &t.contents),
                Output::Event(e) => self.deliver(e, ctx),
                Output::Timeout(next) => {
                    self.schedule(next, ctx);
                    break;
                }
            }
        }
        let forwarded = self.room.take_forwarded();
        if forwarded > 0 {
            metrics::VOICE_PACKETS_FORWARDED.inc_by(forwarded);
        }
    }

    fn deliver(&mut self, e: Event, ctx: &mut Context<Self>) {
        match e {
            Event::Offer { pid, offer } => self.send_offer(pid, offer),
            Event::Speaking { user_id, speaking } => {
                let sessions: Vec<SessionRef> = self.sessions.values().cloned().collect();
                let ev = VoiceSpeaking { guild_id: self.guild_id, channel_id: self.channel_id, user_id, speaking };
                dispatch_to(&sessions, event::VOICE_SPEAKING, &ev);
            }
            Event::Route { pid, key } => {
                let target = RoomTarget { pid, room: ctx.address().recipient() };
                match key {
                    RouteKey::Ufrag(u) => self.net.demux.add_ufrag(u, target),
                    RouteKey::Addr(a) => self.net.demux.learn_addr(a, target),
                }
            }
            Event::Unroute { pid, key } => match key {
                RouteKey::Ufrag(u) => self.net.demux.forget_ufrag(&u, pid),
                RouteKey::Addr(a) => self.net.demux.forget_addr(a, pid),
            },
            Event::Removed { pid, user_id, reason } => {
                self.net.release();
                metrics::VOICE_PARTICIPANTS.dec();
                // A rejoin keeps the session the new participant was given.
                if reason != Removal::Rejoined {
                    self.sessions.remove(&pid);
                }
                if reason.by_room() {
                    tracing::info!(channel = self.channel_id.0, user = user_id.0, %reason, "voice participant removed");
                    self.guild.do_send(VoiceLeft { channel_id: self.channel_id, pid, reason: reason.to_string() });
                }
            }
        }
    }

    fn send_offer(&self, pid: u64, o: Offer) {
        let Some(session) = self.sessions.get(&pid) else { return };
        let offer = VoiceOffer {
            guild_id: self.guild_id,
            channel_id: self.channel_id,
            revision: o.revision,
            sdp: o.sdp,
            send_mid: o.send_mid,
            streams: o.streams.into_iter().map(|(mid, user_id)| VoiceStream { mid, user_id }).collect(),
        };
        dispatch_to(std::slice::from_ref(session), event::VOICE_OFFER, &offer);
    }

    /// Keep one timer at the room's earliest deadline.
    fn schedule(&mut self, next: Option<Instant>, ctx: &mut Context<Self>) {
        let Some(next) = next else {
            if let Some((_, h)) = self.timer.take() {
                ctx.cancel_future(h);
            }
            return;
        };
        if let Some((at, h)) = self.timer {
            if at <= next {
                // An earlier wake-up is already set; it reschedules when it fires.
                return;
            }
            ctx.cancel_future(h);
        }
        let delay = next.saturating_duration_since(Instant::now());
        let h = ctx.run_later(delay, |actor, ctx| {
            actor.timer = None;
            actor.room.handle_timeout(Instant::now());
            actor.flush(ctx);
        });
        self.timer = Some((next, h));
    }
}

impl Actor for VoiceRoom {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::VOICE_ROOMS.inc();
        // Datagrams beyond this are dropped by the socket reader (try_send), never queued without bound.
        ctx.set_mailbox_capacity(VOICE_ROOM_MAILBOX);
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        metrics::VOICE_ROOMS.dec();
        self.room.close();
        // Withdraw routes and count the removals; nothing is sent or announced any more.
        loop {
            match self.room.poll_output() {
                Output::Event(e @ (Event::Unroute { .. } | Event::Removed { .. })) => self.deliver(e, ctx),
                Output::Event(_) | Output::Transmit(_) => {}
                Output::Timeout(_) => break,
            }
        }
    }
}

impl Handler<Join> for VoiceRoom {
    type Result = ();

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) {
        let pid = msg.who.pid;
        self.sessions.insert(pid, msg.session);
        match self.room.join(Instant::now(), msg.who) {
            Ok(()) => metrics::VOICE_PARTICIPANTS.inc(),
            Err(e) => {
                self.sessions.remove(&pid);
                self.net.release();
                self.guild.do_send(VoiceLeft { channel_id: self.channel_id, pid, reason: e.to_string() });
            }
        }
        self.flush(ctx);
    }
}

impl Handler<Leave> for VoiceRoom {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        self.room.leave(Instant::now(), msg.pid);
        self.flush(ctx);
    }
}

impl Handler<SetFlags> for VoiceRoom {
    type Result = ();

    fn handle(&mut self, msg: SetFlags, ctx: &mut Context<Self>) {
        self.room.set_flags(msg.pid, msg.flags);
        self.flush(ctx);
    }
}

impl Handler<Answer> for VoiceRoom {
    type Result = Result<(), AppError>;

    fn handle(&mut self, msg: Answer, ctx: &mut Context<Self>) -> Self::Result {
        let res = self.room.answer(Instant::now(), msg.pid, msg.revision, &msg.sdp);
        self.flush(ctx);
        res.map_err(|e| match e {
            AnswerRefused::NotJoined => AppError::new(ErrorCode::Conflict, "this session is not in that voice channel"),
            AnswerRefused::Answer(AnswerError::Stale(r)) => {
                AppError::new(ErrorCode::Conflict, format!("offer revision {r} is not the one waiting for an answer"))
            }
            AnswerRefused::Answer(AnswerError::Invalid(why)) => AppError::new(ErrorCode::InvalidSdp, why),
        })
    }
}

impl Handler<Datagram> for VoiceRoom {
    type Result = ();

    fn handle(&mut self, msg: Datagram, ctx: &mut Context<Self>) {
        self.room.handle_datagram(Instant::now(), msg.pid, msg.source, &msg.data);
        self.flush(ctx);
    }
}
