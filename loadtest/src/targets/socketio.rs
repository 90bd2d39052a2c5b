//! A Socket.IO v4 client over a plain WebSocket (engine.io v4 text frames):
//! `0{...}` open → `40` connect → `40{...}`; events are `42["msg","..."]`; the
//! server pings with `2`, we answer `3`. Readers join the room (the reference
//! server puts every non-sender there); senders emit `msg`.

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

async fn handshake(spec: &Spec) -> anyhow::Result<Ws> {
    let role = if spec.reader { "reader" } else { "sender" };
    let mut ws = super::ws_connect(spec, &format!("/socket.io/?EIO=4&transport=websocket&role={role}")).await?;
    while let Some(msg) = ws.next().await {
        let Message::Text(t) = msg? else { continue };
        if t.starts_with("40") {
            return Ok(ws);
        } else if t.starts_with('0') {
            ws.send(Message::Text("40".into())).await?;
        } else if t == "2" {
            ws.send(Message::Text("3".into())).await?;
        } else if t.starts_with("44") {
            bail!("connect refused: {t}");
        }
    }
    bail!("closed before connect")
}

/// Run one Socket.IO client.
pub async fn run(spec: Spec, w: Wiring) {
    let Wiring { shared, mut cmds, mut stop, permit } = w;
    let t0 = shared.now_us();
    let mut ws = match timeout(HANDSHAKE_TIMEOUT, handshake(&spec)).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => return connect_failed(&shared, &e),
        Err(_) => return connect_failed(&shared, &anyhow!("no connect within {HANDSHAKE_TIMEOUT:?}")),
    };
    shared.ready(shared.now_us() - t0);
    drop(permit);
    let mut seen = Seen::default();
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
                Some(Ok(Message::Text(t))) => {
                    if t == "2" {
                        let _ = ws.send(Message::Text("3".into())).await;
                    } else if spec.reader {
                        on_event(&shared, &mut seen, t.as_bytes());
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    shared.closed("socket.io connection ended");
                    shared.dropped.fetch_add(1, Relaxed);
                    return;
                }
                Some(Ok(_)) => {}
            },
            cmd = cmds.recv(), if cmds_open => match cmd {
                Some(Cmd::Send { k, readers, .. }) => {
                    let t = shared.now_us();
                    let frame = format!("42[\"msg\",\"{}\"]", wire::content(k, t, spec.payload));
                    shared.sent.fetch_add(1, Relaxed);
                    if ws.send(Message::Text(frame)).await.is_ok() {
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

fn on_event(shared: &Shared, seen: &mut Seen, t: &[u8]) {
    let Some(rest) = t.strip_prefix(b"42[\"msg\",\"") else {
        shared.other_events.fetch_add(1, Relaxed);
        return;
    };
    match wire::parse_stamp(rest) {
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
        None => shared.error("socket.io: unstamped msg"),
    }
}
