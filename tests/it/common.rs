//! The user-story helpers of the integration tests, on the shared harness
//! (tests/support): a server with the stories' defaults, registered users,
//! guilds and invites over REST, and a gateway client.

#![allow(dead_code, unused_imports)]

use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use crate::support::{eventually, eventually_async, WAIT};
use crate::support::{Launch, Running};

/// Time during which something that should not happen is watched for.
pub const QUIET: Duration = Duration::from_millis(700);

/// A running server with the defaults of the user stories.
pub struct Server {
    pub addr: String,
    pub data: PathBuf,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The voice UDP address, if voice is on.
    pub voice: Option<String>,
    running: Option<Running>,
    launch: Launch,
    _tmp: tempfile::TempDir,
}

impl Server {
    /// Start on a fresh data dir.
    pub async fn start() -> Server {
        Self::start_with(&[]).await
    }

    /// Start with extra flags.
    pub async fn start_with(extra: &[&str]) -> Server {
        Self::start_in(extra, None).await
    }

    /// Start with extra flags, inside the cgroup whose `cgroup.procs` is given (if any).
    pub async fn start_in(extra: &[&str], cgroup: Option<PathBuf>) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let has = |flag: &str| extra.contains(&flag);
        let mut launch = Launch::serve().data(&data).args(["--workers", "2"]).args(extra);
        // Cheap hashing unless the test sets its own cost.
        if !has("--argon2-memory-kib") {
            launch = launch.args(["--argon2-memory-kib", "256", "--argon2-iterations", "1"]);
        }
        // Long enough that test clients need not heartbeat; the heartbeat
        // test sets its own interval.
        if !has("--heartbeat-interval-ms") {
            launch = launch.args(["--heartbeat-interval-ms", "600000"]);
        }
        // Many users from one loopback address: scale the per-IP limits up
        // (the rate-limit stories start servers with scale 1).
        if !has("--rate-limit-scale") {
            launch = launch.args(["--rate-limit-scale", "1000"]);
        }
        if !has("--max-connections-per-ip") {
            launch = launch.args(["--max-connections-per-ip", "10000"]);
        }
        if let Some(procs) = cgroup {
            launch = launch.in_cgroup(procs);
        }
        let running = launch.clone().start().await;
        Server {
            addr: running.addr.clone(),
            data,
            log: running.log.clone(),
            voice: running.voice.clone(),
            running: Some(running),
            launch,
            _tmp: tmp,
        }
    }

    /// The running process.
    fn running(&self) -> &Running {
        self.running.as_ref().expect("server running")
    }

    /// The server's resident memory in KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        self.running().rss_kib()
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().and_then(Running::pid)
    }

    /// Kill -9 the server.
    pub async fn kill(&mut self) {
        if let Some(r) = self.running.as_mut() {
            r.kill().await;
        }
    }

    /// Stop with SIGTERM and wait for exit.
    pub async fn terminate(&mut self) -> Option<i32> {
        let r = self.running.as_mut()?;
        r.pid()?;
        r.terminate().await.code()
    }

    /// Start again on the same data dir (after kill/terminate).
    pub async fn restart(&mut self) {
        self.kill().await;
        let running = self.launch.clone().start().await;
        self.addr = running.addr.clone();
        self.voice = running.voice.clone();
        self.log = running.log.clone();
        self.running = Some(running);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn api(&self, path: &str) -> String {
        format!("http://{}/api/v1{}", self.addr, path)
    }

    /// Whether the server logged a panic.
    pub fn logged_panic(&self) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains("panicked"))
    }

    /// Register and log in a user.
    pub async fn user(&self, name: &str) -> User {
        let (st, u) =
            req(self, "POST", "/auth/register", None, Some(json!({"username": name, "password": "password123"}))).await;
        assert_eq!(st, 201, "register {name}: {u}");
        let (st, l) =
            req(self, "POST", "/auth/login", None, Some(json!({"username": name, "password": "password123"}))).await;
        assert_eq!(st, 200, "login {name}: {l}");
        User { id: id(&u["id"]), name: name.to_string(), token: l["token"].as_str().unwrap().to_string() }
    }

    /// The text of /metrics.
    pub async fn metrics(&self) -> String {
        let r = crate::support::http::client().get(self.url("/metrics")).send().await.expect("GET /metrics");
        r.text().await.expect("/metrics body")
    }

    /// Read a metric value from /metrics.
    pub async fn metric(&self, name: &str) -> f64 {
        let body = self.metrics().await;
        body.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("metric {name} not found"))
    }

    /// The sum of a labelled metric over all its label sets.
    pub async fn metric_sum(&self, name: &str) -> f64 {
        let body = self.metrics().await;
        body.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// A registered, logged-in user.
#[derive(Clone, Debug)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub token: String,
}

