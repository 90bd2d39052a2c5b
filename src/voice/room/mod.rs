//! One voice channel's SFU, sans-IO (in the manner of str0m and quinn-proto):
//! it owns the participants' `Rtc`s and decides everything — what to forward
//! to whom, when someone speaks, which offer goes out, who has timed out —
//! but touches no socket, clock, actor or metric. Every input carries `now`;
//! the caller then drains [`Room::poll_output`] until it returns
//! [`Output::Timeout`]: datagrams to send, [`Event`]s to deliver, and the
//! instant at which to call [`Room::handle_timeout`].
//!
//! The room keeps str0m's rules: after every change to an `Rtc` it drains
//! `poll_output` until the `Rtc` asks for a timeout; each `Rtc` has one
//! deadline (with its speaking hold and expiry) and the room's is the
//! earliest of them; only due `Rtc`s are fed a timeout. Datagrams arrive
//! already routed to their participant (O(1), by [`super::demux`]); the
//! routes the demux needs come out as [`Event::Route`] and
//! [`Event::Unroute`]. Every call into str0m is under `catch_unwind` (in
//! [`Participant`]): a panic there removes one participant.
//!
//! `actors::voice_room` is the shell that feeds it the voice socket, the
//! gateway and a timer; `benches/voice.rs` drives it in memory.

mod forward;
#[cfg(test)]
mod peers;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::config::CryptoProvider;
use str0m::media::MediaData;

use super::flags::Flags;
use super::liveness::Expired;
pub use super::participant::{AnswerError, Gone, Joiner, Offer, Transmit};
use super::participant::{Drained, Participant};
use crate::model::Id;

/// What the room asks of its shell, in order.
#[derive(Debug)]
pub enum Output {
    /// Send this datagram from the voice socket.
    Transmit(Transmit),
    /// Deliver this event.
    Event(Event),
    /// Nothing more until this instant (`None`: the room is empty); then call
    /// [`Room::handle_timeout`].
    Timeout(Option<Instant>),
}

/// A key the voice socket routes datagrams by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RouteKey {
    /// The ICE username fragment of first STUN requests.
    Ufrag(String),
    /// A source address the participant's `Rtc` talks to.
    Addr(SocketAddr),
}

/// Something the shell delivers.
#[derive(Debug)]
pub enum Event {
    /// Send this offer to participant `pid`'s client (VOICE_OFFER).
    Offer {
        /// The participant.
        pid: u64,
        /// The offer.
        offer: Offer,
    },
    /// `user_id` started or stopped speaking (VOICE_SPEAKING to everyone in the room).
    Speaking {
        /// The speaker.
        user_id: Id,
        /// Speaking now.
        speaking: bool,
    },
    /// Datagrams matching `key` belong to participant `pid` from now on.
    Route {
        /// The participant.
        pid: u64,
        /// What to route by.
        key: RouteKey,
    },
    /// Datagrams matching `key` no longer belong to `pid` (if they still did).
    Unroute {
        /// The participant.
        pid: u64,
        /// What was routed by.
        key: RouteKey,
    },
    /// A participant is gone (its routes were withdrawn just before).
    Removed {
        /// The participant.
        pid: u64,
        /// Its user.
        user_id: Id,
        /// Why.
        reason: Removal,
    },
}

