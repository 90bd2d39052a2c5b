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

/// Connect, identify and wait for READY; returns the socket and the heartbeat interval.
async fn handshake(spec: &Spec) -> anyhow::Result<(Ws, Duration)> {
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
            return Ok((ws, interval.unwrap_or(Duration::from_millis(41_250))));
        } else if f.op == Op::Error as u64 {
            let code = wire::str_field(f.d, b"code").map(String::from_utf8_lossy).unwrap_or_default();
            bail!("identify refused: {code}");
        }
    }
    bail!("closed before READY")
}

/// Run one gateway client.
pub async fn run(spec: Spec, w: Wiring) {
    let Wiring { shared, mut cmds, mut stop, permit } = w;
    let t0 = shared.now_us();
    let (mut ws, hb_every) = match timeout(HANDSHAKE_TIMEOUT, handshake(&spec)).await {
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
    loop {
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
            msg = ws.next() => match msg {
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
            cmd = cmds.recv(), if cmds_open => match cmd {
                Some(cmd) => {
                    let frame = st.command(&spec, &shared, cmd);
                    // Queue whatever else is ready too, then write once.
                    let mut batch = vec![frame];
                    while batch.len() < 64 {
                        match cmds.try_recv() {
                            Ok(c) => batch.push(st.command(&spec, &shared, c)),
                            Err(_) => break,
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
    fn command(&mut self, spec: &Spec, shared: &Shared, cmd: Cmd) -> Message {
        match cmd {
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
        }
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
