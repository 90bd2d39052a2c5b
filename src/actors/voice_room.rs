//! The voice room actor: one per voice channel with participants. A thin
//! shell around [`Participant`]s (each a str0m `Rtc`): it feeds them the
//! datagrams the voice socket routes here, forwards each participant's audio
//! to the others (never back, honouring mute and deafen), keeps one timer for
//! the earliest deadline any `Rtc` asked for, and removes participants that
//! fail or vanish, telling the guild.
//!
//! The guild actor admits participants (permissions, limits) and owns the
//! voice states; this actor only moves media.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use str0m::media::MediaData;

use super::guild::{GuildActor, VoiceLeft};
use super::hub::{dispatch_to, SessionRef};
use crate::errors::{AppError, ErrorCode};
use crate::metrics;
use crate::model::Id;
use crate::protocol::events::{event, VoiceOffer, VoiceSpeaking, VoiceStream};
use crate::protocol::limits::{VOICE_ANSWER_TIMEOUT, VOICE_CONNECT_TIMEOUT, VOICE_PEER_TIMEOUT, VOICE_ROOM_MAILBOX};
use crate::voice::flags::{forwards, Flags};
use crate::voice::net::{Datagram, RoomTarget};
use crate::voice::participant::{AnswerError, Drained, Joiner, Offer, Participant};
use crate::voice::VoiceNet;

/// How often participants are checked for time-outs (connect, answer, silence).
const HOUSEKEEPING: Duration = Duration::from_millis(500);

/// One voice channel's room.
pub struct VoiceRoom {
    net: Arc<VoiceNet>,
    guild_id: Id,
    channel_id: Id,
    guild: Addr<GuildActor>,
    parts: HashMap<u64, Participant>,
    /// The scheduled wake-up and its handle.
    timer: Option<(Instant, SpawnHandle)>,
    /// Reused buffers (no allocation per datagram).
    drained: Drained,
    media: Vec<MediaData>,
}

