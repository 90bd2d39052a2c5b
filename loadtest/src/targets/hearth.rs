//! A Hearth gateway client (MessagePack): HELLO → IDENTIFY → READY, heartbeats
//! at the announced interval with jitter, SEND_MESSAGE with a stamped nonce,
//! and cheap reading of every frame (only `op`, `s`, `t` and the nonce).

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::{anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use hearth::protocol::Op;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{connect_failed, Cmd, Rng, Spec, Wiring, HANDSHAKE_TIMEOUT};
use crate::stats::{Seen, Shared};
use crate::wire;

type Ws = WebSocketStream<TcpStream>;

#[derive(Serialize)]
struct Out<T> {
    op: u8,
    d: T,
}

#[derive(Serialize)]
struct Identify<'a> {
    token: &'a str,
}

#[derive(Serialize)]
struct SendMessage<'a> {
    channel_id: u64,
    content: &'a str,
    nonce: &'a str,
}

#[derive(Serialize)]
struct ChannelOnly {
    channel_id: u64,
}

#[derive(Serialize)]
struct Presence {
    status: &'static str,
}

fn encode<T: Serialize>(op: Op, d: T) -> Message {
    Message::Binary(rmp_serde::to_vec_named(&Out { op: op as u8, d }).unwrap_or_default())
}

/// Connect, identify and wait for READY; returns the socket, the heartbeat
/// interval and the session's resume key.
async fn handshake(spec: &Spec) -> anyhow::Result<(Ws, Duration, String)> {
    let mut ws = super::ws_connect(spec, "/gateway?v=1&encoding=msgpack").await?;
    let mut interval = None;
    while let Some(msg) = ws.next().await {
        let Message::Binary(b) = msg? else { continue };
        let f = wire::parse_frame(&b).ok_or_else(|| anyhow!("undecodable frame"))?;
        if f.op == Op::Hello as u64 {
            let ms = wire::uint_field(f.d, b"heartbeat_interval").unwrap_or(41_250);
            interval = Some(Duration::from_millis(ms.max(100)));
            ws.send(encode(Op::Identify, Identify { token: &spec.token })).await?;
        } else if f.op == Op::Dispatch as u64 && f.t == Some(b"READY") {
            let key = wire::str_field(f.d, b"session_id").map(|k| String::from_utf8_lossy(k).into_owned());
            return Ok((ws, interval.unwrap_or(Duration::from_millis(41_250)), key.unwrap_or_default()));
        } else if f.op == Op::Error as u64 {
            let code = wire::str_field(f.d, b"code").map(String::from_utf8_lossy).unwrap_or_default();
            bail!("identify refused: {code}");
        }
    }
    bail!("closed before READY")
}

#[derive(Serialize)]
struct Resume<'a> {
    token: &'a str,
    session_id: &'a str,
    seq: u64,
}

/// Let the connection go with close code 4000 (the session stays
/// resumable), open a new one and RESUME from the last dispatch processed;
/// replayed dispatches go through `st` like live ones. If the server refuses
/// the resume, identify afresh (and count it). Returns the new connection and
/// the session's (possibly new) resume key.
async fn reconnect(spec: &Spec, shared: &Shared, ws: &mut Ws, st: &mut State, key: &str) -> anyhow::Result<String> {
    let away = CloseFrame { code: CloseCode::Library(4000), reason: "".into() };
    // Frames read while closing are dropped: their seq is above `last_s`, so
    // the resume replays them.
    super::close_ws(ws, Some(away)).await;
    let mut new = super::ws_connect(spec, "/gateway?v=1&encoding=msgpack").await?;
    let mut key = key.to_string();
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    loop {
        let msg = tokio::time::timeout_at(deadline, new.next()).await.map_err(|_| anyhow!("no RESUMED in time"))?;
        let Some(msg) = msg else { bail!("closed while resuming") };
        let Message::Binary(b) = msg? else { continue };
        let f = wire::parse_frame(&b).ok_or_else(|| anyhow!("undecodable frame"))?;
        match f.op {
            op if op == Op::Hello as u64 => {
                let resume = Resume { token: &spec.token, session_id: &key, seq: st.last_s };
                new.send(encode(Op::Resume, resume)).await?;
            }
            op if op == Op::InvalidSession as u64 => {
                shared.error("resume refused: identified again");
                new.send(encode(Op::Identify, Identify { token: &spec.token })).await?;
            }
            op if op == Op::Dispatch as u64 && f.t == Some(b"READY") => {
                // A fresh session: numbering starts again.
                st.last_s = f.s.unwrap_or(1);
                key =
                    wire::str_field(f.d, b"session_id").map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or(key);
                break;
            }
            op if op == Op::Dispatch as u64 => {
                st.on_frame(spec, shared, &b);
                if f.t == Some(b"RESUMED") {
                    break;
                }
            }
            op if op == Op::Error as u64 => {
                let code = wire::str_field(f.d, b"code").map(String::from_utf8_lossy).unwrap_or_default();
                bail!("resume refused: {code}");
            }
            _ => st.on_frame(spec, shared, &b),
        }
    }
    *ws = new;
    shared.closed("reconnected (resumed or re-identified)");
    Ok(key)
}

