//! The SFU's per-packet cost, in process and without sockets: hearth's real
//! `Participant`s (one str0m `Rtc` each, ICE-lite, as the room actor makes
//! them) connected to str0m client `Rtc`s by handing datagrams over in
//! memory. ICE, DTLS and SRTP run for real.
//!
//! One measured packet is what the room actor does for one audio datagram:
//! `receive` + `drain` of the sender's participant (SRTP decrypt, RTP parse,
//! the media event), then for every other participant `write_audio` + `drain`
//! and — as str0m packetizes written media on its next timeout, which the
//! write makes due at once — `timeout` + `drain` (RTP packetize, SRTP
//! encrypt, the transmit handed to the send closure): `VoiceRoom::settle`,
//! `forward` and `on_timer` without the actor, the speaking detector and the
//! UDP `send_to`, one timer round per packet (the room may cover several
//! packets with one). The client's SRTP packets are made
//! before the clock starts.
//!
//! - `voice/receive`: a room of 2 whose other participant is deaf to it
//!   (nothing forwarded): the cost of one received packet;
//! - `voice/forward/N`: rooms of 2, 5 and 10; throughput is counted in
//!   forwarded packets (N − 1 per received one).
//!
//! Pin it to one core (`taskset -c 1 cargo bench --bench voice`) to compare
//! with the loadtest's per-core numbers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web_actors::ws::WebsocketContext;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures_util::stream;
use hearth::actors::hub::{Hub, SessionRef, WorkerHub};
use hearth::actors::session::{Session, SessionShared};
use hearth::config::Config;
use hearth::core::Core;
use hearth::model::ids::IdGenerator;
use hearth::model::Id;
use hearth::protocol::Encoding;
use hearth::store::Store;
use hearth::voice::participant::{Drained, Joiner, Participant};
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaData, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

/// The server's advertised address (nothing listens: datagrams move in memory).
const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50_000);
/// Opus payload bytes (about 32 kbit/s in 20 ms frames).
const PAYLOAD: usize = 80;
/// Client packets made per untimed batch.
const BATCH: u64 = 500;

struct Client {
    rtc: Rtc,
    addr: SocketAddr,
    send_mid: Option<Mid>,
    pt: Option<Pt>,
    connected: bool,
    seq: u64,
}

struct Room {
    clients: Vec<Client>,
    parts: Vec<Participant>,
    drained: Drained,
    out: Vec<(SocketAddr, Vec<u8>)>,
}

