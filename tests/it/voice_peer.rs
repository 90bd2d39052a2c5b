//! A WebRTC voice client for tests: a str0m `Rtc` (full ICE, the answering
//! side) on its own UDP socket, driven by a tokio task, plus the gateway
//! client that joins, answers offers and records voice events. It sends
//! synthetic Opus packets whose payload names the sender, so each receiver
//! can tell whose audio it got on which line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::common::{Frame, Gw, WAIT};

/// First payload byte of a synthetic packet.
const MAGIC: u8 = 0xA7;

/// What a peer observed.
#[derive(Debug, Default)]
pub struct Heard {
    /// Packets received, by the sender user id found in the payload.
    pub from: HashMap<u64, u64>,
    /// Packets whose payload sender did not match the user the offer named for the line.
    pub mislabeled: u64,
    /// Packets sent.
    pub sent: u64,
    /// ICE and DTLS completed.
    pub connected: bool,
}

enum Cmd {
    Offer {
        revision: u64,
        sdp: String,
        streams: HashMap<String, u64>,
        send_mid: String,
        reply: oneshot::Sender<String>,
    },
    Talk(bool),
}

/// The media side of a test participant.
pub struct Peer {
    cmd: mpsc::UnboundedSender<Cmd>,
    pub heard: Arc<Mutex<Heard>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Peer {
    /// A peer that sends as `user_id`.
    pub async fn new(user_id: u64) -> Peer {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("udp bind");
        let local = socket.local_addr().expect("local addr");
        let (tx, rx) = mpsc::unbounded_channel();
        let heard = Arc::new(Mutex::new(Heard::default()));
        let task = tokio::spawn(run(socket, local, user_id, rx, heard.clone()));
        Peer { cmd: tx, heard, task }
    }

    /// Start or stop sending 50 packets a second.
    pub fn talk(&self, on: bool) {
        let _ = self.cmd.send(Cmd::Talk(on));
    }

    /// Packets received from `user` so far.
    pub fn heard_from(&self, user: u64) -> u64 {
        self.heard.lock().unwrap().from.get(&user).copied().unwrap_or(0)
    }

    /// Stop the peer's task (its network vanishes: nothing more is sent).
    pub fn vanish(&self) {
        self.task.abort();
    }
}

async fn run(
    socket: UdpSocket,
    local: SocketAddr,
    user_id: u64,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    heard: Arc<Mutex<Heard>>,
) {
    let crypto = Arc::new(str0m::crypto::from_feature_flags());
    let new_rtc = || {
        let mut rtc = Rtc::builder()
            .set_crypto_provider(crypto.clone())
            .clear_codecs()
            .enable_opus(true, false)
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
        rtc
    };
    let mut rtc = new_rtc();
    let mut streams: HashMap<Mid, u64> = HashMap::new();
    let mut send_mid: Option<Mid> = None;
    let mut talking = false;
    let mut counter: u64 = 0;
    let mut next_packet = tokio::time::Instant::now();
    let mut buf = vec![0u8; 2048];
    loop {
        // Drain until the Rtc asks for a timeout.
        let deadline = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(e)) => match e {
                    Event::Connected => heard.lock().unwrap().connected = true,
                    Event::MediaData(d) => {
                        let from = payload_sender(&d.data);
                        let mut h = heard.lock().unwrap();
                        if let Some(from) = from {
                            *h.from.entry(from).or_default() += 1;
                            if streams.get(&d.mid) != Some(&from) {
                                h.mislabeled += 1;
                            }
                        }
                    }
                    _ => {}
                },
                Err(_) => return,
            }
        };
        let wait = deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(50));
        let packet_due = talking && tokio::time::Instant::now() >= next_packet;
        if packet_due {
            next_packet += Duration::from_millis(20);
            if let Some(mid) = send_mid {
                counter += 1;
                let pt = rtc
                    .writer(mid)
                    .and_then(|w| w.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt()));
                if let (Some(pt), Some(w)) = (pt, rtc.writer(mid)) {
                    let mut payload = vec![MAGIC];
                    payload.extend_from_slice(&user_id.to_be_bytes());
                    payload.extend_from_slice(&counter.to_be_bytes());
                    payload.extend_from_slice(&[0u8; 40]);
                    let t = MediaTime::new(counter * 960, Frequency::FORTY_EIGHT_KHZ);
                    if w.audio_level(-20, true).write(pt, Instant::now(), t, payload).is_ok() {
                        heard.lock().unwrap().sent += 1;
                    }
                }
            }
            continue;
        }
        let sleep_for =
            if talking { wait.min(next_packet.saturating_duration_since(tokio::time::Instant::now())) } else { wait };
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = r {
                    if let Ok(rcv) = Receive::new(Protocol::Udp, source, local, &buf[..n]) {
                        let _ = rtc.handle_input(Input::Receive(Instant::now(), rcv));
                    }
                }
            }
            c = cmds.recv() => match c {
                None => return,
                Some(Cmd::Talk(on)) => {
                    if on && !talking {
                        next_packet = tokio::time::Instant::now();
                    }
                    talking = on;
                }
                Some(Cmd::Offer { revision, sdp, streams: s, send_mid: m, reply }) => {
                    // Revision 1 is a new server-side connection (joined, moved, rejoined): start over.
                    if revision == 1 {
                        rtc = new_rtc();
                        heard.lock().unwrap().connected = false;
                    }
                    let offer = SdpOffer::from_sdp_string(&sdp).expect("server offer parses");
                    let answer = rtc.sdp_api().accept_offer(offer).expect("offer accepted");
                    streams = s.into_iter().filter_map(|(k, v)| Some((mid_of(&rtc, &k)?, v))).collect();
                    send_mid = mid_of(&rtc, &m);
                    let _ = reply.send(answer.to_sdp_string());
                }
            },
            _ = tokio::time::sleep(sleep_for) => {
                let _ = rtc.handle_input(Input::Timeout(Instant::now()));
            }
        }
    }
}

