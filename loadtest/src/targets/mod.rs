//! One client module per server protocol. Every client runs as one task:
//! connect from its source address, handshake until it may receive
//! (READY, or the reference protocol's equivalent), then receive, send what the
//! scenario commands, keep the connection alive, and close when told.

pub mod hearth;
pub mod nats;
pub mod socketio;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::WebSocketStream;

use crate::options::Target;
use crate::stats::Shared;

/// Longest a client waits for the server during its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
/// Commands a client may have queued (a sender that falls this far behind drops sends).
pub const CMD_QUEUE: usize = 4096;

/// What a scenario asks one client to do.
#[derive(Debug, Clone, Copy)]
pub enum Cmd {
    /// Send load message `k` to `channel`; `readers` deliveries are due once it is confirmed.
    Send {
        /// Channel (Hearth) — the reference servers have one room / subject.
        channel: u64,
        /// Message number, dense from 0 over the run.
        k: u64,
        /// Deliveries this message should cause.
        readers: u64,
    },
    /// Say "typing" in `channel` (Hearth only).
    Typing {
        /// The channel.
        channel: u64,
    },
    /// Change status (Hearth only).
    Presence(&'static str),
    /// Stop reading for this long, then read again (a slow reader; Hearth only).
    Pause(Duration),
    /// Let the connection go (close code 4000, so the session stays
    /// resumable) once every send is answered, open a new one and RESUME
    /// (Hearth only; the reference clients ignore it).
    Reconnect,
}

/// Who a client is and what it does.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Client number (also picks the source address).
    pub index: usize,
    /// Loopback source address to connect from.
    pub source: IpAddr,
    /// Server address.
    pub addr: SocketAddr,
    /// Bearer token (Hearth).
    pub token: String,
    /// Count MESSAGE_CREATE deliveries (readers); senders only confirm their sends.
    pub reader: bool,
    /// Message content size in bytes.
    pub payload: usize,
}

/// Everything a client task needs besides its spec.
pub struct Wiring {
    /// The run's collector.
    pub shared: Arc<Shared>,
    /// Commands from the scenario.
    pub cmds: mpsc::Receiver<Cmd>,
    /// Becomes true when the client should close.
    pub stop: watch::Receiver<bool>,
    /// Held until READY: bounds how many clients handshake at once.
    pub permit: Option<OwnedSemaphorePermit>,
}

/// Run one client of `target` until stopped or disconnected.
pub async fn run(target: Target, spec: Spec, w: Wiring) {
    match target {
        Target::Hearth => hearth::run(spec, w).await,
        Target::Socketio => socketio::run(spec, w).await,
        Target::Nats => nats::run(spec, w).await,
    }
}

/// Open a WebSocket to `path` on the server from the spec's source address.
pub async fn ws_connect(spec: &Spec, path: &str) -> anyhow::Result<WebSocketStream<TcpStream>> {
    let tcp = crate::net::connect_from(spec.source, spec.addr).await?;
    let url = format!("ws://{}{}", spec.addr, path);
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, tcp, Some(crate::net::ws_config()))
        .await
        .context("websocket handshake")?;
    Ok(ws)
}

/// Close the WebSocket properly: send the close frame, then keep reading until
/// the server's answer (bounded). Dropping the socket with unread data in it
/// would make the kernel send a reset, and the server could lose the close
/// frame (for Hearth: the session would stay detached, resumable, instead of
/// ending).
pub async fn close_ws(ws: &mut WebSocketStream<TcpStream>, frame: Option<CloseFrame<'static>>) {
    use futures_util::StreamExt;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    if tokio::time::timeout_at(deadline, ws.close(frame)).await.is_err() {
        return;
    }
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if m.is_close() {
            break;
        }
    }
}

/// Record a failed connect or handshake.
pub fn connect_failed(shared: &Shared, e: &anyhow::Error) {
    shared.connect_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    shared.error(format!("connect: {}", e.root_cause()));
}

/// A small deterministic per-client random source (heartbeat jitter, picks).
pub struct Rng(SmallRng);

impl Rng {
    /// Seeded from a client number.
    pub fn new(seed: u64) -> Rng {
        Rng(SmallRng::seed_from_u64(seed))
    }

    /// Uniform in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.0.gen_range(0..n)
        }
    }
}
