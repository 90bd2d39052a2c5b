//! One participant of a voice room: its str0m `Rtc` and the state of its
//! SDP negotiation. The [`Room`](super::room::Room) drives these.
//!
//! The server always makes the offers (so a client only implements the
//! answering side and there is never glare): media line one is `recvonly`
//! (the client's microphone), every other line is `sendonly` and carries one
//! other participant's audio. When participants come and go the server adds
//! and stops lines in a new offer; while an offer is unanswered, changes wait
//! and go out together in the next one.
//!
//! The sans-IO rule is kept here: after every change to the `Rtc` (input,
//! written media, SDP change) [`Participant::drain`] polls it until it
//! returns a timeout, which becomes this participant's next deadline.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use rand::distributions::{Alphanumeric, DistString};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::config::CryptoProvider;
use str0m::media::{Direction, MediaData, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc};

use super::flags::Flags;
use super::liveness::Liveness;
use super::speaking::Speaking;
use crate::model::Id;
use crate::protocol::limits::MAX_VOICE_ADDRS_PER_PARTICIPANT;

/// Why a participant cannot go on (the room removes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Gone {
    /// The `Rtc` reported an error it cannot recover from.
    #[error("the WebRTC connection was closed by the peer or failed")]
    RtcFailed,
    /// A bug in the WebRTC stack panicked; only this participant is dropped.
    #[error("WebRTC stack panicked")]
    Panicked,
}

/// Why an SDP answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// The answer is not for the current offer.
    #[error("no offer with revision {0} is waiting for an answer")]
    Stale(u32),
    /// The SDP could not be parsed or does not match the offer.
    #[error("invalid SDP answer: {0}")]
    Invalid(String),
}

/// An outgoing line: another participant's audio to this one.
#[derive(Debug)]
struct Out {
    from: u64,
    user_id: Id,
    mid: Mid,
    state: OutState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    /// In an offer not yet answered.
    Negotiating,
    /// Answered: audio flows.
    Open,
    /// Being removed in an offer not yet answered.
    Stopping,
}

/// An SDP offer ready to send to the client.
#[derive(Debug, Clone)]
pub struct Offer {
    /// Its revision (the answer echoes it).
    pub revision: u32,
    /// The SDP.
    pub sdp: String,
    /// The line the client sends on.
    pub send_mid: String,
    /// (mid, user) of the lines carrying others' audio.
    pub streams: Vec<(String, Id)>,
}

/// A datagram to send from the voice socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// The bytes (taken over from str0m without a copy).
    pub contents: Vec<u8>,
}

/// What a drain produced that the room must act on (besides transmits).
#[derive(Default)]
pub struct Drained {
    /// Audio received from this participant.
    pub media: Vec<MediaData>,
    /// Address changes, in order: `(address, true)` is routed to this
    /// participant from now on, `(address, false)` no longer.
    pub addrs: Vec<(SocketAddr, bool)>,
}

/// Who joins a room.
pub struct Joiner {
    /// Participant key: the gateway session number.
    pub pid: u64,
    /// The user.
    pub user_id: Id,
    /// Mute and deafen state.
    pub flags: Flags,
}

/// One participant.
pub struct Participant {
    /// Key on the server: its gateway session number.
    pub pid: u64,
    /// The user.
    pub user_id: Id,
    /// Mute and deafen state.
    pub flags: Flags,
    /// Its ICE ufrag (the demux key of its first packets).
    pub ufrag: String,
    /// Addresses its `Rtc` talks to, oldest first.
    pub addrs: VecDeque<SocketAddr>,
    /// Speaking detector.
    pub speaking: Speaking,
    /// When the `Rtc` next needs a timeout.
    pub next_timeout: Instant,
    /// What its time-outs count from.
    pub live: Liveness,
    rtc: Rtc,
    send_mid: Mid,
    out: Vec<Out>,
    revision: u32,
    pending: Option<SdpPendingOffer>,
    dirty: bool,
    established: bool,
}

/// Random ICE credentials; the ufrag doubles as the routing key, so it is long
/// enough not to be guessed.
fn ice_creds() -> IceCreds {
    let mut rng = rand::thread_rng();
    IceCreds { ufrag: Alphanumeric.sample_string(&mut rng, 16), pass: Alphanumeric.sample_string(&mut rng, 24) }
}

