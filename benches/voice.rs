//! The SFU's per-packet cost, in process and without sockets: hearth's real
//! voice `Room` (the sans-IO room the room actor drives, one str0m `Rtc` per
//! participant, ICE-lite) connected to str0m client `Rtc`s by handing
//! datagrams over in memory. ICE, DTLS and SRTP run for real.
//!
//! One measured packet is what the room actor does for one audio datagram:
//! `Room::handle_datagram` (the sender's `Rtc` decrypts and parses it, the
//! speaking detector sees its level, and every other participant's `Rtc`
//! writes, packetizes and encrypts its copy) and draining `Room::poll_output`
//! down to its next timeout, each transmit handed to a sink instead of
//! `send_to`. Not included: the UDP reader thread, the actor hop and the
//! syscalls. The client's SRTP packets are made before the clock starts.
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

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hearth::model::Id;
use hearth::voice::flags::Flags;
use hearth::voice::room::{Event as RoomEvent, Joiner, Output as RoomOutput, Room};
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaTime, Mid, Pt};
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

struct Bench {
    room: Room,
    /// Client `i` is participant `i + 1`.
    clients: Vec<Client>,
}

impl Bench {
    /// `n` participants, all connected (ICE + DTLS) and with answered lines for each other.
    fn new(n: usize) -> Bench {
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let now = Instant::now();
        let mut b = Bench { room: Room::new(SERVER, crypto.clone()), clients: Vec::new() };
        for i in 0..n {
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8)), 40_000);
            let mut rtc =
                Rtc::builder().set_crypto_provider(crypto.clone()).clear_codecs().enable_opus(true, false).build(now);
            rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
            b.clients.push(Client { rtc, addr, send_mid: None, pt: None, connected: false, seq: 0 });
            let pid = i as u64 + 1;
            let who = Joiner { pid, user_id: Id(pid + 999), flags: Flags::default() };
            b.room.join(now, who).expect("join");
            b.pump(now);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(b.clients.iter().all(|c| c.connected) && (1..=n as u64).all(|pid| b.room.is_connected(pid))) {
            assert!(Instant::now() < deadline, "room of {n} did not connect");
            b.pump(Instant::now());
            std::thread::sleep(Duration::from_millis(1));
        }
        b
    }

    /// Deliver the room's outputs (answering its offers) and move every
    /// pending datagram both ways, feeding due timeouts, until quiet.
    fn pump(&mut self, now: Instant) {
        self.room.handle_timeout(now);
        for _ in 0..100 {
            let mut moved = 0;
            loop {
                match self.room.poll_output() {
                    RoomOutput::Transmit(t) => {
                        if let Some(c) = self.clients.iter_mut().find(|c| c.addr == t.destination) {
                            if let Ok(r) = Receive::new(Protocol::Udp, SERVER, c.addr, &t.contents) {
                                let _ = c.rtc.handle_input(Input::Receive(now, r));
                            }
                        }
                        moved += 1;
                    }
                    RoomOutput::Event(RoomEvent::Offer { pid, offer }) => {
                        let c = &mut self.clients[pid as usize - 1];
                        let sdp = SdpOffer::from_sdp_string(&offer.sdp).expect("offer parses");
                        let answer = c.rtc.sdp_api().accept_offer(sdp).expect("offer accepted");
                        let mid = Mid::from(offer.send_mid.as_str());
                        c.send_mid = Some(mid);
                        c.pt = c
                            .rtc
                            .writer(mid)
                            .and_then(|w| w.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt()));
                        self.room.answer(now, pid, offer.revision, &answer.to_sdp_string()).expect("answer accepted");
                        moved += 1;
                    }
                    RoomOutput::Event(_) => {}
                    RoomOutput::Timeout(_) => break,
                }
            }
            for (i, c) in self.clients.iter_mut().enumerate() {
                if c.rtc.handle_input(Input::Timeout(now)).is_err() {
                    continue;
                }
                while let Ok(o) = c.rtc.poll_output() {
                    match o {
                        Output::Timeout(_) => break,
                        Output::Transmit(t) => {
                            self.room.handle_datagram(now, i as u64 + 1, c.addr, &t.contents);
                            moved += 1;
                        }
                        Output::Event(Event::Connected) => c.connected = true,
                        Output::Event(_) => {}
                    }
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

    /// What the room actor does for one audio datagram from participant 1.
    fn forward(&mut self, data: &[u8], sink: &mut u64) {
        let src = self.clients[0].addr;
        self.room.handle_datagram(Instant::now(), 1, src, data);
        loop {
            match self.room.poll_output() {
                RoomOutput::Transmit(t) => *sink += t.contents.len() as u64,
                RoomOutput::Event(_) => {}
                RoomOutput::Timeout(_) => break,
            }
        }
    }
}

fn bench_room(c: &mut Criterion, name: &str, n: usize, deaf: bool) {
    let mut b = Bench::new(n);
    for pid in 2..=n as u64 {
        b.room.set_flags(pid, Flags { deaf, ..Flags::default() });
    }
    let mut g = c.benchmark_group("voice");
    let forwarded = if deaf { 1 } else { n as u64 - 1 };
    g.throughput(Throughput::Elements(forwarded));
    g.bench_with_input(BenchmarkId::new(name, n), &n, |bencher, _| {
        bencher.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut left = iters;
            let mut sink = 0u64;
            while left > 0 {
                let k = left.min(BATCH);
                // Keep every Rtc's timers and the clients' receive side current, untimed.
                b.pump(Instant::now());
                let packets = b.make_packets(k);
                let t0 = Instant::now();
                for d in &packets {
                    b.forward(d, &mut sink);
                }
                spent += t0.elapsed();
                left -= k;
            }
            std::hint::black_box(sink);
            spent
        })
    });
    g.finish();
    assert!(deaf || b.room.take_forwarded() > 0, "nothing was forwarded");
}

fn voice(c: &mut Criterion) {
    bench_room(c, "receive", 2, true);
    for n in [2, 5, 10] {
        bench_room(c, "forward", n, false);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(4));
    targets = voice
}
criterion_main!(benches);
