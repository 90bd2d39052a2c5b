//! Logs: a full session leaves request lines with the ids the client saw,
//! session lines with their connection number, and no secret anywhere; the
//! JSON format writes one parseable object per line.

use crate::common::*;
use crate::support::{Http, Launch, Running};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use sha2::Digest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const PASSWORD: &str = "correct horse battery staple 42";
const WRONG_PASSWORD: &str = "incorrect donkey battery staple 43";

// ---------------------------------------------------------------------------
// Helpers local to this module.
// ---------------------------------------------------------------------------

/// The harness sets RUST_LOG=info, which wins over `--log-level`; this story
/// needs debug lines too, so its servers run with RUST_LOG unset.
struct LogServer {
    addr: String,
    server: Running,
    http: Http,
}

impl LogServer {
    async fn start(extra: &[&str]) -> LogServer {
        let server = Launch::serve()
            .args(["--workers", "2", "--argon2-memory-kib", "256", "--argon2-iterations", "1"])
            .args(["--heartbeat-interval-ms", "600000", "--rate-limit-scale", "1000"])
            .args(extra)
            .env_remove("RUST_LOG")
            .start()
            .await;
        LogServer { addr: server.addr.clone(), http: Http::new(server.api("")), server }
    }

    /// SIGTERM, wait for the exit and for the last log line; returns the log.
    async fn stop(self) -> Vec<String> {
        self.server.stop().await
    }