impl Participant {
    /// A new participant whose `Rtc` listens on `local` (the advertised
    /// address), with a first offer carrying `others`' audio.
    pub fn new(
        who: Joiner,
        local: SocketAddr,
        crypto: Arc<CryptoProvider>,
        others: &[(u64, Id)],
        now: Instant,
    ) -> Result<(Participant, Offer), Gone> {
        let Joiner { pid, user_id, flags } = who;
        let creds = ice_creds();
        let ufrag = creds.ufrag.clone();
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .set_local_ice_credentials(creds)
            .set_crypto_provider(crypto)
            .clear_codecs()
            .enable_opus(true, false)
            .build(now);
        let candidate = Candidate::host(local, "udp").map_err(|_| Gone::RtcFailed)?;
        rtc.add_local_candidate(candidate);
        let mut api = rtc.sdp_api();
        let send_mid = api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        let mut out = Vec::new();
        for (from, user) in others {
            let mid = api.add_media(MediaKind::Audio, Direction::SendOnly, Some(user.to_string()), None, None);
            out.push(Out { from: *from, user_id: *user, mid, state: OutState::Negotiating });
        }
        let (offer, pending) = api.apply().ok_or(Gone::RtcFailed)?;
        let p = Participant {
            pid,
            user_id,
            flags,
            ufrag,
            addrs: VecDeque::new(),
            speaking: Speaking::default(),
            next_timeout: now,
            live: Liveness::joined(now),
            rtc,
            send_mid,
            out,
            revision: 1,
            pending: Some(pending),
            dirty: false,
            established: false,
        };
        let offer = p.offer(offer.to_sdp_string());
        Ok((p, offer))
    }

    fn offer(&self, sdp: String) -> Offer {
        Offer {
            revision: self.revision,
            sdp,
            send_mid: self.send_mid.to_string(),
            streams: self
                .out
                .iter()
                .filter(|o| o.state != OutState::Stopping)
                .map(|o| (o.mid.to_string(), o.user_id))
                .collect(),
        }
    }

    /// Bring the outgoing lines in line with `others`. Returns an offer to
    /// send, or `None` when nothing changed or an offer is still unanswered
    /// (the change then goes into the next offer).
    pub fn renegotiate(&mut self, others: &[(u64, Id)], now: Instant) -> Option<Offer> {
        if self.pending.is_some() {
            self.dirty = true;
            return None;
        }
        self.dirty = false;
        let mut api = self.rtc.sdp_api();
        for o in &mut self.out {
            if o.state == OutState::Open && !others.iter().any(|(pid, _)| *pid == o.from) {
                api.stop_media(o.mid);
                o.state = OutState::Stopping;
            }
        }
        for (from, user) in others {
            if !self.out.iter().any(|o| o.from == *from && o.state != OutState::Stopping) {
                let mid = api.add_media(MediaKind::Audio, Direction::SendOnly, Some(user.to_string()), None, None);
                self.out.push(Out { from: *from, user_id: *user, mid, state: OutState::Negotiating });
            }
        }
        if !api.has_changes() {
            return None;
        }
        let (offer, pending) = api.apply()?;
        self.pending = Some(pending);
        self.revision = self.revision.wrapping_add(1);
        self.live.offer_since = Some(now);
        Some(self.offer(offer.to_sdp_string()))
    }