/// Add a participant (admitted by the guild; replaces one with the same pid).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Join(pub Joiner);

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
    pub fn new(net: Arc<VoiceNet>, guild_id: Id, channel_id: Id, guild: Addr<GuildActor>) -> VoiceRoom {
        VoiceRoom {
            net,
            guild_id,
            channel_id,
            guild,
            parts: HashMap::new(),
            timer: None,
            drained: Drained::default(),
            media: Vec::new(),
        }
    }

    /// (pid, user) of everyone but `pid`.
    fn others(&self, pid: u64) -> Vec<(u64, Id)> {
        let mut v: Vec<(u64, Id)> =
            self.parts.iter().filter(|(k, _)| **k != pid).map(|(k, p)| (*k, p.user_id)).collect();
        // Stable line order in offers: by join order would need more state; by pid is deterministic.
        v.sort_unstable();
        v
    }

    fn send_offer(&self, p: &Participant, o: Offer) {
        let offer = VoiceOffer {
            guild_id: self.guild_id,
            channel_id: self.channel_id,
            revision: o.revision,
            sdp: o.sdp,
            send_mid: o.send_mid,
            streams: o.streams.into_iter().map(|(mid, user_id)| VoiceStream { mid, user_id }).collect(),
        };
        dispatch_to(std::slice::from_ref(&p.session), event::VOICE_OFFER, &offer);
    }

    fn announce_speaking(&self, user_id: Id, speaking: bool) {
        let sessions: Vec<SessionRef> = self.parts.values().map(|p| p.session.clone()).collect();
        let ev = VoiceSpeaking { guild_id: self.guild_id, channel_id: self.channel_id, user_id, speaking };
        dispatch_to(&sessions, event::VOICE_SPEAKING, &ev);
    }

    /// Drain `pid`'s `Rtc` after a change, then forward the audio it yielded.
    fn settle(&mut self, pid: u64, now: Instant, ctx: &mut Context<Self>) {
        let net = self.net.clone();
        let mut send = |to, b: &[u8]| net.send(to, b);
        let res = match self.parts.get_mut(&pid) {
            Some(p) => p.drain(now, &mut send, &mut self.drained),
            None => return,
        };
        self.apply_addrs(pid, ctx);
        if let Err(e) = res {
            self.drained.media.clear();
            return self.remove(pid, Some(e.to_string()), ctx);
        }
        if self.drained.media.is_empty() {
            return;
        }
        std::mem::swap(&mut self.media, &mut self.drained.media);
        let media = std::mem::take(&mut self.media);
        for m in &media {
            self.forward(pid, m, now, ctx);
        }
        self.media = media;
        self.media.clear();
    }

    /// Route learned and forgotten addresses of `pid` into the demux.
    fn apply_addrs(&mut self, pid: u64, ctx: &mut Context<Self>) {
        if self.drained.learned.is_empty() && self.drained.forgotten.is_empty() {
            return;
        }
        for a in self.drained.forgotten.drain(..) {
            self.net.demux.forget_addr(a, pid);
        }
        let room = ctx.address().recipient();
        for a in self.drained.learned.drain(..) {
            self.net.demux.learn_addr(a, RoomTarget { pid, room: room.clone() });
        }
    }

    /// Forward one audio packet from `from` to everyone else who should hear it.
    fn forward(&mut self, from: u64, m: &MediaData, now: Instant, ctx: &mut Context<Self>) {
        let Some(src) = self.parts.get_mut(&from) else { return };
        let src_flags = src.flags;
        let change = if src_flags.silenced() {
            src.speaking.reset()
        } else {
            src.speaking.on_packet(now, m.ext_vals.audio_level, m.ext_vals.voice_activity)
        };
        let src_user = src.user_id;
        if let Some(s) = change {
            self.announce_speaking(src_user, s);
        }
        if src_flags.silenced() {
            return;
        }
        let net = self.net.clone();
        let mut send = |to, b: &[u8]| net.send(to, b);
        let mut failed = Vec::new();
        let mut moved = Vec::new();
        let mut forwarded = 0u64;
        for (pid, p) in self.parts.iter_mut() {
            if *pid == from || !p.connected || !forwards(&src_flags, &p.flags) {
                continue;
            }
            if p.write_audio(from, m) {
                forwarded += 1;
            }
            // Receivers only send here: their drains yield transmits, no audio.
            if p.drain(now, &mut send, &mut self.drained).is_err() {
                failed.push(*pid);
            }
            // str0m packetizes written media on its next timeout, which the
            // write makes due at once. Feeding it here sends the packet now
            // instead of at the room's timer (a tokio timer: up to 1 ms later).
            if p.next_timeout <= now {
                p.timeout(now);
                if p.drain(now, &mut send, &mut self.drained).is_err() {
                    failed.push(*pid);
                }
            }
            self.drained.media.clear();
            if !self.drained.learned.is_empty() || !self.drained.forgotten.is_empty() {
                // Rare: the Rtc switched paths while sending.
                moved.push((
                    *pid,
                    std::mem::take(&mut self.drained.learned),
                    std::mem::take(&mut self.drained.forgotten),
                ));
            }
        }
        metrics::VOICE_PACKETS_FORWARDED.inc_by(forwarded);
        for (pid, learned, forgotten) in moved {
            self.drained.learned = learned;
            self.drained.forgotten = forgotten;
            self.apply_addrs(pid, ctx);
        }
        for pid in failed {
            self.remove(pid, Some("WebRTC error".into()), ctx);
        }
    }

    /// Remove a participant. `reason` is set when the room decided it (the
    /// guild is told); `None` when the guild asked.
    fn remove(&mut self, pid: u64, reason: Option<String>, ctx: &mut Context<Self>) {
        let Some(mut p) = self.parts.remove(&pid) else { return };
        self.net.demux.remove(&p.ufrag, p.addrs.iter().copied(), pid);
        self.net.release();
        metrics::VOICE_PARTICIPANTS.dec();
        if p.speaking.reset().is_some() {
            self.announce_speaking(p.user_id, false);
        }
        if let Some(reason) = reason {
            tracing::info!(channel = self.channel_id.0, user = p.user_id.0, %reason, "voice participant removed");
            self.guild.do_send(VoiceLeft { channel_id: self.channel_id, pid, reason });
        }
        self.renegotiate_all(Instant::now(), ctx);
    }

    /// Offer every participant the current set of others.
    fn renegotiate_all(&mut self, now: Instant, ctx: &mut Context<Self>) {
        let pids: Vec<u64> = self.parts.keys().copied().collect();
        for pid in pids {
            let others = self.others(pid);
            let offer = self.parts.get_mut(&pid).and_then(|p| p.renegotiate(&others, now));
            if let (Some(o), Some(p)) = (offer, self.parts.get(&pid)) {
                self.send_offer(p, o);
            }
            self.settle(pid, now, ctx);
        }
    }

    /// Keep one timer at the earliest deadline of any participant.
    fn schedule(&mut self, ctx: &mut Context<Self>) {
        let next =
            self.parts.values().map(|p| p.speaking.deadline().map_or(p.next_timeout, |d| d.min(p.next_timeout))).min();
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
        let h = ctx.run_later(delay, |room, ctx| {
            room.timer = None;
            room.on_timer(ctx);
        });
        self.timer = Some((next, h));
    }

    fn on_timer(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let due: Vec<u64> = self.parts.iter().filter(|(_, p)| p.next_timeout <= now).map(|(k, _)| *k).collect();
        for pid in due {
            if let Some(p) = self.parts.get_mut(&pid) {
                p.timeout(now);
            }
            self.settle(pid, now, ctx);
        }
        let stopped: Vec<Id> =
            self.parts.values_mut().filter_map(|p| p.speaking.on_timeout(now).map(|_| p.user_id)).collect();
        for user in stopped {
            self.announce_speaking(user, false);
        }
        self.schedule(ctx);
    }

    /// Remove participants that never connected, never answered, or went silent.
    fn housekeeping(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let expired: Vec<(u64, &'static str)> = self
            .parts
            .iter()
            .filter_map(|(pid, p)| {
                let older = |t: Option<Instant>, d: Duration| t.is_some_and(|t| now.saturating_duration_since(t) >= d);
                let why = if !p.connected && older(Some(p.joined_at), VOICE_CONNECT_TIMEOUT) {
                    "ICE/DTLS did not complete in time"
                } else if older(p.offer_since, VOICE_ANSWER_TIMEOUT) {
                    "no answer to the offer"
                } else if p.connected && older(p.last_recv, VOICE_PEER_TIMEOUT) {
                    "no packets from the peer"
                } else if older(p.disconnected_since, VOICE_PEER_TIMEOUT) {
                    "ICE disconnected"
                } else {
                    return None;
                };
                Some((*pid, why))
            })
            .collect();
        for (pid, why) in expired {
            self.remove(pid, Some(why.into()), ctx);
        }
        self.schedule(ctx);
    }
}

