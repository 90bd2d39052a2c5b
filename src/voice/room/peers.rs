//! A fake network for the room's tests: str0m client `Rtc`s (full ICE, the
//! answering side, as a browser) that talk to a [`Room`] in memory on a fake
//! clock, and a model of the voice socket's routing table built only from the
//! room's [`Event::Route`] and [`Event::Unroute`]: a client whose routes are
//! missing cannot reach the room. Time only moves when a test says so, and
//! then from one deadline to the next.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::config::CryptoProvider;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event as RtcEvent, Input, Output as RtcOutput, Rtc};

use super::{AnswerRefused, Event, Joiner, Offer, Output, Room, RouteKey};
use crate::model::Id;
use crate::voice::demux::stun_local_ufrag;
use crate::voice::flags::Flags;

/// The room's advertised address.
pub const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50_000);
/// One Opus frame.
pub const FRAME: Duration = Duration::from_millis(20);
/// An audio level that counts as speech.
pub const LOUD: i8 = -20;
/// First payload byte of a test packet (then the sender's user id and a counter).
const MAGIC: u8 = 0xA7;

/// The user of participant `pid`.
pub fn user(pid: u64) -> Id {
    Id(1000 + pid)
}

/// One client.
pub struct Client {
    rtc: Rtc,
    addr: SocketAddr,
    user: Id,
    next_timeout: Instant,
    send_mid: Option<Mid>,
    streams: HashMap<Mid, Id>,
    /// ICE and DTLS are up on the client's side.
    pub connected: bool,
    /// Packets received, by the user named in the payload.
    pub heard: HashMap<Id, u64>,
    /// Packets whose line the last offer gave to someone else.
    pub mislabeled: u64,
    /// Packets sent.
    pub sent: u64,
    /// Answers offers as they come (else they wait in `unanswered`).
    pub answering: bool,
    /// Every offer received.
    pub offers: Vec<Offer>,
    /// The last offer not answered yet (when not `answering`).
    pub unanswered: Option<Offer>,
    /// Its network is gone: it sends and receives nothing.
    pub offline: bool,
    /// Sends a packet each frame at this level.
    talking: Option<i8>,
    next_packet: Instant,
    /// When its last packet was sent.
    pub last_sent: Option<Instant>,
}

/// A room, its clients and the fake clock.
pub struct Net {
    /// The room under test.
    pub room: Room,
    /// The fake clock.
    pub now: Instant,
    /// Clients by participant id.
    pub clients: HashMap<u64, Client>,
    /// The routing table as the room's events built it.
    pub routes: HashMap<RouteKey, u64>,
    /// Speaking and removal events, in order.
    pub events: Vec<Event>,
    /// The room's last requested timeout.
    pub timeout: Option<Instant>,
    /// Datagrams nobody routes (sent to the room without a route).
    pub unroutable: u64,
    crypto: Arc<CryptoProvider>,
}

impl Net {
    /// An empty room at a fake now.
    pub fn new() -> Net {
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        Net {
            room: Room::new(SERVER, crypto.clone()),
            now: Instant::now(),
            clients: HashMap::new(),
            routes: HashMap::new(),
            events: Vec::new(),
            timeout: None,
            unroutable: 0,
            crypto,
        }
    }