fn mid_of(rtc: &Rtc, s: &str) -> Option<Mid> {
    let mid = Mid::from(s);
    rtc.media(mid).map(|_| mid)
}

fn payload_sender(d: &[u8]) -> Option<u64> {
    if d.len() < 17 || d[0] != MAGIC {
        return None;
    }
    Some(u64::from_be_bytes(d[1..9].try_into().ok()?))
}

/// A gateway session with a voice peer: answers offers, records voice events.
pub struct VoiceUser {
    pub user_id: u64,
    pub peer: Peer,
    peer_cmd: Arc<Mutex<mpsc::UnboundedSender<Cmd>>>,
    cmd: mpsc::UnboundedSender<Value>,
    /// Every dispatch seen (t, d), in order.
    pub events: Arc<Mutex<Vec<(String, Value)>>>,
    /// ERROR frames seen (op 43 d).
    pub errors: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for VoiceUser {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl VoiceUser {
    /// Take over an identified gateway client.
    pub async fn new(mut gw: Gw, user_id: u64) -> VoiceUser {
        let peer = Peer::new(user_id).await;
        let peer_cmd = Arc::new(Mutex::new(peer.cmd.clone()));
        let pc = peer_cmd.clone();
        let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
        let events = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let (ev, er) = (events.clone(), errors.clone());
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    f = gw.next_within(Duration::from_secs(3600)) => {
                        let Ok(Some(Frame { op, d, t, .. })) = f else { return };
                        if op == 43 {
                            er.lock().unwrap().push(d);
                            continue;
                        }
                        let Some(t) = t else { continue };
                        if t == "VOICE_OFFER" {
                            let streams = d["streams"].as_array().map(|a| a.iter().map(|s| {
                                (s["mid"].as_str().unwrap_or_default().to_string(), crate::common::id(&s["user_id"]))
                            }).collect()).unwrap_or_default();
                            let (reply, rx) = oneshot::channel();
                            let cmd = Cmd::Offer {
                                revision: d["revision"].as_u64().unwrap_or(0),
                                sdp: d["sdp"].as_str().unwrap_or_default().to_string(),
                                streams,
                                send_mid: d["send_mid"].as_str().unwrap_or_default().to_string(),
                                reply,
                            };
                            let sent = pc.lock().unwrap().send(cmd).is_ok();
                            // A vanished peer answers nothing (its network is gone).
                            let Ok(sdp) = (if sent { rx.await.map_err(|_| ()) } else { Err(()) }) else {
                                ev.lock().unwrap().push((t, d));
                                continue;
                            };
                            gw.send(45, json!({
                                "guild_id": d["guild_id"], "channel_id": d["channel_id"],
                                "revision": d["revision"], "sdp": sdp,
                            })).await;
                        }
                        ev.lock().unwrap().push((t, d));
                    }
                    c = rx.recv() => match c {
                        Some(v) => gw.send(v["op"].as_u64().unwrap_or(0), v["d"].clone()).await,
                        None => {
                            // Closing the gateway normally ends the session.
                            gw.send_raw(tokio_tungstenite::tungstenite::Message::Close(None)).await;
                            // Read until the server's close: dropping a socket with unread
                            // data sends a reset, which can discard our close frame.
                            while let Ok(Some(_)) = gw.next_within(WAIT).await {}
                            return;
                        }
                    },
                }
            }
        });
        VoiceUser { user_id, peer, peer_cmd, cmd: tx, events, errors, task }
    }

    /// A fresh media peer (a new network path); later offers go to it.
    pub async fn new_peer(&mut self) {
        self.peer = Peer::new(self.user_id).await;
        *self.peer_cmd.lock().unwrap() = self.peer.cmd.clone();
    }

    /// Send op 44.
    pub fn voice_state(&self, guild: &Value, channel: Value, self_mute: bool, self_deaf: bool) {
        let d = json!({"guild_id": guild, "channel_id": channel, "self_mute": self_mute, "self_deaf": self_deaf});
        let _ = self.cmd.send(json!({"op": 44, "d": d}));
    }

    /// Close the gateway connection normally (ends the session).
    pub fn close_gateway(&mut self) {
        let (tx, _) = mpsc::unbounded_channel();
        self.cmd = tx;
    }

    /// Wait until `pred` holds for the recorded events, up to `wait`.
    pub async fn until(&self, wait: Duration, what: &str, pred: impl Fn(&[(String, Value)]) -> bool) {
        let end = Instant::now() + wait;
        loop {
            // A copy: the predicate may read the events itself.
            let events = self.events.lock().unwrap().clone();
            if pred(&events) {
                return;
            }
            assert!(Instant::now() < end, "user {}: timed out waiting for {what}", self.user_id);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