impl Actor for VoiceRoom {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::VOICE_ROOMS.inc();
        // Datagrams beyond this are dropped by the socket reader (try_send), never queued without bound.
        ctx.set_mailbox_capacity(VOICE_ROOM_MAILBOX);
        ctx.run_interval(HOUSEKEEPING, |room, ctx| room.housekeeping(ctx));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        metrics::VOICE_ROOMS.dec();
        for (pid, p) in self.parts.drain() {
            self.net.demux.remove(&p.ufrag, p.addrs.iter().copied(), pid);
            self.net.release();
            metrics::VOICE_PARTICIPANTS.dec();
        }
    }
}

impl Handler<Join> for VoiceRoom {
    type Result = ();

    fn handle(&mut self, Join(who): Join, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let pid = who.pid;
        if let Some(mut old) = self.parts.remove(&pid) {
            // The same session joins again (e.g. after losing its network): a fresh Rtc.
            self.net.demux.remove(&old.ufrag, old.addrs.iter().copied(), pid);
            self.net.release();
            metrics::VOICE_PARTICIPANTS.dec();
            if old.speaking.reset().is_some() {
                self.announce_speaking(old.user_id, false);
            }
        }
        let others = self.others(pid);
        let created = Participant::new(who, self.net.advertised, self.net.crypto.clone(), &others, now);
        let (p, offer) = match created {
            Ok(x) => x,
            Err(e) => {
                self.net.release();
                self.guild.do_send(VoiceLeft { channel_id: self.channel_id, pid, reason: e.to_string() });
                return;
            }
        };
        metrics::VOICE_PARTICIPANTS.inc();
        self.net.demux.add_ufrag(p.ufrag.clone(), RoomTarget { pid, room: ctx.address().recipient() });
        self.send_offer(&p, offer);
        self.parts.insert(pid, p);
        self.settle(pid, now, ctx);
        // Everyone else gets a line for the newcomer.
        for (other, _) in others {
            let o = self.others(other);
            let offer = self.parts.get_mut(&other).and_then(|p| p.renegotiate(&o, now));
            if let (Some(offer), Some(p)) = (offer, self.parts.get(&other)) {
                self.send_offer(p, offer);
            }
            self.settle(other, now, ctx);
        }
        self.schedule(ctx);
    }
}