/// An id from JSON (string) or MessagePack (integer) form.
pub fn id(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not an id: {v}")),
        Value::Number(n) => n.as_u64().unwrap_or_else(|| panic!("not an id: {v}")),
        _ => panic!("not an id: {v}"),
    }
}

/// A REST request with an optional bearer token and JSON body; returns status and JSON body (Null if empty).
pub async fn req(s: &Server, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let r = crate::support::Http::new(s.api("")).call(method, path, token, body.as_ref()).await;
    (r.status, r.body)
}

/// A REST request with a MessagePack body made from `body`; returns status and JSON body (Null if empty).
pub async fn req_msgpack(s: &Server, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .request(reqwest::Method::from_bytes(method.as_bytes()).expect("a method"), s.api(path))
        .bearer_auth(token)
        .header("Content-Type", "application/msgpack")
        .body(rmp_serde::to_vec_named(&body).expect("encodes"))
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

impl User {
    pub async fn get(&self, s: &Server, path: &str) -> (u16, Value) {
        req(s, "GET", path, Some(&self.token), None).await
    }
    pub async fn post(&self, s: &Server, path: &str, body: Value) -> (u16, Value) {
        req(s, "POST", path, Some(&self.token), Some(body)).await
    }
    pub async fn patch(&self, s: &Server, path: &str, body: Value) -> (u16, Value) {
        req(s, "PATCH", path, Some(&self.token), Some(body)).await
    }
    pub async fn put(&self, s: &Server, path: &str, body: Value) -> (u16, Value) {
        req(s, "PUT", path, Some(&self.token), Some(body)).await
    }
    pub async fn delete(&self, s: &Server, path: &str) -> (u16, Value) {
        req(s, "DELETE", path, Some(&self.token), None).await
    }

    /// Create a guild; returns (guild id, id of its #general text channel).
    pub async fn guild(&self, s: &Server, name: &str) -> (u64, u64) {
        let (st, g) = self.post(s, "/guilds", json!({"name": name})).await;
        assert_eq!(st, 201, "{g}");
        let gid = id(&g["id"]);
        let (_, chans) = self.get(s, &format!("/guilds/{gid}/channels")).await;
        let general = chans.as_array().unwrap().iter().find(|c| c["kind"] == "text").unwrap();
        (gid, id(&general["id"]))
    }

    /// Create an invite for a channel and return its code.
    pub async fn invite(&self, s: &Server, channel: u64, body: Value) -> String {
        let (st, inv) = self.post(s, &format!("/channels/{channel}/invites"), body).await;
        assert_eq!(st, 201, "{inv}");
        inv["code"].as_str().unwrap().to_string()
    }

    /// Join a guild by invite code.
    pub async fn join(&self, s: &Server, code: &str) {
        let (st, b) = self.post(s, &format!("/invites/{code}"), json!({})).await;
        assert_eq!(st, 200, "join: {b}");
    }

    /// Send a message over REST.
    pub async fn say(&self, s: &Server, channel: u64, content: &str) -> Value {
        let (st, m) = self.post(s, &format!("/channels/{channel}/messages"), json!({"content": content})).await;
        assert_eq!(st, 201, "send: {m}");
        m
    }
}

/// Gateway encoding for test clients.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Enc {
    Json,
    MsgPack,
}

/// A decoded server frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub op: u64,
    pub d: Value,
    pub s: Option<u64>,
    pub t: Option<String>,
}

/// How a gateway connection ended.
#[derive(Debug, PartialEq)]
pub enum End {
    Closed(u16, String),
    Dropped,
}