/// Why a participant left the room.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Removal {
    /// [`Room::leave`] (the guild took it out).
    #[error("left")]
    Left,
    /// The same participant joined again and got a fresh `Rtc`.
    #[error("joined again")]
    Rejoined,
    /// [`Room::close`].
    #[error("the room closed")]
    Closed,
    /// It waited too long (connect, answer, silence, ICE disconnection).
    #[error(transparent)]
    Expired(#[from] Expired),
    /// Its first answer could not be applied, so it has no connection.
    #[error("invalid first answer: {0}")]
    InvalidFirstAnswer(String),
    /// Its `Rtc` failed.
    #[error(transparent)]
    Failed(#[from] Gone),
}

impl Removal {
    /// Whether the room decided it (the guild must be told).
    pub fn by_room(&self) -> bool {
        !matches!(self, Removal::Left | Removal::Rejoined | Removal::Closed)
    }
}

/// Why [`Room::answer`] refused an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerRefused {
    /// No such participant.
    #[error("this session is not in that voice channel")]
    NotJoined,
    /// The participant refused it.
    #[error(transparent)]
    Answer(#[from] AnswerError),
}

/// One voice channel's participants and the forwarding between them.
pub struct Room {
    /// The advertised address: every `Rtc`'s candidate and where datagrams arrive.
    local: SocketAddr,
    crypto: Arc<CryptoProvider>,
    parts: HashMap<u64, Participant>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// Reused buffers: no allocation per datagram.
    drained: Drained,
    media: Vec<MediaData>,
    due: Vec<u64>,
    forwarded: u64,
}

impl Room {
    /// An empty room whose `Rtc`s are reached at `local`.
    pub fn new(local: SocketAddr, crypto: Arc<CryptoProvider>) -> Room {
        Room {
            local,
            crypto,
            parts: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            drained: Drained::default(),
            media: Vec::new(),
            due: Vec::new(),
            forwarded: 0,
        }
    }

    /// Participants in the room.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// No participants.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Whether `pid` is in the room.
    pub fn contains(&self, pid: u64) -> bool {
        self.parts.contains_key(&pid)
    }

    /// Whether `pid`'s ICE and DTLS are up (audio flows to and from it).
    pub fn is_connected(&self, pid: u64) -> bool {
        self.parts.get(&pid).is_some_and(|p| p.live.connected)
    }

    /// Packets forwarded since the last call.
    pub fn take_forwarded(&mut self) -> u64 {
        std::mem::take(&mut self.forwarded)
    }

    /// Add a participant with a fresh `Rtc` and its first offer; everyone else
    /// is offered a line for it. A participant with the same `pid` is
    /// replaced. On error nothing was added.
    pub fn join(&mut self, now: Instant, who: Joiner) -> Result<(), Gone> {
        let pid = who.pid;
        // The others' lines for a replaced participant stay: they are keyed by pid.
        let replaced = self.remove(pid, Removal::Rejoined);
        let others = self.others(pid);
        let (p, offer) = match Participant::new(who, self.local, self.crypto.clone(), &others, now) {
            Ok(x) => x,
            Err(e) => {
                if replaced {
                    self.renegotiate_all(now);
                }
                return Err(e);
            }
        };
        self.events.push_back(Event::Route { pid, key: RouteKey::Ufrag(p.ufrag.clone()) });
        self.events.push_back(Event::Offer { pid, offer });
        self.parts.insert(pid, p);
        self.settle(pid, now);
        for (other, _) in others {
            self.renegotiate(other, now);
        }
        Ok(())
    }

    /// Take `pid` out; the others are offered the room without it.
    pub fn leave(&mut self, now: Instant, pid: u64) {
        if self.remove(pid, Removal::Left) {
            self.renegotiate_all(now);
        }
    }

    /// Remove everyone (the shell is stopping): routes and removals, no offers.
    pub fn close(&mut self) {
        let pids: Vec<u64> = self.parts.keys().copied().collect();
        for pid in pids {
            self.remove(pid, Removal::Closed);
        }
    }

    /// New mute and deafen state of `pid` (takes effect with the next packet;
    /// a silenced speaker stops speaking at once).
    pub fn set_flags(&mut self, pid: u64, flags: Flags) {
        let Some(p) = self.parts.get_mut(&pid) else { return };
        p.flags = flags;
        if flags.silenced() && p.speaking.reset().is_some() {
            self.events.push_back(Event::Speaking { user_id: p.user_id, speaking: false });
        }
    }

    /// `pid`'s client answers offer `revision`. An invalid answer to a later
    /// offer gets a fresh offer; an invalid first answer removes the participant.
    pub fn answer(&mut self, now: Instant, pid: u64, revision: u32, sdp: &str) -> Result<(), AnswerRefused> {
        let others = self.others(pid);
        let p = self.parts.get_mut(&pid).ok_or(AnswerRefused::NotJoined)?;
        let res = p.accept_answer(revision, sdp, &others, now);
        let established = p.established();
        let result = match res {
            Ok(next) => {
                if let Some(offer) = next {
                    self.events.push_back(Event::Offer { pid, offer });
                }
                Ok(())
            }
            Err(AnswerError::Invalid(why)) if established => {
                self.renegotiate(pid, now);
                Err(AnswerError::Invalid(why).into())
            }
            Err(AnswerError::Invalid(why)) => {
                self.remove(pid, Removal::InvalidFirstAnswer(why.clone()));
                self.renegotiate_all(now);
                Err(AnswerError::Invalid(why).into())
            }
            Err(e) => Err(e.into()),
        };
        self.settle(pid, now);
        result
    }

    /// A datagram from `source` that the demux routed to `pid`.
    pub fn handle_datagram(&mut self, now: Instant, pid: u64, source: SocketAddr, data: &[u8]) {
        let Some(p) = self.parts.get_mut(&pid) else { return };
        p.receive(now, source, self.local, data);
        self.settle(pid, now);
    }

    /// Time passed: feed due `Rtc`s, end speaking holds, remove the expired.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = std::mem::take(&mut self.due);
        due.extend(self.parts.iter().filter(|(_, p)| p.next_timeout <= now).map(|(pid, _)| *pid));
        for pid in due.drain(..) {
            if let Some(p) = self.parts.get_mut(&pid) {
                p.timeout(now);
            }
            self.settle(pid, now);
        }
        self.due = due;
        for p in self.parts.values_mut() {
            if p.speaking.on_timeout(now).is_some() {
                self.events.push_back(Event::Speaking { user_id: p.user_id, speaking: false });
            }
        }
        let expired: Vec<(u64, Expired)> =
            self.parts.iter().filter_map(|(pid, p)| p.live.expired(now).map(|why| (*pid, why))).collect();
        if expired.is_empty() {
            return;
        }
        for (pid, why) in expired {
            self.remove(pid, why.into());
        }
        self.renegotiate_all(now);
    }

    /// The next thing to do: datagrams first, then events, then the deadline.
    pub fn poll_output(&mut self) -> Output {
        if let Some(t) = self.transmits.pop_front() {
            return Output::Transmit(t);
        }
        if let Some(e) = self.events.pop_front() {
            return Output::Event(e);
        }
        Output::Timeout(self.next_deadline())
    }

    /// The earliest deadline of any participant.
    fn next_deadline(&self) -> Option<Instant> {
        self.parts.values().map(Participant::deadline).min()
    }

    /// (pid, user) of everyone but `pid`, by pid: offers list lines in a stable order.
    fn others(&self, pid: u64) -> Vec<(u64, Id)> {
        let mut v: Vec<(u64, Id)> =
            self.parts.iter().filter(|(k, _)| **k != pid).map(|(k, p)| (*k, p.user_id)).collect();
        v.sort_unstable();
        v
    }

    /// Take `pid` out, withdrawing its routes. The caller renegotiates.
    fn remove(&mut self, pid: u64, reason: Removal) -> bool {
        let Some(mut p) = self.parts.remove(&pid) else { return false };
        let was_speaking = p.speaking.reset().is_some();
        self.events.push_back(Event::Unroute { pid, key: RouteKey::Ufrag(p.ufrag) });
        for a in p.addrs {
            self.events.push_back(Event::Unroute { pid, key: RouteKey::Addr(a) });
        }
        self.events.push_back(Event::Removed { pid, user_id: p.user_id, reason });
        if was_speaking {
            self.events.push_back(Event::Speaking { user_id: p.user_id, speaking: false });
        }
        true
    }

    /// Offer `pid` the current set of others, if that changes its lines.
    fn renegotiate(&mut self, pid: u64, now: Instant) {
        let others = self.others(pid);
        let Some(p) = self.parts.get_mut(&pid) else { return };
        if let Some(offer) = p.renegotiate(&others, now) {
            self.events.push_back(Event::Offer { pid, offer });
        }
        self.settle(pid, now);
    }

    fn renegotiate_all(&mut self, now: Instant) {
        let pids: Vec<u64> = self.parts.keys().copied().collect();
        for pid in pids {
            self.renegotiate(pid, now);
        }
    }

    /// Drain `pid`'s `Rtc` after a change, then forward the audio it yielded.
    fn settle(&mut self, pid: u64, now: Instant) {
        let Some(p) = self.parts.get_mut(&pid) else { return };
        let res = p.drain(now, &mut self.transmits, &mut self.drained);
        self.apply_addrs(pid);
        if let Err(e) = res {
            self.drained.media.clear();
            if self.remove(pid, e.into()) {
                self.renegotiate_all(now);
            }
            return;
        }
        if self.drained.media.is_empty() {
            return;
        }
        let mut media = std::mem::take(&mut self.media);
        std::mem::swap(&mut media, &mut self.drained.media);
        for m in &media {
            self.forward(pid, m, now);
        }
        media.clear();
        self.media = media;
    }

    /// Turn the drain's address changes into routes for `pid`.
    fn apply_addrs(&mut self, pid: u64) {
        for (addr, routed) in self.drained.addrs.drain(..) {
            let key = RouteKey::Addr(addr);
            self.events.push_back(if routed { Event::Route { pid, key } } else { Event::Unroute { pid, key } });
        }
    }
}