impl Handler<Leave> for VoiceRoom {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        self.remove(msg.pid, None, ctx);
        self.schedule(ctx);
    }
}

impl Handler<SetFlags> for VoiceRoom {
    type Result = ();

    fn handle(&mut self, msg: SetFlags, _: &mut Context<Self>) {
        let Some(p) = self.parts.get_mut(&msg.pid) else { return };
        p.flags = msg.flags;
        let user = p.user_id;
        if msg.flags.silenced() && p.speaking.reset().is_some() {
            self.announce_speaking(user, false);
        }
    }
}

impl Handler<Answer> for VoiceRoom {
    type Result = Result<(), AppError>;

    fn handle(&mut self, msg: Answer, ctx: &mut Context<Self>) -> Self::Result {
        let now = Instant::now();
        let others = self.others(msg.pid);
        let p = self
            .parts
            .get_mut(&msg.pid)
            .ok_or_else(|| AppError::new(ErrorCode::Conflict, "this session is not in that voice channel"))?;
        let res = p.accept_answer(msg.revision, &msg.sdp, &others, now);
        let result = match res {
            Ok(next) => {
                if let (Some(o), Some(p)) = (next, self.parts.get(&msg.pid)) {
                    self.send_offer(p, o);
                }
                Ok(())
            }
            Err(AnswerError::Stale(r)) => Err(AppError::new(
                ErrorCode::Conflict,
                format!("offer revision {r} is not the one waiting for an answer"),
            )),
            Err(AnswerError::Invalid(why)) => {
                let established = self.parts.get(&msg.pid).is_some_and(Participant::established);
                if established {
                    // Offer again; the client may answer that one.
                    let offer = self.parts.get_mut(&msg.pid).and_then(|p| p.renegotiate(&others, now));
                    if let (Some(o), Some(p)) = (offer, self.parts.get(&msg.pid)) {
                        self.send_offer(p, o);
                    }
                } else {
                    self.remove(msg.pid, Some(format!("invalid first answer: {why}")), ctx);
                }
                Err(AppError::new(ErrorCode::InvalidSdp, why))
            }
        };
        self.settle(msg.pid, now, ctx);
        self.schedule(ctx);
        result
    }
}

impl Handler<Datagram> for VoiceRoom {
    type Result = ();

    fn handle(&mut self, msg: Datagram, ctx: &mut Context<Self>) {
        let local = self.net.advertised;
        let Some(p) = self.parts.get_mut(&msg.pid) else { return };
        let now = Instant::now();
        p.receive(now, msg.source, local, &msg.data);
        self.settle(msg.pid, now, ctx);
        self.schedule(ctx);
    }
}