/// Raw frame access for tests that read the socket themselves.
pub trait NextFrame {
    /// The next WebSocket message, or None when the connection ended.
    fn next_frame(&mut self) -> impl std::future::Future<Output = Option<WsMessage>>;
}

impl NextFrame for WebSocketStream<MaybeTlsStream<TcpStream>> {
    async fn next_frame(&mut self) -> Option<WsMessage> {
        match tokio::time::timeout(WAIT, self.next()).await {
            Ok(Some(Ok(m))) => Some(m),
            _ => None,
        }
    }
}

/// A gateway client.
pub struct Gw {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub enc: Enc,
    pub hello: Frame,
    /// Frames read while looking for something else (an ACK), handed out first.
    pending: std::collections::VecDeque<Frame>,
}

impl Gw {
    /// Connect (and read HELLO).
    pub async fn connect(s: &Server, enc: Enc) -> Gw {
        let q = match enc {
            Enc::Json => "?v=1&encoding=json",
            Enc::MsgPack => "?v=1&encoding=msgpack",
        };
        Self::connect_raw(s, q, enc).await
    }

    /// Connect with a raw query string and read HELLO.
    pub async fn connect_raw(s: &Server, query: &str, enc: Enc) -> Gw {
        let url = format!("ws://{}/gateway{}", s.addr, query);
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await.expect("ws connect");
        Self::with_hello(ws, enc).await
    }

