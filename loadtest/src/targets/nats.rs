//! A NATS client over nats-server's WebSocket listener, speaking the NATS text
//! protocol: `INFO` → `CONNECT` + `SUB` + `PING` → `PONG`; messages arrive as
//! `MSG <subject> <sid> <len>\r\n<payload>\r\n` (several per WebSocket frame,
//! possibly split across frames); the server's `PING` is answered with `PONG`.

use std::sync::atomic::Ordering::Relaxed;

use anyhow::{anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{connect_failed, Cmd, Spec, Wiring, HANDSHAKE_TIMEOUT};
use crate::stats::{Seen, Shared};
use crate::wire;

type Ws = WebSocketStream<TcpStream>;

/// The subject every reader subscribes to and every sender publishes on.
pub const SUBJECT: &str = "bench";
/// Most bytes of unparsed protocol kept per connection.
const MAX_PENDING: usize = 16 << 20;

const CONNECT: &str = "CONNECT {\"verbose\":false,\"pedantic\":false,\"lang\":\"rust\",\"version\":\"0\",\"protocol\":1,\"headers\":false}\r\n";

fn bytes(m: Message) -> Option<Vec<u8>> {
    match m {
        Message::Binary(b) => Some(b),
        Message::Text(t) => Some(t.into_bytes()),
        _ => None,
    }
}

async fn handshake(spec: &Spec) -> anyhow::Result<Ws> {
    let mut ws = super::ws_connect(spec, "/").await?;
    let mut said_hello = false;
    while let Some(msg) = ws.next().await {
        let Some(b) = bytes(msg?) else { continue };
        let text = String::from_utf8_lossy(&b);
        if text.starts_with("INFO") && !said_hello {
            said_hello = true;
            let sub = if spec.reader { format!("SUB {SUBJECT} 1\r\n") } else { String::new() };
            ws.send(Message::Binary(format!("{CONNECT}{sub}PING\r\n").into_bytes())).await?;
        }
        if text.contains("-ERR") {
            bail!("nats refused: {}", text.trim());
        }
        if text.contains("PONG\r\n") {
            return Ok(ws);
        }
    }
    bail!("closed before PONG")
}

/// Run one NATS client.
pub async fn run(spec: Spec, w: Wiring) {
    let Wiring { shared, mut cmds, mut stop, permit } = w;
    let t0 = shared.now_us();
    let mut ws = match timeout(HANDSHAKE_TIMEOUT, handshake(&spec)).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => return connect_failed(&shared, &e),
        Err(_) => return connect_failed(&shared, &anyhow!("no PONG within {HANDSHAKE_TIMEOUT:?}")),
    };
    shared.ready(shared.now_us() - t0);
    drop(permit);
    let mut seen = Seen::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut cmds_open = true;
    loop {
        tokio::select! {
            biased;
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    super::close_ws(&mut ws, None).await;
                    return;
                }
            }
            msg = ws.next() => match msg {
                Some(Ok(m)) => {
                    if let Some(b) = bytes(m) {
                        buf.extend_from_slice(&b);
                        let pings = parse(&shared, &mut seen, &mut buf, spec.reader);
                        for _ in 0..pings {
                            let _ = ws.send(Message::Binary(b"PONG\r\n".to_vec())).await;
                        }
                        if buf.len() > MAX_PENDING {
                            shared.error("nats: unparsable stream");
                            buf.clear();
                        }
                    }
                }
                Some(Err(_)) | None => {
                    shared.closed("nats connection ended");
                    shared.dropped.fetch_add(1, Relaxed);
                    return;
                }
            },
            cmd = cmds.recv(), if cmds_open => match cmd {
                Some(Cmd::Send { k, readers, .. }) => {
                    let t = shared.now_us();
                    let payload = wire::content(k, t, spec.payload);
                    let frame = format!("PUB {SUBJECT} {}\r\n{payload}\r\n", payload.len());
                    shared.sent.fetch_add(1, Relaxed);
                    if ws.send(Message::Binary(frame.into_bytes())).await.is_ok() {
                        // No acknowledgement in this protocol: due once written.
                        shared.confirmed(t, readers);
                    }
                }
                Some(_) => {}
                None => cmds_open = false,
            },
        }
    }
}

/// Consume every complete protocol line (and message payload) in `buf`;
/// returns how many PINGs to answer.
fn parse(shared: &Shared, seen: &mut Seen, buf: &mut Vec<u8>, reader: bool) -> usize {
    let mut pos = 0;
    let mut pings = 0;
    while let Some(eol) = buf[pos..].windows(2).position(|w| w == b"\r\n") {
        let line = &buf[pos..pos + eol];
        if let Some(rest) = line.strip_prefix(b"MSG ") {
            // MSG <subject> <sid> [reply-to] <#bytes>
            let len: Option<usize> = rest
                .rsplit(|&b| b == b' ')
                .next()
                .and_then(|n| std::str::from_utf8(n).ok())
                .and_then(|n| n.parse().ok());
            let Some(len) = len else {
                shared.error("nats: bad MSG line");
                pos += eol + 2;
                continue;
            };
            let start = pos + eol + 2;
            if buf.len() < start + len + 2 {
                break; // payload not complete yet
            }
            if reader {
                on_message(shared, seen, &buf[start..start + len]);
            }
            pos = start + len + 2;
            continue;
        }
        if line == b"PING" {
            pings += 1;
        } else if line.starts_with(b"-ERR") {
            shared.error(format!("nats: {}", String::from_utf8_lossy(line)));
        }
        pos += eol + 2;
    }
    buf.drain(..pos);
    pings
}

fn on_message(shared: &Shared, seen: &mut Seen, payload: &[u8]) {
    match wire::parse_stamp(payload) {
        Some((k, _)) if k >= shared.numbered.load(Relaxed) => {
            shared.unexpected.fetch_add(1, Relaxed);
        }
        Some((k, sent)) => {
            if seen.insert(k) {
                shared.delivery(sent);
            } else {
                shared.duplicates.fetch_add(1, Relaxed);
            }
        }
        None => shared.error("nats: unstamped message"),
    }
}