    /// A REST call: status, the response's X-Request-Id and the JSON body
    /// (Null if empty). The client sends no header of its own beyond HTTP's
    /// (no User-Agent), so every header a log line could show is set here.
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        request_id: Option<&str>,
    ) -> (u16, String, Value) {
        let mut r = self.http.request(method, path);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(id) = request_id {
            r = r.header("x-request-id", id);
        }
        if let Some(b) = &body {
            r = r.json(b);
        }
        let reply = crate::support::http::send(r).await;
        assert!(reply.header("transfer-encoding").is_none(), "{method} {path}: chunked response");
        let rid =
            reply.header("x-request-id").unwrap_or_else(|| panic!("{method} {path}: no X-Request-Id")).to_string();
        (reply.status, rid, reply.body)
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON frame, skipping non-data messages; None when the connection ended.
async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("gateway frame in time") {
            Some(Ok(WsMessage::Text(t))) => return Some(serde_json::from_str(&t).unwrap()),
            Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// Read frames until one matches.
async fn until(ws: &mut Ws, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let f = next_json(ws).await.unwrap_or_else(|| panic!("connection ended waiting for {what}"));
        if pred(&f) {
            return f;
        }
    }
}

/// Every form of the token's stored hash that a careless log line could show.
fn hash_forms(token: &str) -> Vec<String> {
    let hash = sha2::Sha256::digest(token.as_bytes()).to_vec();
    let b64 = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    vec![
        hex::encode(&hash),
        hex::encode_upper(&hash),
        b64.encode(&hash),
        b64.encode(&hash).trim_end_matches('=').to_string(),
        url.encode(&hash),
        format!("{hash:?}"),
    ]
}

/// `conn=N` of the `session{...}` span on a human-format line.
fn conn_of(line: &str) -> Option<u64> {
    let rest = &line[line.find("session{conn=")? + "session{conn=".len()..];
    rest[..rest.find(|c: char| !c.is_ascii_digit())?].parse().ok()
}

// ---------------------------------------------------------------------------
// Stories.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_logs_ids_and_never_a_secret() {
    // Every level, so that no debug or trace line (ours or a dependency's) leaks either.
    let s = LogServer::start(&["--log-level", "trace"]).await;
    let mut seen: Vec<(String, u16)> = Vec::new();

    // Register and log in.
    let (st, rid, u) =
        s.call("POST", "/auth/register", None, Some(json!({"username": "logan", "password": PASSWORD})), None).await;
    assert_eq!(st, 201, "{u}");
    seen.push((rid, st));
    let uid = id(&u["id"]);
    let (st, rid, l) = s
        .call(
            "POST",
            "/auth/login",
            None,
            Some(json!({"username": "logan", "password": PASSWORD, "client": "t"})),
            None,
        )
        .await;
    assert_eq!(st, 200, "{l}");
    seen.push((rid, st));
    let token = l["token"].as_str().unwrap().to_string();
    let tok = Some(token.as_str());

    // Profile, a guild and its channel.
    let (st, rid, _) = s.call("PATCH", "/users/@me", tok, Some(json!({"display_name": "Logan"})), None).await;
    assert_eq!(st, 200);
    seen.push((rid, st));
    let (st, rid, g) = s.call("POST", "/guilds", tok, Some(json!({"name": "Log Cabin"})), None).await;
    assert_eq!(st, 201, "{g}");
    seen.push((rid, st));
    let gid = id(&g["id"]);
    let (st, rid, chans) = s.call("GET", &format!("/guilds/{gid}/channels"), tok, None, None).await;
    assert_eq!(st, 200);
    seen.push((rid, st));
    let cid = id(&chans.as_array().unwrap().iter().find(|c| c["kind"] == "text").unwrap()["id"]);

    // Identify on the gateway and send a message there.
    let url = format!("ws://{}/gateway?v=1&encoding=json", s.addr);
    let (mut ws, resp) = tokio_tungstenite::connect_async(url).await.expect("ws connect");
    let upgrade_id = resp.headers().get("x-request-id").expect("upgrade has an X-Request-Id").to_str().unwrap();
    seen.push((upgrade_id.to_string(), 101));
    until(&mut ws, "HELLO", |f| f["op"] == 10).await;
    ws.send(WsMessage::Text(json!({"op": 2, "d": {"token": token}}).to_string())).await.unwrap();
    until(&mut ws, "READY", |f| f["op"] == 0 && f["t"] == "READY").await;
    let d = json!({"channel_id": cid.to_string(), "content": "hello from the gateway", "nonce": "n1"});
    ws.send(WsMessage::Text(json!({"op": 40, "d": d}).to_string())).await.unwrap();
    until(&mut ws, "ACK", |f| f["op"] == 41 && f["d"]["nonce"] == "n1").await;

    // A REST send, with the client's own request id, which is kept.
    let (st, rid, m) = s
        .call(
            "POST",
            &format!("/channels/{cid}/messages"),
            tok,
            Some(json!({"content": "hello"})),
            Some("client-id-42"),
        )
        .await;
    assert_eq!(st, 201, "{m}");
    assert_eq!(rid, "client-id-42", "a short alphanumeric X-Request-Id is echoed");
    seen.push((rid, st));
    // An unusable one is replaced.
    let (st, rid, _) = s.call("GET", "/users/@me", tok, None, Some("not a safe id; drop table")).await;
    assert_eq!(st, 200);
    assert!(rid.chars().all(|c| c.is_ascii_alphanumeric()) && rid.len() <= 13, "replaced id: {rid}");
    seen.push((rid, st));

    // A failed login with another password, then logout (which closes the gateway).
    let (st, rid, _) =
        s.call("POST", "/auth/login", None, Some(json!({"username": "logan", "password": WRONG_PASSWORD})), None).await;
    assert_eq!(st, 401);
    seen.push((rid, st));
    let (st, rid, _) = s.call("POST", "/auth/logout", tok, None, None).await;
    assert_eq!(st, 204);
    seen.push((rid, st));
    while next_json(&mut ws).await.is_some() {}
    // The revoked token is refused; the refusal is logged without the token.
    let (st, rid, _) = s.call("GET", "/users/@me", tok, None, None).await;
    assert_eq!(st, 401);
    seen.push((rid, st));

    drop(ws);
    let log = s.stop().await;
    let all = log.join("\n");

    // Debug and trace lines are there (--log-level took effect).
    for level in ["DEBUG", "TRACE"] {
        assert!(log.iter().any(|l| l.contains(level)), "no {level} line in:\n{all}");
    }

    // One access line per request, with the id the client saw.
    for (rid, st) in &seen {
        let tag = format!("request{{id={rid} ");
        assert!(
            log.iter().any(|l| l.contains(&tag) && l.contains("hearth::access") && l.contains(&format!("status={st}"))),
            "no access line for request {rid} (status {st}) in:\n{all}"
        );
    }
    assert!(log.iter().any(|l| l.contains("route=/api/v1/channels/{id}/messages")), "route patterns are logged");

    // Gateway lines carry the connection number: the connect line (before
    // identify), the identify line (with the user) and the close lines.
    let identified = log
        .iter()
        .find(|l| l.contains("identified") && l.contains(&format!("user={uid}")))
        .unwrap_or_else(|| panic!("no identify line for user {uid} in:\n{all}"));
    let conn = conn_of(identified).expect("identify line has conn=N");
    for what in ["gateway connected", "closing session", "gateway disconnected"] {
        assert!(
            log.iter().any(|l| l.contains(what) && conn_of(l) == Some(conn)),
            "no {what:?} line with conn={conn} in:\n{all}"
        );
    }

    // No secret anywhere.
    let mut secrets = vec![PASSWORD.to_string(), WRONG_PASSWORD.to_string(), token.clone()];
    secrets.extend(hash_forms(&token));
    for secret in &secrets {
        assert!(!all.contains(secret.as_str()), "the log holds a secret ({secret}):\n{all}");
    }
    for needle in ["$argon2", "Bearer", "bearer", "authorization", "Authorization"] {
        assert!(!all.contains(needle), "the log mentions {needle:?}:\n{all}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_span_fields() {
    // The default level (info), in JSON.
    let s = LogServer::start(&["--log-format", "json"]).await;
    let creds = json!({"username": "jason", "password": PASSWORD});
    let (st, _, u) = s.call("POST", "/auth/register", None, Some(creds.clone()), None).await;
    assert_eq!(st, 201, "{u}");
    let uid = id(&u["id"]);
    let (_, _, l) = s.call("POST", "/auth/login", None, Some(creds), None).await;
    let token = l["token"].as_str().expect("token").to_string();
    let tok = Some(token.as_str());
    let (_, _, g) = s.call("POST", "/guilds", tok, Some(json!({"name": "JSON Lodge"})), None).await;
    let (_, _, chans) = s.call("GET", &format!("/guilds/{}/channels", id(&g["id"])), tok, None, None).await;
    let cid = id(&chans[0]["id"]);
    let url = format!("ws://{}/gateway?v=1&encoding=json", s.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("ws connect");
    ws.send(WsMessage::Text(json!({"op": 2, "d": {"token": token}}).to_string())).await.unwrap();
    until(&mut ws, "READY", |f| f["op"] == 0 && f["t"] == "READY").await;
    let (st, _, _) =
        s.call("POST", &format!("/channels/{cid}/messages"), tok, Some(json!({"content": "hi"})), None).await;
    assert_eq!(st, 201);
    until(&mut ws, "MESSAGE_CREATE", |f| f["t"] == "MESSAGE_CREATE").await;
    drop(ws);
    let log = s.stop().await;
    let all = log.join("\n");

    let (mut requests, mut identified) = (0, 0);
    for line in &log {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n{all}"));
        for key in ["timestamp", "level", "target", "message"] {
            assert!(v[key].is_string(), "no {key} in {line}");
        }
        assert_ne!(v["level"], "DEBUG", "debug line at the default level: {line}");
        let spans = v["spans"].as_array().cloned().unwrap_or_default();
        if let Some(r) = spans.iter().find(|s| s["name"] == "request") {
            assert!(r["id"].is_string() && r["method"].is_string() && r["route"].is_string(), "{line}");
            if v["target"] == "hearth::access" {
                assert!(v["status"].is_u64() && v["ms"].is_number(), "{line}");
                assert_eq!(v["span"]["name"], "request", "{line}");
                requests += 1;
            }
        }
        if let Some(sess) = spans.iter().find(|s| s["name"] == "session") {
            assert!(sess["conn"].is_u64(), "{line}");
            if v["message"] == "identified" {
                assert_eq!(sess["user"], uid.to_string(), "{line}");
                identified += 1;
            }
        }
    }
    // register, login, guild, channels, gateway upgrade, send
    assert_eq!(requests, 6, "access lines with a request span:\n{all}");
    assert_eq!(identified, 1, "identify lines with a session span:\n{all}");
    for secret in [PASSWORD, token.as_str()] {
        assert!(!all.contains(secret), "a secret in the log:\n{all}");
    }
}