    /// Connect with a small socket receive buffer (to stall quickly when not reading).
    pub async fn connect_small_rcvbuf(s: &Server, enc: Enc, rcvbuf: u32) -> Gw {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(rcvbuf).unwrap();
        let stream = sock.connect(s.addr.parse().unwrap()).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let q = match enc {
            Enc::Json => "?v=1&encoding=json",
            Enc::MsgPack => "?v=1&encoding=msgpack",
        };
        let url = format!("ws://{}/gateway{}", s.addr, q);
        let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)).await.expect("ws connect");
        Self::with_hello(ws, enc).await
    }

    /// Wrap a connected WebSocket and read HELLO.
    pub async fn with_hello(ws: WebSocketStream<MaybeTlsStream<TcpStream>>, enc: Enc) -> Gw {
        let mut gw =
            Gw { ws, enc, hello: Frame { op: 0, d: Value::Null, s: None, t: None }, pending: Default::default() };
        let hello = gw.next().await.expect("hello");
        assert_eq!(hello.op, 10, "first frame must be HELLO");
        gw.hello = hello;
        gw
    }

    /// Connect and identify; returns the client and READY's d.
    pub async fn identify(s: &Server, user: &User, enc: Enc) -> (Gw, Value) {
        let mut gw = Self::connect(s, enc).await;
        gw.send(2, json!({"token": user.token})).await;
        let ready = gw.dispatch("READY").await;
        (gw, ready)
    }

    /// Encode and send a frame {op, d}.
    pub async fn send(&mut self, op: u64, d: Value) {
        let frame = json!({"op": op, "d": d});
        let msg = match self.enc {
            Enc::Json => WsMessage::Text(frame.to_string()),
            Enc::MsgPack => WsMessage::Binary(rmp_serde::to_vec_named(&frame).unwrap()),
        };
        self.ws.send(msg).await.expect("ws send");
    }

    /// Send a raw WebSocket message.
    pub async fn send_raw(&mut self, m: WsMessage) {
        let _ = self.ws.send(m).await;
    }

    /// Next server frame within WAIT; None if the connection ended.
    pub async fn next(&mut self) -> Option<Frame> {
        self.next_within(WAIT).await.ok().flatten()
    }

    /// Next frame within `d`: Err on timeout, Ok(None) when the connection ended.
    pub async fn next_within(&mut self, d: Duration) -> Result<Option<Frame>, ()> {
        if let Some(f) = self.pending.pop_front() {
            return Ok(Some(f));
        }
        loop {
            let m = match tokio::time::timeout(d, self.ws.next()).await {
                Err(_) => return Err(()),
                Ok(None) | Ok(Some(Err(_))) => return Ok(None),
                Ok(Some(Ok(m))) => m,
            };
            let v: Value = match m {
                WsMessage::Text(t) => {
                    assert_eq!(self.enc, Enc::Json, "text frame on a msgpack connection");
                    serde_json::from_str(&t).expect("server JSON")
                }
                WsMessage::Binary(b) => {
                    assert_eq!(self.enc, Enc::MsgPack, "binary frame on a JSON connection");
                    rmp_serde::from_slice(&b).expect("server msgpack")
                }
                WsMessage::Close(_) => return Ok(None),
                _ => continue,
            };
            return Ok(Some(Frame {
                op: v["op"].as_u64().expect("op"),
                d: v["d"].clone(),
                s: v["s"].as_u64(),
                t: v["t"].as_str().map(String::from),
            }));
        }
    }

    /// Wait for a dispatch named `t` (skipping others); panics on timeout.
    pub async fn dispatch(&mut self, t: &str) -> Value {
        self.dispatch_where(t, |_| true).await
    }

    /// Wait for a dispatch named `t` whose d matches `pred`.
    pub async fn dispatch_where(&mut self, t: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Ok(Some(f)) if f.op == 0 && f.t.as_deref() == Some(t) && pred(&f.d) => return f.d,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("connection ended while waiting for {t}"),
                Err(()) => panic!("timed out waiting for {t}"),
            }
        }
    }

    /// Wait for a non-dispatch frame with op `op`.
    pub async fn op(&mut self, op: u64) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Ok(Some(f)) if f.op == op => return f.d,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("connection ended while waiting for op {op}"),
                Err(()) => panic!("timed out waiting for op {op}"),
            }
        }
    }

    /// Collect every frame that arrives within `d`.
    pub async fn drain(&mut self, d: Duration) -> Vec<Frame> {
        let deadline = tokio::time::Instant::now() + d;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Ok(Some(f)) => out.push(f),
                _ => return out,
            }
        }
    }

    /// Assert no dispatch named `t` arrives within QUIET.
    pub async fn expect_none(&mut self, t: &str) {
        for f in self.drain(QUIET).await {
            assert!(f.t.as_deref() != Some(t), "unexpected {t}: {:?}", f.d);
        }
    }

    /// Wait for the server to close the connection; returns the close code and reason.
    pub async fn closed(&mut self) -> End {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await {
                Err(_) => panic!("connection not closed in time"),
                Ok(None) | Ok(Some(Err(_))) => return End::Dropped,
                Ok(Some(Ok(WsMessage::Close(Some(cf))))) => {
                    let code: u16 = match cf.code {
                        WsCloseCode::Library(c) | WsCloseCode::Bad(c) | WsCloseCode::Iana(c) => c,
                        other => other.into(),
                    };
                    return End::Closed(code, cf.reason.to_string());
                }
                Ok(Some(Ok(WsMessage::Close(None)))) => return End::Closed(1005, String::new()),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Assert the server closes with `code`.
    pub async fn expect_close(&mut self, code: u16) {
        match self.closed().await {
            End::Closed(c, reason) => {
                assert_eq!(c, code, "closed with {c} ({reason}), expected {code}")
            }
            End::Dropped => panic!("connection dropped without a close frame, expected {code}"),
        }
    }

    /// An id as this connection's encoding writes it (string in JSON, integer in MessagePack).
    pub fn idv(&self, id: u64) -> Value {
        match self.enc {
            Enc::Json => Value::String(id.to_string()),
            Enc::MsgPack => json!(id),
        }
    }

    /// Send a message over the gateway and wait for its ACK; returns the acked message.
    pub async fn say(&mut self, channel: u64, content: &str, nonce: &str) -> Value {
        let cid = self.idv(channel);
        self.send(40, json!({"channel_id": cid, "content": content, "nonce": nonce})).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut skipped = Vec::new();
        let acked = loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Ok(Some(f)) if f.op == 41 && f.d["nonce"] == nonce => break f.d["message"].clone(),
                Ok(Some(f)) if f.op == 43 && f.d["nonce"] == nonce => {
                    panic!("send failed: {}", f.d)
                }
                Ok(Some(f)) => skipped.push(f),
                _ => panic!("no ACK for {nonce}"),
            }
        };
        // Keep what arrived meanwhile (e.g. our own MESSAGE_CREATE) for later reads.
        for f in skipped.into_iter().rev() {
            self.pending.push_front(f);
        }
        acked
    }
}
