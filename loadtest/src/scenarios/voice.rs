//! voice: K rooms × M participants as WebRTC peers (str0m, the answering
//! side) that join through the real gateway (op 44, VOICE_OFFER, op 45) and
//! send synthetic Opus frames to the server's one UDP port; a share of them
//! speaks at 50 packets/s. Measures forwarded packets/s received by the peers
//! (and the server's own `hearth_voice_packets_forwarded_total`), loss per
//! sender and receiver, the latency the server adds (receive time − send
//! time, same clock), and the server's CPU per forwarded packet.
//!
//! Peers are cheap: a few driver tasks each own many `Rtc`s and their UDP
//! sockets (spread over 127.0.0.x), poll every socket's readiness in one
//! future and keep one timer for the earliest deadline; the gateway side is a
//! mostly idle task per participant.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use hearth::protocol::Op;
use serde::{Deserialize, Serialize};
use serde_json::json;
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::options::Common;
use crate::procstat::{self, Mark};
use crate::report::{Deliveries, Report};
use crate::setup::{self, GuildPlan, Layout};
use crate::stats::{Percentiles, Shared};
use crate::targets::{self, Spec};
use crate::wire;

/// First byte of a synthetic payload (the rest: sender, sequence, send time).
const MAGIC: u8 = 0xB5;
/// One Opus frame every 20 ms.
const FRAME: Duration = Duration::from_millis(20);
/// Most datagrams one driver reads before it looks at its timers again.
const RECV_BATCH: usize = 1024;
/// Longest a driver sleeps without looking at its peers.
const IDLE_TICK: Duration = Duration::from_millis(50);

/// Options of the voice scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Voice rooms (one guild each, its default voice channel).
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Participants per room.
    #[arg(long, default_value_t = 5)]
    pub participants: usize,
    /// Share of each room's participants that speak (at least one per room when > 0).
    #[arg(long, default_value_t = 1.0)]
    pub speakers: f64,
    /// Opus payload bytes per packet (voice at 24–48 kbit/s is about 60–120).
    #[arg(long, default_value_t = 80)]
    pub payload: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds of talking before the measured window.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Driver tasks sharing the peers (each drives many Rtcs).
    #[arg(long, default_value_t = 2)]
    pub drivers: usize,
    /// Longest wait for every peer to connect and hear its whole room, seconds.
    #[arg(long, default_value_t = 60)]
    pub connect_timeout: u64,
}

/// Counters the drivers and the scenario share.
#[derive(Default)]
struct Ctl {
    /// Speakers send while true.
    talking: AtomicBool,
    /// Peers connected (ICE + DTLS) with a line for every other participant answered.
    complete: AtomicU64,
    /// Send-time window (µs since the epoch) of the measured packets.
    from_us: AtomicU64,
    to_us: AtomicU64,
    /// Errors the drivers and gateway clients met.
    errors: AtomicU64,
}

/// What one driver measured.
struct Tally {
    /// Latency (µs) of packets sent in the window.
    latency: Histogram<u64>,
    /// (receiver, sender) → packets received that were sent in the window.
    got: HashMap<(u64, u64), u64>,
    /// sender → packets it sent in the window.
    sent: HashMap<u64, u64>,
    /// Packets received at all, and in the window.
    received_all: u64,
    /// Payloads that were not ours.
    foreign: u64,
    /// Sends the socket refused (buffer full).
    send_errors: u64,
    /// Packets written later than 40 ms after their slot (generator behind).
    late: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| Histogram::new(3).expect("hist")),
            got: HashMap::new(),
            sent: HashMap::new(),
            received_all: 0,
            foreign: 0,
            send_errors: 0,
            late: 0,
        }
    }

    fn merge(&mut self, o: Tally) {
        let _ = self.latency.add(&o.latency);
        for (k, v) in o.got {
            *self.got.entry(k).or_default() += v;
        }
        for (k, v) in o.sent {
            *self.sent.entry(k).or_default() += v;
        }
        self.received_all += o.received_all;
        self.foreign += o.foreign;
        self.send_errors += o.send_errors;
        self.late += o.late;
    }
}