    /// The client's answer to offer `revision`. On success, returns the next
    /// offer if changes waited for this answer.
    pub fn accept_answer(
        &mut self,
        revision: u32,
        sdp: &str,
        others: &[(u64, Id)],
        now: Instant,
    ) -> Result<Option<Offer>, AnswerError> {
        if revision != self.revision || self.pending.is_none() {
            return Err(AnswerError::Stale(revision));
        }
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| AnswerError::Invalid(e.to_string()))?;
        let Some(pending) = self.pending.take() else {
            return Err(AnswerError::Stale(revision));
        };
        self.live.offer_since = None;
        let res = catch_unwind(AssertUnwindSafe(|| self.rtc.sdp_api().accept_answer(pending, answer)));
        match res {
            Ok(Ok(())) => {
                self.established = true;
                self.out.retain(|o| o.state != OutState::Stopping);
                for o in &mut self.out {
                    o.state = OutState::Open;
                }
                Ok(if self.dirty { self.renegotiate(others, now) } else { None })
            }
            Ok(Err(e)) => {
                // The offer's changes were not applied: forget its new lines,
                // keep the ones it would have stopped, and offer again.
                self.out.retain(|o| o.state != OutState::Negotiating);
                for o in &mut self.out {
                    o.state = OutState::Open;
                }
                self.dirty = true;
                Err(AnswerError::Invalid(e.to_string()))
            }
            Err(_) => Err(AnswerError::Invalid("the answer could not be applied".into())),
        }
    }

    /// When the room must next act for this participant: its `Rtc`'s
    /// timeout, the end of its speaking hold, or its expiry.
    pub fn deadline(&self) -> Instant {
        let mut t = self.next_timeout;
        if let Some(s) = self.speaking.deadline() {
            t = t.min(s);
        }
        if let Some((e, _)) = self.live.expiry() {
            t = t.min(e);
        }
        t
    }

    /// Whether an answer was ever accepted (the microphone line exists).
    pub fn established(&self) -> bool {
        self.established
    }

    /// Feed one datagram from `source` that arrived on `local`.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, local: SocketAddr, data: &[u8]) {
        self.live.last_recv = Some(now);
        let Ok(r) = Receive::new(Protocol::Udp, source, local, data) else {
            return;
        };
        match catch_unwind(AssertUnwindSafe(|| self.rtc.handle_input(Input::Receive(now, r)))) {
            // A bad packet (replayed, garbage with a spoofed source...) is
            // dropped by the Rtc; it is not a reason to end the call.
            Ok(Err(e)) => tracing::debug!(error = %e, "voice input refused"),
            Ok(Ok(())) => {}
            Err(_) => self.rtc.disconnect(),
        }
    }

    /// Drive time (only when `next_timeout` has passed).
    pub fn timeout(&mut self, now: Instant) {
        if catch_unwind(AssertUnwindSafe(|| self.rtc.handle_input(Input::Timeout(now)))).is_err() {
            self.rtc.disconnect();
        }
    }

    /// Forward `data` (audio from participant `from`) to this participant.
    /// False if there is no open line for it yet.
    pub fn write_audio(&mut self, from: u64, data: &MediaData) -> bool {
        let Some(mid) = self.out.iter().find(|o| o.from == from && o.state == OutState::Open).map(|o| o.mid) else {
            return false;
        };
        let res = catch_unwind(AssertUnwindSafe(|| {
            let Some(writer) = self.rtc.writer(mid) else { return false };
            let Some(pt) = writer.match_params(data.params) else { return false };
            let writer = match (data.ext_vals.audio_level, data.ext_vals.voice_activity) {
                (Some(level), vad) => writer.audio_level(level, vad.unwrap_or(false)),
                _ => writer,
            };
            writer.write(pt, data.network_time, data.time, data.data.clone()).is_ok()
        }));
        match res {
            Ok(ok) => ok,
            Err(_) => {
                self.rtc.disconnect();
                false
            }
        }
    }

    /// Poll the `Rtc` until it asks for a timeout: queue what it transmits
    /// on `tx`, collect received audio and address changes into `out`.
    pub fn drain(&mut self, now: Instant, tx: &mut VecDeque<Transmit>, out: &mut Drained) -> Result<(), Gone> {
        loop {
            if !self.rtc.is_alive() {
                return Err(Gone::RtcFailed);
            }
            let polled = match catch_unwind(AssertUnwindSafe(|| self.rtc.poll_output())) {
                Ok(p) => p,
                Err(_) => {
                    self.rtc.disconnect();
                    return Err(Gone::Panicked);
                }
            };
            match polled {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = t;
                    return Ok(());
                }
                Ok(Output::Transmit(t)) => {
                    self.note_addr(t.destination, out);
                    tx.push_back(Transmit { destination: t.destination, contents: t.contents.into() });
                }
                Ok(Output::Event(e)) => self.on_event(e, now, out),
                Err(e) => {
                    tracing::debug!(error = %e, "voice participant failed");
                    self.rtc.disconnect();
                    return Err(Gone::RtcFailed);
                }
            }
        }
    }

    fn note_addr(&mut self, addr: SocketAddr, out: &mut Drained) {
        if self.addrs.back() == Some(&addr) || self.addrs.contains(&addr) {
            return;
        }
        self.addrs.push_back(addr);
        out.addrs.push((addr, true));
        while self.addrs.len() > MAX_VOICE_ADDRS_PER_PARTICIPANT {
            if let Some(old) = self.addrs.pop_front() {
                out.addrs.push((old, false));
            }
        }
    }

    fn on_event(&mut self, e: Event, now: Instant, out: &mut Drained) {
        match e {
            Event::Connected => self.live.connected = true,
            Event::IceConnectionStateChange(s) => match s {
                IceConnectionState::Disconnected => {
                    self.live.disconnected_since.get_or_insert(now);
                }
                IceConnectionState::Connected | IceConnectionState::Completed => self.live.disconnected_since = None,
                _ => {}
            },
            Event::MediaData(d) if d.mid == self.send_mid => out.media.push(d),
            _ => {}
        }
    }
}