/// Longest a client waits for its sends to be answered before it reconnects anyway.
const RECONNECT_DRAIN: Duration = Duration::from_secs(5);

/// What a command turns into.
enum Action {
    Frame(Message),
    Pause(Duration),
    Reconnect,
}

/// Run one gateway client.
pub async fn run(spec: Spec, w: Wiring) {
    let Wiring { shared, mut cmds, mut stop, permit } = w;
    let t0 = shared.now_us();
    let (mut ws, hb_every, mut key) = match timeout(HANDSHAKE_TIMEOUT, handshake(&spec)).await {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return connect_failed(&shared, &e),
        Err(_) => return connect_failed(&shared, &anyhow!("no READY within {HANDSHAKE_TIMEOUT:?}")),
    };
    shared.ready(shared.now_us() - t0);
    drop(permit);

    // Jittered first heartbeat, so that thousands of idle sessions do not beat in step.
    let mut rng = Rng::new(spec.index as u64);
    let first = Instant::now() + hb_every.mul_f64(rng.below(1000) as f64 / 1000.0);
    let mut hb = tokio::time::interval_at(first, hb_every);
    hb.set_missed_tick_behavior(MissedTickBehavior::Delay);

    let mut st = State { last_s: 1, seen: Seen::default(), pending: HashMap::new() };
    let mut cmds_open = true;
    // Not reading until then (a slow reader).
    let mut paused_until: Option<Instant> = None;
    // A reconnect is due once every send is answered, or at this deadline.
    let mut reconnect_by: Option<Instant> = None;
    let far = || Instant::now() + Duration::from_secs(86_400);
    loop {
        if let Some(by) = reconnect_by {
            if st.pending.is_empty() || Instant::now() >= by {
                reconnect_by = None;
                match reconnect(&spec, &shared, &mut ws, &mut st, &key).await {
                    Ok(k) => key = k,
                    Err(e) => {
                        shared.error(format!("reconnect: {e}"));
                        shared.dropped.fetch_add(1, Relaxed);
                        return;
                    }
                }
            }
        }
        if paused_until.is_some_and(|u| Instant::now() >= u) {
            paused_until = None;
        }
        let reading = paused_until.is_none();
        tokio::select! {
            biased;
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    // 1000: the session ends now instead of waiting out the resume grace.
                    let normal = CloseFrame { code: CloseCode::Normal, reason: "".into() };
                    super::close_ws(&mut ws, Some(normal)).await;
                    return;
                }
            }
            msg = ws.next(), if reading => match msg {
                Some(Ok(Message::Binary(b))) => st.on_frame(&spec, &shared, &b),
                Some(Ok(Message::Close(f))) => {
                    let code = f.map(|f| u16::from(f.code).to_string()).unwrap_or_else(|| "none".into());
                    shared.closed(format!("close {code}"));
                    shared.dropped.fetch_add(1, Relaxed);
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    shared.closed(format!("error: {e}"));
                    shared.dropped.fetch_add(1, Relaxed);
                    return;
                }
                None => {
                    shared.closed("eof");
                    shared.dropped.fetch_add(1, Relaxed);
                    return;
                }
            },
            _ = tokio::time::sleep_until(paused_until.unwrap_or_else(far)), if !reading => {}
            _ = tokio::time::sleep_until(reconnect_by.unwrap_or_else(far)), if reconnect_by.is_some() => {}
            cmd = cmds.recv(), if cmds_open && reconnect_by.is_none() => match cmd {
                Some(cmd) => {
                    // Queue whatever else is ready too, then write once.
                    let mut batch = Vec::new();
                    let mut next = Some(cmd);
                    while let Some(c) = next.take() {
                        match st.command(&spec, &shared, c) {
                            Action::Frame(m) => batch.push(m),
                            Action::Pause(d) => paused_until = Some(Instant::now() + d),
                            Action::Reconnect => {
                                reconnect_by = Some(Instant::now() + RECONNECT_DRAIN);
                                break;
                            }
                        }
                        if batch.len() < 64 {
                            next = cmds.try_recv().ok();
                        }
                    }
                    for m in batch {
                        if ws.feed(m).await.is_err() {
                            break;
                        }
                    }
                    let _ = ws.flush().await;
                }
                None => cmds_open = false,
            },
            _ = hb.tick() => {
                let _ = ws.send(encode(Op::Heartbeat, Some(st.last_s))).await;
            }
        }
    }
}