    fn client(&self, pid: u64) -> Client {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 1, pid as u8)), 40_000);
        Client {
            rtc: new_rtc(&self.crypto, addr, self.now),
            addr,
            user: user(pid),
            next_timeout: self.now,
            send_mid: None,
            streams: HashMap::new(),
            connected: false,
            heard: HashMap::new(),
            mislabeled: 0,
            sent: 0,
            answering: true,
            offers: Vec::new(),
            unanswered: None,
            offline: false,
            talking: None,
            next_packet: self.now,
            last_sent: None,
        }
    }

    /// Participant `pid` joins with a client that answers and is online.
    pub fn join(&mut self, pid: u64) {
        self.join_as(pid, true, false);
    }

    /// Participant `pid` joins with a client that answers or not, on- or offline.
    pub fn join_as(&mut self, pid: u64, answering: bool, offline: bool) {
        let mut c = self.client(pid);
        c.answering = answering;
        c.offline = offline;
        self.clients.insert(pid, c);
        self.room.join(self.now, Joiner { pid, user_id: user(pid), flags: Flags::default() }).expect("join");
        self.flush();
    }

    /// The client of `pid`.
    pub fn c(&self, pid: u64) -> &Client {
        self.clients.get(&pid).expect("client")
    }

    /// The client of `pid`, to change.
    pub fn c_mut(&mut self, pid: u64) -> &mut Client {
        self.clients.get_mut(&pid).expect("client")
    }

    /// Packets `listener` received from participant `speaker`.
    pub fn heard(&self, listener: u64, speaker: u64) -> u64 {
        self.c(listener).heard.get(&user(speaker)).copied().unwrap_or(0)
    }

    /// Start (with a level) or stop sending a packet every frame.
    pub fn talk(&mut self, pid: u64, level: Option<i8>) {
        let now = self.now;
        let c = self.c_mut(pid);
        c.talking = level;
        c.next_packet = now;
    }

    /// Answer `pid`'s waiting offer now.
    pub fn answer_waiting(&mut self, pid: u64) -> Result<(), AnswerRefused> {
        let offer = self.c_mut(pid).unanswered.take().expect("an offer waits");
        let res = self.answer(pid, &offer);
        self.flush();
        res
    }

    fn answer(&mut self, pid: u64, offer: &Offer) -> Result<(), AnswerRefused> {
        let now = self.now;
        let crypto = self.crypto.clone();
        let c = self.clients.get_mut(&pid).expect("client");
        // Revision 1 is a new connection on the server: start over, as a browser does.
        if offer.revision == 1 {
            c.rtc = new_rtc(&crypto, c.addr, now);
            c.connected = false;
        }
        let sdp = SdpOffer::from_sdp_string(&offer.sdp).expect("offer parses");
        let answer = c.rtc.sdp_api().accept_offer(sdp).expect("offer accepted");
        c.streams = offer.streams.iter().filter_map(|(mid, u)| Some((mid_of(&c.rtc, mid)?, *u))).collect();
        c.send_mid = mid_of(&c.rtc, &offer.send_mid);
        // A new Rtc starts its ICE checks on its first timeout.
        let _ = c.rtc.handle_input(Input::Timeout(now));
        self.room.answer(now, pid, offer.revision, &answer.to_sdp_string())
    }

    /// Run until every online client and its participant are connected.
    pub fn connect(&mut self) {
        let end = self.now + Duration::from_secs(5);
        while !self.all_connected() {
            assert!(self.now < end, "peers did not connect within 5 s of fake time");
            let step = self.now + Duration::from_millis(10);
            self.run_until(step);
        }
    }

    fn all_connected(&self) -> bool {
        self.clients.iter().filter(|(_, c)| !c.offline).all(|(pid, c)| c.connected && self.room.is_connected(*pid))
    }

    /// Move the clock forward by `d`, acting at every deadline on the way.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        self.run_until(end);
    }

    /// Move the clock to `end`, acting at every deadline on the way (and at `end`).
    pub fn run_until(&mut self, end: Instant) {
        self.flush();
        for _ in 0..1_000_000 {
            let next = self.next_instant().min(end);
            // str0m asks for "now" again right after some inputs; time still moves.
            self.now = next.max(self.now);
            self.tick();
            if self.now >= end {
                return;
            }
            if self.next_instant() <= self.now {
                self.now = (self.now + Duration::from_millis(1)).min(end);
            }
        }
        panic!("the fake clock did not reach its end");
    }

    /// Give the room a timeout now, due or not (it must do nothing early).
    pub fn poke(&mut self) {
        self.room.handle_timeout(self.now);
        self.flush();
    }

    fn next_instant(&self) -> Instant {
        let mut next = self.timeout.unwrap_or(self.now + Duration::from_secs(3600));
        for c in self.clients.values().filter(|c| !c.offline) {
            next = next.min(c.next_timeout);
            if c.talking.is_some() {
                next = next.min(c.next_packet);
            }
        }
        next
    }

    fn tick(&mut self) {
        let now = self.now;
        for c in self.clients.values_mut().filter(|c| !c.offline) {
            if let Some(level) = c.talking.filter(|_| c.next_packet <= now) {
                c.next_packet += FRAME;
                send_packet(c, level, now);
            }
            if c.next_timeout <= now {
                let _ = c.rtc.handle_input(Input::Timeout(now));
                c.next_timeout = now + Duration::from_secs(3600);
            }
        }
        if self.timeout.is_some_and(|t| t <= now) {
            self.room.handle_timeout(now);
        }
        self.flush();
    }

    /// Move everything that is ready (datagrams both ways, offers and answers) until quiet.
    pub fn flush(&mut self) {
        for _ in 0..10_000 {
            let mut moved = self.flush_room();
            let pids: Vec<u64> = self.clients.keys().copied().collect();
            for pid in pids {
                moved |= self.flush_client(pid);
            }
            if !moved {
                return;
            }
        }
        panic!("the fake network never went quiet");
    }

    fn flush_room(&mut self) -> bool {
        let mut moved = false;
        let mut offers = Vec::new();
        loop {
            match self.room.poll_output() {
                Output::Transmit(t) => {
                    moved = true;
                    let now = self.now;
                    let Some(c) = self.clients.values_mut().find(|c| c.addr == t.destination && !c.offline) else {
                        continue;
                    };
                    if let Ok(r) = Receive::new(Protocol::Udp, SERVER, c.addr, &t.contents) {
                        let _ = c.rtc.handle_input(Input::Receive(now, r));
                        c.next_timeout = now;
                    }
                }
                Output::Event(Event::Offer { pid, offer }) => offers.push((pid, offer)),
                Output::Event(Event::Route { pid, key }) => {
                    self.routes.insert(key, pid);
                }
                Output::Event(Event::Unroute { pid, key }) => {
                    if self.routes.get(&key) == Some(&pid) {
                        self.routes.remove(&key);
                    }
                }
                Output::Event(e) => self.events.push(e),
                Output::Timeout(t) => {
                    self.timeout = t;
                    break;
                }
            }
        }
        for (pid, offer) in offers {
            moved = true;
            let Some(c) = self.clients.get_mut(&pid) else { continue };
            c.offers.push(offer.clone());
            if !c.answering {
                c.unanswered = Some(offer);
                continue;
            }
            self.answer(pid, &offer).expect("answer accepted");
        }
        moved
    }

    fn flush_client(&mut self, pid: u64) -> bool {
        let now = self.now;
        let Some(c) = self.clients.get_mut(&pid) else { return false };
        if c.offline {
            return false;
        }
        let addr = c.addr;
        let mut out = Vec::new();
        loop {
            match c.rtc.poll_output() {
                Ok(RtcOutput::Timeout(t)) => {
                    c.next_timeout = t;
                    break;
                }
                Ok(RtcOutput::Transmit(t)) => out.push(Vec::from(t.contents)),
                Ok(RtcOutput::Event(RtcEvent::Connected)) => c.connected = true,
                Ok(RtcOutput::Event(RtcEvent::MediaData(d))) => {
                    if let Some(from) = payload_sender(&d.data) {
                        *c.heard.entry(from).or_default() += 1;
                        if c.streams.get(&d.mid) != Some(&from) {
                            c.mislabeled += 1;
                        }
                    }
                }
                Ok(RtcOutput::Event(_)) => {}
                Err(_) => break,
            }
        }
        let moved = !out.is_empty();
        for d in out {
            match self.route(addr, &d) {
                Some(to) => self.room.handle_datagram(now, to, addr, &d),
                None => self.unroutable += 1,
            }
        }
        moved
    }

    /// What the voice socket's demux would do with `d` from `src`.
    fn route(&self, src: SocketAddr, d: &[u8]) -> Option<u64> {
        let by_ufrag = stun_local_ufrag(d).and_then(|u| self.routes.get(&RouteKey::Ufrag(u.to_string())));
        by_ufrag.or_else(|| self.routes.get(&RouteKey::Addr(src))).copied()
    }

    /// Routes that lead to `pid`.
    pub fn routes_to(&self, pid: u64) -> usize {
        self.routes.values().filter(|p| **p == pid).count()
    }
}