/// An offer for a driver's peer; the answer SDP goes back on `reply`.
struct OfferCmd {
    peer: usize,
    sdp: String,
    send_mid: String,
    lines: usize,
    reply: oneshot::Sender<String>,
}

/// One participant's media side.
struct Peer {
    user: u64,
    speaker: bool,
    sock: UdpSocket,
    local: SocketAddr,
    rtc: Rtc,
    send_mid: Option<Mid>,
    pt: Option<Pt>,
    /// Lines for others in the latest answered offer.
    lines: usize,
    /// Others in the room.
    want_lines: usize,
    connected: bool,
    counted: bool,
    next_timeout: Instant,
    next_packet: Instant,
    seq: u64,
    /// Opus payload bytes per frame.
    payload: usize,
}

/// Run the voice scenario.
pub async fn run(c: &Common, a: &Args, nofile: u64) -> anyhow::Result<Report> {
    if a.rooms == 0 || a.participants < 2 {
        bail!("voice needs at least one room of two participants");
    }
    let n = a.rooms * a.participants;
    if n > 20_000 || a.duration > 3600 {
        bail!("voice is bounded: at most 20000 peers and an hour");
    }
    // A gateway connection and a UDP socket per participant.
    super::check_fds(2 * n, nofile)?;
    let shared = Arc::new(Shared::new());
    let layout = Layout {
        users: n,
        guilds: (0..a.rooms)
            .map(|r| GuildPlan { members: (r * a.participants..(r + 1) * a.participants).collect(), channels: 1 })
            .collect(),
    };
    let state = setup::ensure(c, &layout).await?;
    let voice_channels = voice_channels(c, &state).await?;
    let user_ids = user_ids(c, &state).await?;
    let speakers_per_room = if a.speakers <= 0.0 {
        0
    } else {
        ((a.participants as f64 * a.speakers.min(1.0)).round() as usize).clamp(1, a.participants)
    };

    // Media: peers dealt round robin to the drivers.
    let drivers = a.drivers.clamp(1, 64);
    let ctl = Arc::new(Ctl::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut driver_peers: Vec<Vec<Peer>> = (0..drivers).map(|_| Vec::new()).collect();
    let mut place = Vec::with_capacity(n);
    let crypto = Arc::new(str0m::crypto::from_feature_flags());
    let now = Instant::now();
    for (i, &user) in user_ids.iter().enumerate().take(n) {
        let source = crate::net::source_ip(i, c.sources);
        let sock = UdpSocket::bind(SocketAddr::new(source, 0)).await.with_context(|| format!("bind {source}"))?;
        let local = sock.local_addr()?;
        let mut rtc =
            Rtc::builder().set_crypto_provider(crypto.clone()).clear_codecs().enable_opus(true, false).build(now);
        rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| anyhow!("candidate: {e}"))?);
        let in_room = i % a.participants;
        // Spread the speakers' 20 ms slots so that they do not send in bursts.
        let phase = FRAME.mul_f64((i % 97) as f64 / 97.0);
        let peer = Peer {
            user,
            speaker: in_room < speakers_per_room,
            sock,
            local,
            rtc,
            send_mid: None,
            pt: None,
            lines: 0,
            want_lines: a.participants - 1,
            connected: false,
            counted: false,
            next_timeout: now,
            next_packet: now + phase,
            seq: 0,
            payload: a.payload.clamp(25, 1200),
        };
        let d = i % drivers;
        place.push((d, driver_peers[d].len()));
        driver_peers[d].push(peer);
    }
    let mut offer_txs = Vec::with_capacity(drivers);
    let mut driver_handles = Vec::with_capacity(drivers);
    for peers in driver_peers {
        let (tx, rx) = mpsc::unbounded_channel();
        offer_txs.push(tx);
        driver_handles.push(tokio::spawn(drive(peers, rx, ctl.clone(), shared.clone(), stop_rx.clone())));
    }

    // Signaling: one gateway client per participant.
    let bar = crate::report::bar(c, n as u64, "joining");
    let mut gw_handles = Vec::with_capacity(n);
    let sem = Arc::new(tokio::sync::Semaphore::new(c.connect_concurrency.max(1)));
    for (i, &(d, peer)) in place.iter().enumerate() {
        let room = i / a.participants;
        let spec = Spec {
            index: i,
            source: crate::net::source_ip(i, c.sources),
            addr: c.addr,
            token: state.users[i].token.clone(),
            reader: false,
            payload: 0,
        };
        let join =
            Join { guild: state.guilds[room].id, channel: voice_channels[room], peer, offers: offer_txs[d].clone() };
        let permit = sem.clone().acquire_owned().await.ok();
        gw_handles.push(tokio::spawn(gateway(spec, join, shared.clone(), ctl.clone(), stop_rx.clone(), permit)));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(a.connect_timeout);
    loop {
        let done = ctl.complete.load(Relaxed);
        bar.set_position(done);
        if done >= n as u64 || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bar.finish_and_clear();
    let complete = ctl.complete.load(Relaxed);
    // Let the last answers reach the rooms.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Talk: warm-up, then the measured window (by send time), then a drain.
    let metrics_url = format!("http://{}/metrics", c.addr);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let start_us = shared.now_us();
    let from_us = start_us + a.warmup * 1_000_000;
    let to_us = from_us + a.duration * 1_000_000;
    ctl.from_us.store(from_us, Relaxed);
    ctl.to_us.store(to_us, Relaxed);
    ctl.talking.store(true, Relaxed);
    let bar = crate::report::bar(c, a.warmup + a.duration, "talking");
    bar.set_position(0);
    tokio::time::sleep(Duration::from_secs(a.warmup)).await;
    let fwd0 = forwarded_total(&http, &metrics_url).await;
    let mark0 = Mark::now(c.server_pid);
    for s in 0..a.duration {
        bar.set_position(a.warmup + s);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mark1 = Mark::now(c.server_pid);
    let fwd1 = forwarded_total(&http, &metrics_url).await;
    ctl.talking.store(false, Relaxed);
    bar.finish_and_clear();
    // Packets of the window still in flight.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = stop_tx.send(true);
    let mut tally = Tally::new();
    for h in driver_handles {
        if let Ok(Ok(t)) = tokio::time::timeout(Duration::from_secs(10), h).await {
            tally.merge(t);
        }
    }
    let gws = futures_util::future::join_all(gw_handles);
    let _ = tokio::time::timeout(Duration::from_secs(10), gws).await;

    // Expected: every window packet of a sender at each other participant of its room.
    let mut expected = 0u64;
    let mut received = 0u64;
    let mut lost = 0u64;
    let mut extra = 0u64;
    for room in 0..a.rooms {
        let members = &user_ids[room * a.participants..(room + 1) * a.participants];
        for &s in members {
            let sent = tally.sent.get(&s).copied().unwrap_or(0);
            for &r in members.iter().filter(|&&r| r != s) {
                let got = tally.got.get(&(r, s)).copied().unwrap_or(0);
                expected += sent;
                received += got;
                lost += sent.saturating_sub(got);
                extra += got.saturating_sub(sent);
            }
        }
    }
    let usage = procstat::between(&mark0, &mark1);
    let window_s = a.duration as f64;
    let sent_total: u64 = tally.sent.values().sum();
    let mut r = Report {
        scenario: "voice".into(),
        params: json!({"rooms": a.rooms, "participants": a.participants, "speakers_per_room": speakers_per_room,
            "payload": a.payload, "duration_s": a.duration, "warmup_s": a.warmup, "drivers": drivers,
            "offered_forwards_per_s": (a.rooms * speakers_per_room * (a.participants - 1)) as f64 * 50.0}),
        connections: n as u64,
        ..Report::default()
    };
    super::fill_counts(&mut r, &shared);
    r.time_to_ready = Some(shared.ready_percentiles());
    r.messages_sent = sent_total;
    r.deliveries = Some(Deliveries {
        in_window: received,
        per_s: received as f64 / window_s,
        messages_per_s: sent_total as f64 / window_s,
        total: received,
        expected,
        lost,
        duplicates: extra,
        unknown: tally.foreign,
        seq_gaps: 0,
    });
    r.latency = Some(Percentiles::of(&tally.latency));
    let server_forwarded = fwd0.zip(fwd1).map(|(x, y)| y.saturating_sub(x));
    let per = server_forwarded.filter(|&f| f > 0).unwrap_or(received);
    r.server_cpu_us_per_delivery = usage.server_cpu_s.filter(|_| per > 0).map(|s| s * 1e6 / per as f64);
    r.usage = Some(usage.clone());
    r.notes.push(format!(
        "deliveries = forwarded audio packets received by peers, counted by send time in the window; \
         {speakers_per_room} of {} speak in each room at 50 packets/s",
        a.participants
    ));
    if let Some(f) = server_forwarded {
        r.notes.push(format!(
            "server hearth_voice_packets_forwarded_total over the window: {f} ({:.0}/s; CPU per delivery uses this)",
            f as f64 / usage.wall_s
        ));
    }
    r.notes.push("latency = receive time − send time stamped in the payload (same clock): the server's forwarding plus both peers' str0m work and loopback".into());
    if complete < n as u64 {
        r.warnings.push(format!("only {complete} of {n} peers connected and heard their whole room"));
    }
    let errs = ctl.errors.load(Relaxed);
    if errs > 0 || tally.send_errors > 0 {
        r.warnings.push(format!("{errs} signaling/media errors, {} UDP sends refused", tally.send_errors));
    }
    r.notes.push(format!("audio packets received at all (warm-up and drain included): {}", tally.received_all));
    if tally.late > 0 {
        r.warnings.push(format!("{} packets left more than 40 ms after their slot (generator behind)", tally.late));
    }
    Ok(r)
}

/// The voice channel of each guild (the one every guild is created with).
async fn voice_channels(c: &Common, state: &setup::State) -> anyhow::Result<Vec<u64>> {
    let http = reqwest::Client::new();
    let mut out = Vec::with_capacity(state.guilds.len());
    for g in &state.guilds {
        let token = member_token(state, g.id)?;
        let url = format!("http://{}/api/v1/guilds/{}/channels", c.addr, g.id);
        let v: serde_json::Value = http.get(url).bearer_auth(token).send().await?.json().await?;
        let ch = v
            .as_array()
            .and_then(|a| a.iter().find(|ch| ch["kind"] == "voice"))
            .ok_or_else(|| anyhow!("guild {} has no voice channel", g.id))?;
        out.push(json_id(&ch["id"])?);
    }
    Ok(out)
}

fn member_token(state: &setup::State, guild: u64) -> anyhow::Result<&str> {
    let gi = state.guilds.iter().position(|g| g.id == guild).ok_or_else(|| anyhow!("unknown guild"))?;
    let first = state.layout.guilds.get(gi).and_then(|p| p.members.first()).copied().unwrap_or(0);
    Ok(state.users.get(first).map(|u| u.token.as_str()).unwrap_or_default())
}

/// Each account's user id (the payload names its sender by it).
async fn user_ids(c: &Common, state: &setup::State) -> anyhow::Result<Vec<u64>> {
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/v1/users/@me", c.addr);
    let ids = futures_util::stream::iter(state.users.iter())
        .map(|u| {
            let (http, url) = (&http, &url);
            async move {
                let v: serde_json::Value = http.get(url).bearer_auth(&u.token).send().await?.json().await?;
                json_id(&v["id"])
            }
        })
        .buffered(c.setup_concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    ids.into_iter().collect()
}

fn json_id(v: &serde_json::Value) -> anyhow::Result<u64> {
    v.as_str().and_then(|s| s.parse().ok()).or_else(|| v.as_u64()).ok_or_else(|| anyhow!("not an id: {v}"))
}

/// The server's forwarded-packet counter, if /metrics is served on the address.
async fn forwarded_total(http: &reqwest::Client, url: &str) -> Option<u64> {
    let text = http.get(url).send().await.ok()?.text().await.ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("hearth_voice_packets_forwarded_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

struct Join {
    guild: u64,
    channel: u64,
    peer: usize,
    offers: mpsc::UnboundedSender<OfferCmd>,
}

#[derive(Serialize)]
struct Out<T> {
    op: u8,
    d: T,
}

#[derive(Serialize)]
struct VoiceState {
    guild_id: u64,
    channel_id: u64,
    self_mute: bool,
    self_deaf: bool,
}

#[derive(Serialize)]
struct VoiceAnswer {
    guild_id: u64,
    channel_id: u64,
    revision: u32,
    sdp: String,
}

#[derive(Deserialize)]
struct VoiceOffer {
    revision: u32,
    sdp: String,
    send_mid: String,
    streams: Vec<serde::de::IgnoredAny>,
}

fn frame<T: Serialize>(op: Op, d: T) -> Message {
    Message::Binary(rmp_serde::to_vec_named(&Out { op: op as u8, d }).unwrap_or_default())
}

/// One participant's gateway session: identify, join the room, answer every offer, heartbeat.
async fn gateway(
    spec: Spec,
    join: Join,
    shared: Arc<Shared>,
    ctl: Arc<Ctl>,
    mut stop: watch::Receiver<bool>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) {
    let t0 = shared.now_us();
    let res = tokio::time::timeout(targets::HANDSHAKE_TIMEOUT, handshake(&spec)).await;
    let (mut ws, hb_every) = match res {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return targets::connect_failed(&shared, &e),
        Err(_) => return targets::connect_failed(&shared, &anyhow!("no READY")),
    };
    shared.ready(shared.now_us() - t0);
    drop(permit);
    let vs = VoiceState { guild_id: join.guild, channel_id: join.channel, self_mute: false, self_deaf: false };
    if ws.send(frame(Op::VoiceStateUpdate, vs)).await.is_err() {
        ctl.errors.fetch_add(1, Relaxed);
        return;
    }
    let mut hb = tokio::time::interval_at(tokio::time::Instant::now() + hb_every, hb_every);
    let mut last_s = 0u64;
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                return;
            }
            msg = ws.next() => {
                let Some(Ok(msg)) = msg else {
                    shared.closed("gateway ended");
                    shared.dropped.fetch_add(1, Relaxed);
                    return;
                };
                let Message::Binary(b) = msg else { continue };
                let Some(f) = wire::parse_frame(&b) else { continue };
                if let Some(s) = f.s {
                    last_s = s;
                }
                if f.op == Op::Error as u64 {
                    let code = wire::str_field(f.d, b"code").map(String::from_utf8_lossy).unwrap_or_default();
                    shared.error(format!("op 43 {code}"));
                    ctl.errors.fetch_add(1, Relaxed);
                    continue;
                }
                if f.t != Some(b"VOICE_OFFER") {
                    continue;
                }
                let Ok(o) = rmp_serde::from_slice::<VoiceOffer>(f.d) else {
                    shared.error("undecodable VOICE_OFFER");
                    continue;
                };
                let (reply, answer) = oneshot::channel();
                let cmd = OfferCmd { peer: join.peer, sdp: o.sdp, send_mid: o.send_mid, lines: o.streams.len(), reply };
                if join.offers.send(cmd).is_err() {
                    return;
                }
                let Ok(sdp) = answer.await else {
                    ctl.errors.fetch_add(1, Relaxed);
                    continue;
                };
                let ans = VoiceAnswer { guild_id: join.guild, channel_id: join.channel, revision: o.revision, sdp };
                if ws.send(frame(Op::VoiceAnswer, ans)).await.is_err() {
                    return;
                }
            }
            _ = hb.tick() => {
                let _ = ws.send(frame(Op::Heartbeat, Some(last_s))).await;
            }
        }
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn handshake(spec: &Spec) -> anyhow::Result<(Ws, Duration)> {
    let mut ws = targets::ws_connect(spec, "/gateway?v=1&encoding=msgpack").await?;
    let mut interval = Duration::from_millis(41_250);
    while let Some(msg) = ws.next().await {
        let Message::Binary(b) = msg? else { continue };
        let f = wire::parse_frame(&b).ok_or_else(|| anyhow!("undecodable frame"))?;
        if f.op == Op::Hello as u64 {
            interval = Duration::from_millis(wire::uint_field(f.d, b"heartbeat_interval").unwrap_or(41_250).max(100));
            #[derive(Serialize)]
            struct Identify<'a> {
                token: &'a str,
            }
            ws.send(frame(Op::Identify, Identify { token: &spec.token })).await?;
        } else if f.op == Op::Dispatch as u64 && f.t == Some(b"READY") {
            return Ok((ws, interval));
        } else if f.op == Op::Error as u64 {
            bail!("identify refused");
        }
    }
    bail!("closed before READY")
}

/// Drive many peers: read every ready socket, feed timeouts to the `Rtc`s
/// that are due, write the speakers' frames on time, answer offers.
async fn drive(
    mut peers: Vec<Peer>,
    mut offers: mpsc::UnboundedReceiver<OfferCmd>,
    ctl: Arc<Ctl>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Tally {
    let mut t = Tally::new();
    let mut buf = vec![0u8; 2048];
    enum Woke {
        Stop,
        Offer(Option<OfferCmd>),
        Received,
        Timer,
    }
    loop {
        let now = Instant::now();
        let talking = ctl.talking.load(Relaxed);
        let mut next = now + IDLE_TICK;
        for p in peers.iter_mut() {
            if p.next_timeout <= now {
                let _ = p.rtc.handle_input(Input::Timeout(now));
                p.drain(&ctl, &shared, &mut t);
            }
            if talking && p.speaker && p.next_packet <= now {
                p.write_frame(now, &ctl, &shared, &mut t);
                p.drain(&ctl, &shared, &mut t);
            } else if !talking && p.next_packet < now {
                p.next_packet += FRAME * (now.duration_since(p.next_packet).as_millis() as u32 / 20 + 1);
            }
            next = next.min(p.next_timeout);
            if talking && p.speaker {
                next = next.min(p.next_packet);
            }
        }
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(next));
        let woke = {
            let recv = std::future::poll_fn(|cx| {
                let mut got = 0usize;
                for p in peers.iter_mut() {
                    loop {
                        let mut rb = ReadBuf::new(&mut buf);
                        match p.sock.poll_recv_from(cx, &mut rb) {
                            Poll::Ready(Ok(src)) => {
                                let n = rb.filled().len();
                                let at = Instant::now();
                                if let Ok(r) = Receive::new(Protocol::Udp, src, p.local, &buf[..n]) {
                                    let _ = p.rtc.handle_input(Input::Receive(at, r));
                                }
                                p.drain(&ctl, &shared, &mut t);
                                got += 1;
                                if got >= RECV_BATCH {
                                    return Poll::Ready(());
                                }
                            }
                            Poll::Ready(Err(_)) | Poll::Pending => break,
                        }
                    }
                }
                if got > 0 {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            });
            tokio::select! {
                biased;
                _ = stop.changed() => Woke::Stop,
                o = offers.recv() => Woke::Offer(o),
                _ = recv => Woke::Received,
                _ = sleep => Woke::Timer,
            }
        };
        match woke {
            Woke::Stop => return t,
            Woke::Offer(None) => return t,
            Woke::Offer(Some(o)) => {
                if let Some(p) = peers.get_mut(o.peer) {
                    match p.answer(&o) {
                        Ok(sdp) => {
                            let _ = o.reply.send(sdp);
                        }
                        Err(e) => {
                            shared.error(format!("offer: {e}"));
                            ctl.errors.fetch_add(1, Relaxed);
                        }
                    }
                    p.drain(&ctl, &shared, &mut t);
                    p.check_complete(&ctl);
                }
            }
            Woke::Received | Woke::Timer => {}
        }
    }
}

impl Peer {
    fn answer(&mut self, o: &OfferCmd) -> anyhow::Result<String> {
        let offer = SdpOffer::from_sdp_string(&o.sdp).map_err(|e| anyhow!("{e}"))?;
        let answer = self.rtc.sdp_api().accept_offer(offer).map_err(|e| anyhow!("{e}"))?;
        let mid = Mid::from(o.send_mid.as_str());
        self.send_mid = self.rtc.media(mid).map(|_| mid);
        self.pt = self.send_mid.and_then(|m| {
            self.rtc.writer(m).and_then(|w| w.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt()))
        });
        self.lines = o.lines;
        Ok(answer.to_sdp_string())
    }

    fn write_frame(&mut self, now: Instant, ctl: &Ctl, shared: &Shared, t: &mut Tally) {
        let slot = self.next_packet;
        self.next_packet += FRAME;
        if now.duration_since(slot) > Duration::from_millis(40) {
            t.late += 1;
            // Far behind: skip the missed slots rather than burst.
            if now.duration_since(slot) > Duration::from_millis(200) {
                self.next_packet = now + FRAME;
            }
        }
        let (Some(mid), Some(pt)) = (self.send_mid, self.pt) else { return };
        if !self.connected {
            return;
        }
        self.seq += 1;
        let sent_us = shared.now_us();
        // The tail is filler up to a realistic Opus frame size (80 bytes ≈ 32 kbit/s).
        let mut payload = vec![0u8; self.payload];
        payload[0] = MAGIC;
        payload[1..9].copy_from_slice(&self.user.to_be_bytes());
        payload[9..17].copy_from_slice(&self.seq.to_be_bytes());
        payload[17..25].copy_from_slice(&sent_us.to_be_bytes());
        let Some(w) = self.rtc.writer(mid) else { return };
        let mt = MediaTime::new(self.seq * 960, Frequency::FORTY_EIGHT_KHZ);
        if w.audio_level(-30, true).write(pt, now, mt, payload).is_ok()
            && sent_us >= ctl.from_us.load(Relaxed)
            && sent_us < ctl.to_us.load(Relaxed)
        {
            *t.sent.entry(self.user).or_default() += 1;
        }
        // str0m packetizes written media on its next timeout (due at once):
        // feed it now, or the frame would wait for the driver's timer (~1 ms).
        let _ = self.rtc.handle_input(Input::Timeout(now));
    }

    /// Poll the `Rtc` until it asks for a timeout.
    fn drain(&mut self, ctl: &Ctl, shared: &Shared, t: &mut Tally) {
        for _ in 0..10_000 {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    self.next_timeout = at;
                    return;
                }
                Ok(Output::Transmit(x)) => {
                    if self.sock.try_send_to(&x.contents, x.destination).is_err() {
                        t.send_errors += 1;
                    }
                }
                Ok(Output::Event(Event::Connected)) => {
                    self.connected = true;
                    self.check_complete(ctl);
                }
                Ok(Output::Event(Event::MediaData(d))) => self.on_media(&d.data, ctl, shared, t),
                Ok(Output::Event(_)) => {}
                Err(_) => {
                    ctl.errors.fetch_add(1, Relaxed);
                    self.next_timeout = Instant::now() + Duration::from_secs(3600);
                    return;
                }
            }
        }
    }

    fn check_complete(&mut self, ctl: &Ctl) {
        if !self.counted && self.connected && self.lines >= self.want_lines {
            self.counted = true;
            ctl.complete.fetch_add(1, Relaxed);
        }
    }

    fn on_media(&mut self, d: &[u8], ctl: &Ctl, shared: &Shared, t: &mut Tally) {
        self.check_complete(ctl);
        t.received_all += 1;
        if d.len() < 25 || d[0] != MAGIC {
            t.foreign += 1;
            return;
        }
        let field = |i: usize| d.get(i..i + 8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes).unwrap_or(0);
        let (from, sent_us) = (field(1), field(17));
        if sent_us >= ctl.from_us.load(Relaxed) && sent_us < ctl.to_us.load(Relaxed) {
            *t.got.entry((self.user, from)).or_default() += 1;
            let _ = t.latency.record(shared.now_us().saturating_sub(sent_us).max(1));
        }
    }
}