struct State {
    last_s: u64,
    seen: Seen,
    /// Sends awaiting ACK: message number → (send stamp, deliveries due).
    pending: HashMap<u64, (u64, u64)>,
}

impl State {
    fn command(&mut self, spec: &Spec, shared: &Shared, cmd: Cmd) -> Action {
        Action::Frame(match cmd {
            Cmd::Send { channel, k, readers } => {
                let t = shared.now_us();
                self.pending.insert(k, (t, readers));
                shared.sent.fetch_add(1, Relaxed);
                let content = wire::content(k, t, spec.payload);
                let nonce = wire::nonce(k, t);
                encode(Op::SendMessage, SendMessage { channel_id: channel, content: &content, nonce: &nonce })
            }
            Cmd::Typing { channel } => encode(Op::Typing, ChannelOnly { channel_id: channel }),
            Cmd::Presence(status) => encode(Op::PresenceUpdate, Presence { status }),
            Cmd::Pause(d) => return Action::Pause(d),
            Cmd::Reconnect => return Action::Reconnect,
        })
    }

    fn on_frame(&mut self, spec: &Spec, shared: &Shared, b: &[u8]) {
        let Some(f) = wire::parse_frame(b) else {
            shared.error("undecodable frame");
            return;
        };
        match f.op {
            0 => {
                if let Some(s) = f.s {
                    if s != self.last_s + 1 {
                        shared.seq_gaps.fetch_add(1, Relaxed);
                    }
                    self.last_s = s;
                }
                if f.t == Some(b"MESSAGE_CREATE") {
                    if spec.reader {
                        self.delivery(shared, f.d);
                    }
                } else {
                    shared.other_events.fetch_add(1, Relaxed);
                }
            }
            41 => {
                let nonce = wire::str_field(f.d, b"nonce").and_then(wire::parse_stamp);
                if let Some((t, readers)) = nonce.and_then(|(k, _)| self.pending.remove(&k)) {
                    shared.confirmed(t, readers);
                }
            }
            43 => {
                let code = wire::str_field(f.d, b"code").map(String::from_utf8_lossy).unwrap_or_default();
                shared.error(format!("op 43 {code}"));
                if let Some((k, _)) = wire::str_field(f.d, b"nonce").and_then(wire::parse_stamp) {
                    if self.pending.remove(&k).is_some() {
                        shared.refused.fetch_add(1, Relaxed);
                    }
                }
            }
            _ => {}
        }
    }

    fn delivery(&mut self, shared: &Shared, d: &[u8]) {
        let Some((k, t)) = wire::str_field(d, b"nonce").and_then(wire::parse_stamp) else {
            // Not one of ours (someone else's message in the channel).
            return;
        };
        if k >= shared.numbered.load(Relaxed) {
            shared.unexpected.fetch_add(1, Relaxed);
        } else if self.seen.insert(k) {
            shared.delivery(t);
        } else {
            shared.duplicates.fetch_add(1, Relaxed);
        }
    }
}