fn new_rtc(crypto: &Arc<CryptoProvider>, addr: SocketAddr, now: Instant) -> Rtc {
    let mut rtc = Rtc::builder().set_crypto_provider(crypto.clone()).clear_codecs().enable_opus(true, false).build(now);
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
    rtc
}

fn mid_of(rtc: &Rtc, s: &str) -> Option<Mid> {
    let mid = Mid::from(s);
    rtc.media(mid).map(|_| mid)
}

/// One Opus-sized packet naming the client's user, packetized at once.
fn send_packet(c: &mut Client, level: i8, now: Instant) {
    let Some(mid) = c.send_mid else { return };
    let pt = c.rtc.writer(mid).and_then(|w| w.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt()));
    let Some(pt) = pt else { return };
    c.sent += 1;
    let mut payload = vec![MAGIC];
    payload.extend_from_slice(&c.user.0.to_be_bytes());
    payload.extend_from_slice(&c.sent.to_be_bytes());
    payload.extend_from_slice(&[0u8; 40]);
    let t = MediaTime::new(c.sent * 960, Frequency::FORTY_EIGHT_KHZ);
    let Some(w) = c.rtc.writer(mid) else { return };
    if w.audio_level(level, level >= -50).write(pt, now, t, payload).is_ok() {
        c.last_sent = Some(now);
    }
    // str0m packetizes written media on its next timeout.
    let _ = c.rtc.handle_input(Input::Timeout(now));
    c.next_timeout = now;
}

fn payload_sender(d: &[u8]) -> Option<Id> {
    if d.len() < 17 || d.first() != Some(&MAGIC) {
        return None;
    }
    Some(Id(u64::from_be_bytes(d.get(1..9)?.try_into().ok()?)))
}