/// A gateway session for the participants to hold (never written to here).
fn session_ref() -> (SystemRunner, SessionRef, tempfile::TempDir) {
    let sys = System::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let s = sys.block_on(async {
        let store = Store::open(dir.path(), Arc::new(IdGenerator::new(0))).expect("store");
        let core = Core::new(store, Config::default());
        let hub = WorkerHub { worker: 0, addr: Hub::new(0).start() };
        let session = Session::new(core, hub.clone(), Encoding::MsgPack, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let input = stream::pending::<Result<bytes::Bytes, actix_web::error::PayloadError>>();
        let (addr, _output) = WebsocketContext::create_with_addr(session, input);
        let shared = SessionShared::new(1, "k".into(), Id(1), Id(1), Encoding::MsgPack, 1 << 20, addr);
        SessionRef { shared: Arc::new(shared), hub }
    });
    (sys, s, dir)
}

impl Room {
    /// `n` participants, all connected (ICE + DTLS) and with answered lines for each other.
    fn new(n: usize, session: &SessionRef) -> Room {
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let now = Instant::now();
        let mut clients = Vec::new();
        let mut parts = Vec::new();
        for i in 0..n {
            let pid = i as u64 + 1;
            let others: Vec<(u64, Id)> =
                (0..n).filter(|&j| j != i).map(|j| (j as u64 + 1, Id(j as u64 + 1000))).collect();
            let who = Joiner { pid, user_id: Id(pid + 999), session: session.clone(), flags: Default::default() };
            let (mut p, offer) = Participant::new(who, SERVER, crypto.clone(), &others, now).expect("participant");
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8)), 40_000);
            let mut rtc =
                Rtc::builder().set_crypto_provider(crypto.clone()).clear_codecs().enable_opus(true, false).build(now);
            rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
            let answer = rtc
                .sdp_api()
                .accept_offer(SdpOffer::from_sdp_string(&offer.sdp).expect("offer parses"))
                .expect("offer accepted");
            p.accept_answer(offer.revision, &answer.to_sdp_string(), &others, now).expect("answer accepted");
            let mid = Mid::from(offer.send_mid.as_str());
            let pt = rtc
                .writer(mid)
                .and_then(|w| w.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt()));
            clients.push(Client { rtc, addr, send_mid: Some(mid), pt, connected: false, seq: 0 });
            parts.push(p);
        }
        let mut room = Room { clients, parts, drained: Drained::default(), out: Vec::new() };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(room.clients.iter().all(|c| c.connected) && room.parts.iter().all(|p| p.connected)) {
            assert!(Instant::now() < deadline, "room of {n} did not connect");
            room.pump(Instant::now());
            std::thread::sleep(Duration::from_millis(1));
        }
        room
    }

    /// Move every pending datagram both ways and feed due timeouts, until quiet.
    fn pump(&mut self, now: Instant) {
        for _ in 0..100 {
            let mut moved = 0;
            for (i, c) in self.clients.iter_mut().enumerate() {
                if c.rtc.handle_input(Input::Timeout(now)).is_err() {
                    continue;
                }
                while let Ok(o) = c.rtc.poll_output() {
                    match o {
                        Output::Timeout(_) => break,
                        Output::Transmit(t) => {
                            let p = &mut self.parts[i];
                            p.receive(now, c.addr, SERVER, &t.contents);
                            moved += 1;
                        }
                        Output::Event(Event::Connected) => c.connected = true,
                        Output::Event(_) => {}
                    }
                }
            }
            for p in &mut self.parts {
                if p.next_timeout <= now {
                    p.timeout(now);
                }
                let out = &mut self.out;
                let mut send = |to: SocketAddr, b: &[u8]| out.push((to, b.to_vec()));
                let _ = p.drain(now, &mut send, &mut self.drained);
                self.drained.media.clear();
                self.drained.learned.clear();
                self.drained.forgotten.clear();
            }
            for (to, b) in self.out.drain(..) {
                if let Some(c) = self.clients.iter_mut().find(|c| c.addr == to) {
                    if let Ok(r) = Receive::new(Protocol::Udp, SERVER, c.addr, &b) {
                        let _ = c.rtc.handle_input(Input::Receive(now, r));
                    }
                    moved += 1;
                }
            }
            if moved == 0 {
                return;
            }
        }
    }

    /// `count` SRTP datagrams of Opus frames from client 0.
    fn make_packets(&mut self, count: u64) -> Vec<Vec<u8>> {
        let c = &mut self.clients[0];
        let (Some(mid), Some(pt)) = (c.send_mid, c.pt) else { panic!("no send line") };
        let mut v = Vec::with_capacity(count as usize);
        for _ in 0..count {
            c.seq += 1;
            let now = Instant::now();
            let mut payload = vec![0u8; PAYLOAD];
            payload[..8].copy_from_slice(&c.seq.to_be_bytes());
            let t = MediaTime::new(c.seq * 960, Frequency::FORTY_EIGHT_KHZ);
            let w = c.rtc.writer(mid).expect("writer");
            w.audio_level(-30, true).write(pt, now, t, payload).expect("write");
            // str0m packetizes written media on its next timeout.
            c.rtc.handle_input(Input::Timeout(now)).expect("timeout");
            while let Ok(o) = c.rtc.poll_output() {
                match o {
                    Output::Timeout(_) => break,
                    Output::Transmit(t) => v.push(t.contents.to_vec()),
                    Output::Event(_) => {}
                }
            }
        }
        v
    }

    /// What the room actor does for one audio datagram from participant 0.
    fn forward(&mut self, data: &[u8], media: &mut Vec<MediaData>, sink: &mut u64) {
        let now = Instant::now();
        let src = self.clients[0].addr;
        let mut send = |_: SocketAddr, b: &[u8]| *sink += b.len() as u64;
        let (first, rest) = self.parts.split_at_mut(1);
        first[0].receive(now, src, SERVER, data);
        let _ = first[0].drain(now, &mut send, &mut self.drained);
        std::mem::swap(media, &mut self.drained.media);
        for m in media.iter() {
            for p in rest.iter_mut() {
                if p.flags.deaf {
                    continue;
                }
                p.write_audio(1, m);
                let _ = p.drain(now, &mut send, &mut self.drained);
            }
        }
        media.clear();
        // str0m packetizes and encrypts written media on the `Rtc`'s next
        // timeout, which the write makes due at once: the room's timer feeds it.
        for p in rest.iter_mut() {
            if p.next_timeout <= now {
                p.timeout(now);
                let _ = p.drain(now, &mut send, &mut self.drained);
            }
        }
    }
}

fn bench_room(c: &mut Criterion, session: &SessionRef, name: &str, n: usize, deaf: bool) {
    let mut room = Room::new(n, session);
    for p in room.parts.iter_mut().skip(1) {
        p.flags.deaf = deaf;
    }
    let mut g = c.benchmark_group("voice");
    let forwarded = if deaf { 1 } else { n as u64 - 1 };
    g.throughput(Throughput::Elements(forwarded));
    g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut left = iters;
            let mut media = Vec::new();
            let mut sink = 0u64;
            while left > 0 {
                let k = left.min(BATCH);
                // Keep every Rtc's timers and the clients' receive side current, untimed.
                room.pump(Instant::now());
                let packets = room.make_packets(k);
                let t0 = Instant::now();
                for d in &packets {
                    room.forward(d, &mut media, &mut sink);
                }
                spent += t0.elapsed();
                left -= k;
            }
            std::hint::black_box(sink);
            spent
        })
    });
    g.finish();
}

fn voice(c: &mut Criterion) {
    let (_sys, session, _dir) = session_ref();
    bench_room(c, &session, "receive", 2, true);
    for n in [2, 5, 10] {
        bench_room(c, &session, "forward", n, false);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(4));
    targets = voice
}
criterion_main!(benches);
