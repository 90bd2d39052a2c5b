//! Bad input gets a clear error, nothing is lost, and everyone else keeps being
//! served: Alice (MessagePack) and Bob (JSON) keep chatting while other
//! connections and requests send garbage.

use crate::common::*;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;

// ---------------------------------------------------------------------------
// Helpers local to this module.
// ---------------------------------------------------------------------------

/// Alice and Bob chatting in one channel; every round proves the server still
/// serves them and records what was sent, so history can be checked at the end.
struct Chat {
    alice: User,
    a: Gw,
    b: Gw,
    channel: u64,
    round: u32,
    sent: Vec<String>,
}

impl Chat {
    async fn start(s: &Server) -> Chat {
        let alice = s.user("alice").await;
        let bob = s.user("bob").await;
        let (_, channel) = alice.guild(s, "Lodge").await;
        let code = alice.invite(s, channel, json!({})).await;
        bob.join(s, &code).await;
        let (a, _) = Gw::identify(s, &alice, Enc::MsgPack).await;
        let (b, _) = Gw::identify(s, &bob, Enc::Json).await;
        let mut chat = Chat { alice, a, b, channel, round: 0, sent: Vec::new() };
        chat.still_served("the start").await;
        chat
    }

    /// Alice says something over the gateway and Bob receives it; every other
    /// round Bob answers and Alice receives that too.
    async fn still_served(&mut self, after: &str) {
        self.round += 1;
        let text = format!("alice #{} after {after}", self.round);
        let nonce = format!("a-{}", self.round);
        let acked = self.a.say(self.channel, &text, &nonce).await;
        assert_eq!(acked["content"], text.as_str());
        let got = self.b.dispatch_where("MESSAGE_CREATE", |d| d["nonce"] == nonce.as_str()).await;
        assert_eq!(got["content"], text.as_str(), "after {after}");
        assert_eq!(id(&got["id"]), id(&acked["id"]));
        self.sent.push(text);
        if self.round.is_multiple_of(2) {
            let text = format!("bob #{} after {after}", self.round);
            let nonce = format!("b-{}", self.round);
            self.b.say(self.channel, &text, &nonce).await;
            let got = self.a.dispatch_where("MESSAGE_CREATE", |d| d["nonce"] == nonce.as_str()).await;
            assert_eq!(got["content"], text.as_str(), "after {after}");
            self.sent.push(text);
        }
    }

    /// Nothing was lost and nothing extra was created: the channel's history is
    /// exactly what was sent, in order.
    async fn history_is_exactly_what_was_sent(&self, s: &Server) {
        let (st, hist) = self.alice.get(s, &format!("/channels/{}/messages?limit=100", self.channel)).await;
        assert_eq!(st, 200, "{hist}");
        let contents: Vec<&str> = hist.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
        let expected: Vec<&str> = self.sent.iter().map(String::as_str).collect();
        assert_eq!(contents, expected);
    }
}

/// Open a connection, send one raw WebSocket message, and expect the server to close with `code`.
async fn closes_with(s: &Server, enc: Enc, m: WsMessage, code: u16, what: &str) {
    let mut gw = Gw::connect(s, enc).await;
    gw.send_raw(m).await;
    match gw.closed().await {
        End::Closed(c, reason) => {
            assert_eq!(c, code, "{what}: closed with {c} ({reason}), expected {code}")
        }
        End::Dropped => panic!("{what}: dropped without a close frame, expected {code}"),
    }
}

/// A frame `{op, d}` encoded as the given encoding would put it on the wire.
fn encoded(enc: Enc, v: &Value) -> WsMessage {
    match enc {
        Enc::Json => WsMessage::Text(v.to_string()),
        Enc::MsgPack => WsMessage::Binary(rmp_serde::to_vec_named(v).unwrap()),
    }
}

/// Connect with a raw query string where the server is expected to refuse
/// (no HELLO): return how the connection ended.
async fn refused(s: &Server, query: &str) -> End {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/gateway{query}", s.addr)).await.expect("ws connect");
    match tokio::time::timeout(WAIT, ws.next()).await {
        Err(_) => panic!("{query}: connection not closed in time"),
        Ok(None) | Ok(Some(Err(_))) => End::Dropped,
        Ok(Some(Ok(WsMessage::Close(Some(cf))))) => End::Closed(u16::from(cf.code), cf.reason.to_string()),
        Ok(Some(Ok(WsMessage::Close(None)))) => End::Closed(1005, String::new()),
        Ok(Some(Ok(m))) => panic!("{query}: expected a close, got {m:?}"),
    }
}

/// Assert an error body is `{code, message}` with the given code.
fn assert_error(st: u16, body: &Value, status: u16, code: &str, what: &str) {
    assert_eq!(st, status, "{what}: {body}");
    assert_eq!(body["code"], code, "{what}: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: error without a message: {body}");
}

/// A REST request with a raw body and an explicit Content-Type.
async fn raw(
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let client = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = client.request(m, s.api(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        r = r.header("Content-Type", ct);
    }
    let resp = r.body(body).send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, v)
}

/// A REST request with a header set to an arbitrary value.
async fn with_header(s: &Server, path: &str, name: &str, value: &str) -> (u16, Value) {
    let client = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    let resp = client.get(s.api(path)).header(name, value).send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn nested_json_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn nested_msgpack_arrays(depth: usize) -> Vec<u8> {
    // fixarray of one element, `depth` times, around an empty fixarray.
    let mut v = vec![0x91; depth];
    v.push(0x90);
    v
}

/// MessagePack fixstr.
fn mp_str(s: &str) -> Vec<u8> {
    assert!(s.len() < 32);
    let mut v = vec![0xa0 | s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

// ---------------------------------------------------------------------------
// Gateway: fatal input closes only the offending connection.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_garbage_closes_only_the_sender_with_a_clear_code() {
    let s = Server::start().await;
    let mut chat = Chat::start(&s).await;
    let carol = s.user("carol").await;
    use Enc::{Json, MsgPack};

    // Not MessagePack at all: 0xc1 is a marker MessagePack never uses.
    let garbage = vec![0xc1, 0x9f, 0x03, 0xee, 0x51, 0x00, 0xff, 0x7a, 0x12, 0xc1];
    closes_with(&s, MsgPack, WsMessage::Binary(garbage), 4002, "random bytes").await;
    // Valid MessagePack, but a bare integer instead of a {op, d} map.
    closes_with(&s, MsgPack, WsMessage::Binary(vec![0x05]), 4002, "msgpack int").await;
    chat.still_served("random MessagePack bytes").await;

    for (text, what) in [
        (r#"{"op":"#, "truncated JSON"),
        ("not json at all", "plain text"),
        ("", "empty text frame"),
        ("[1,2,3]", "JSON array"),
        ("12", "JSON number"),
        ("null", "JSON null"),
        (r#"{"op":"1","d":null}"#, "op as a string"),
        (r#"{"op":1.5,"d":null}"#, "op as a float"),
        (r#"{"op":-1,"d":null}"#, "negative op"),
        (r#"{"d":null}"#, "no op"),
    ] {
        closes_with(&s, Json, WsMessage::Text(text.into()), 4002, what).await;
    }
    chat.still_served("invalid JSON").await;

    // The wrong frame type for the connection's encoding.
    let hb = json!({"op": 1, "d": null});
    closes_with(&s, MsgPack, WsMessage::Text(hb.to_string()), 4002, "text on msgpack").await;
    let hb_mp = rmp_serde::to_vec_named(&hb).unwrap();
    closes_with(&s, Json, WsMessage::Binary(hb_mp.clone()), 4002, "binary on JSON").await;
    // ... also once identified: Carol's session is closed, not just a fresh socket.
    let (mut c, _) = Gw::identify(&s, &carol, Json).await;
    c.send_raw(WsMessage::Binary(hb_mp)).await;
    c.expect_close(4002).await;
    chat.still_served("wrong frame types").await;

    // A text frame that is not UTF-8: the server closes with 4002 and serves nothing more.
    let mut gw = Gw::connect(&s, Json).await;
    let bad_utf8 = b"{\"op\":1,\"d\":\"\xff\xfe\xc3\x28\"}".to_vec();
    gw.send_raw(WsMessage::Frame(WsFrame::message(bad_utf8, OpCode::Data(Data::Text), true))).await;
    gw.expect_close(4002).await;
    // (The server ends the TCP connection shortly after its close frame.)
    gw.send_raw(WsMessage::Text(hb.to_string())).await;
    let after = gw.next_within(WAIT).await;
    assert!(matches!(after, Ok(None)), "a connection closed for invalid UTF-8 must not be served: {after:?}");
    chat.still_served("invalid UTF-8").await;

    // Frames larger than MAX_FRAME_BYTES (64 KiB), in both encodings.
    let big = json!({"op": 1, "d": "x".repeat(70 * 1024)});
    closes_with(&s, Json, encoded(Json, &big), 4020, "70 KiB JSON").await;
    closes_with(&s, MsgPack, encoded(MsgPack, &big), 4020, "70 KiB msgpack").await;
    // Just under the limit is fine: a heartbeat with a 60 KiB d is acknowledged.
    let mut gw = Gw::connect(&s, Json).await;
    gw.send(1, json!("y".repeat(60 * 1024))).await;
    gw.op(11).await;
    chat.still_served("oversized frames").await;

    // Ops that do not exist, or that only the server sends.
    for op in [99u64, 5, 300, 10, 0, 11, 41, 43] {
        for enc in [Json, MsgPack] {
            let f = json!({"op": op, "d": null});
            closes_with(&s, enc, encoded(enc, &f), 4001, &format!("op {op}")).await;
        }
    }
    chat.still_served("unknown ops").await;

    // Commands before IDENTIFY.
    for (op, d) in [
        (40, json!({"channel_id": chat.channel.to_string(), "content": "sneaky"})),
        (3, json!({"status": "idle"})),
        (42, json!({"channel_id": chat.channel.to_string()})),
    ] {
        let f = json!({"op": op, "d": d});
        closes_with(&s, Json, encoded(Json, &f), 4003, &format!("op {op} first")).await;
    }
    // Heartbeats are allowed before IDENTIFY.
    let mut gw = Gw::connect(&s, MsgPack).await;
    gw.send(1, json!(null)).await;
    gw.op(11).await;
    chat.still_served("commands before IDENTIFY").await;

    // IDENTIFY with a bad token, a malformed payload, and twice.
    for token in ["not-a-token", "", &format!("{}x", carol.token)] {
        let f = json!({"op": 2, "d": {"token": token}});
        closes_with(&s, MsgPack, encoded(MsgPack, &f), 4004, "bad token").await;
    }
    let mut gw = Gw::connect(&s, Json).await;
    gw.send(2, json!({"token": 12345})).await;
    let err = gw.op(43).await;
    assert_eq!(err["code"], "invalid_body", "{err}");
    assert_eq!(err["op"], 2);
    gw.expect_close(4002).await;
    let (mut c, _) = Gw::identify(&s, &carol, MsgPack).await;
    c.send(2, json!({"token": carol.token})).await;
    c.expect_close(4005).await;
    chat.still_served("bad IDENTIFYs").await;

    // Bad version or encoding in the query string: closed at once, no HELLO.
    for (q, code) in [
        ("?v=2&encoding=json", 4012),
        ("?v=0", 4012),
        ("?v=abc", 4012),
        ("?v=1&encoding=xml", 4023),
        ("?encoding=", 4023),
    ] {
        match refused(&s, q).await {
            End::Closed(c, reason) => assert_eq!(c, code, "{q}: {reason}"),
            End::Dropped => panic!("{q}: dropped without a close frame"),
        }
    }
    // No query at all means v=1 and MessagePack.
    let mut gw = Gw::connect_raw(&s, "", MsgPack).await;
    assert!(gw.hello.d["heartbeat_interval"].as_u64().unwrap() > 0);
    gw.send(1, json!(null)).await;
    gw.op(11).await;
    chat.still_served("bad query strings").await;

    // Deeply nested input: closed with 4002 quickly, no stack overflow.
    let started = Instant::now();
    closes_with(&s, Json, WsMessage::Text(nested_json_arrays(10_000)), 4002, "10k nested JSON arrays").await;
    closes_with(&s, MsgPack, WsMessage::Binary(nested_msgpack_arrays(10_000)), 4002, "10k nested msgpack arrays").await;
    // (Deep nesting inside `d` in MessagePack has its own test below.)
    // JSON skips an unused nested `d` without recursing: the heartbeat is simply acknowledged.
    let mut gw = Gw::connect(&s, Json).await;
    gw.send_raw(WsMessage::Text(format!(r#"{{"op":1,"d":{}}}"#, nested_json_arrays(30_000)))).await;
    gw.op(11).await;
    // Deep nesting where SEND_MESSAGE needs a string is an ordinary invalid body.
    let (mut c, _) = Gw::identify(&s, &carol, Json).await;
    c.send_raw(WsMessage::Text(format!(
        r#"{{"op":40,"d":{{"channel_id":"1","content":{},"nonce":"deep"}}}}"#,
        nested_json_arrays(30_000)
    )))
    .await;
    assert_eq!(c.op(43).await["code"], "invalid_body");
    assert!(started.elapsed() < Duration::from_secs(5), "deep nesting took {:?}", started.elapsed());
    chat.still_served("deep nesting").await;

    // MessagePack headers declaring huge lengths: refused at once, nothing allocated.
    let started = Instant::now();
    let mut array32 = vec![0xdd, 0xff, 0xff, 0xff, 0xff];
    array32.extend([0x01, 0x02]);
    let mut map32 = vec![0xdf, 0xff, 0xff, 0xff, 0xff];
    map32.extend(mp_str("op"));
    map32.push(0x01);
    let mut str32 = vec![0x82];
    str32.extend(mp_str("op"));
    str32.push(0x01);
    str32.extend(mp_str("d"));
    str32.extend([0xdb, 0xff, 0xff, 0xff, 0xff]);
    str32.extend(b"tiny");
    let mut bin32 = vec![0x82];
    bin32.extend(mp_str("op"));
    bin32.push(0x28);
    bin32.extend(mp_str("d"));
    bin32.extend([0x81]);
    bin32.extend(mp_str("content"));
    bin32.extend([0xc6, 0xff, 0xff, 0xff, 0xf0, 0x00]);
    for (bytes, what) in [
        (array32, "array32 of 4G elements"),
        (map32, "map32 of 4G entries"),
        (str32, "str32 of 4 GB"),
        (bin32, "bin32 of 4 GB"),
    ] {
        closes_with(&s, MsgPack, WsMessage::Binary(bytes), 4002, what).await;
    }
    assert!(started.elapsed() < Duration::from_secs(5), "huge declared lengths took {:?}", started.elapsed());
    chat.still_served("huge declared lengths").await;

    // Carol is not a member of the guild: she cannot read it, even while garbage flies.
    let (st, v) = carol.get(&s, &format!("/channels/{}/messages", chat.channel)).await;
    assert_error(st, &v, 404, "unknown_channel", "carol reads history");
    chat.history_is_exactly_what_was_sent(&s).await;
    assert!(!s.logged_panic(), "the server panicked");
}

// ---------------------------------------------------------------------------
// Gateway: bad commands get an ERROR frame and the connection stays usable.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_bad_commands_get_error_frames_and_the_connection_stays() {
    let s = Server::start().await;
    let mut chat = Chat::start(&s).await;
    let ch = chat.channel;

    // Malformed SEND_MESSAGE payloads, on both of the chatting connections.
    for enc in [Enc::MsgPack, Enc::Json] {
        let cid = match enc {
            Enc::Json => json!(ch.to_string()),
            Enc::MsgPack => json!(ch),
        };
        for (d, what) in [
            (json!({"channel_id": cid, "content": 12345}), "content as a number"),
            (json!({"channel_id": "abc", "content": "hi"}), "channel_id \"abc\""),
            (json!({"channel_id": -5, "content": "hi"}), "negative channel_id"),
            (json!({"channel_id": cid}), "no content"),
            (json!({"content": "hi"}), "no channel_id"),
            (json!("just a string"), "d is a string"),
            (json!(null), "d is null"),
            (json!({"channel_id": cid, "content": "hi", "nonce": 7}), "nonce as a number"),
        ] {
            let gw = if enc == Enc::MsgPack { &mut chat.a } else { &mut chat.b };
            gw.send(40, d).await;
            let err = gw.op(43).await;
            assert_eq!(err["code"], "invalid_body", "{enc:?} {what}: {err}");
            assert_eq!(err["op"], 40, "{enc:?} {what}: {err}");
            assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
            // The connection is still usable.
            gw.send(1, json!(null)).await;
            gw.op(11).await;
        }
    }
    chat.still_served("malformed SEND_MESSAGE").await;

    // Content out of bounds and overlong nonces: invalid_body, the nonce echoed back.
    let long = "é".repeat(4001);
    let long_nonce = "n".repeat(65);
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!(""), "empty-1", "empty content"),
        (json!("   \n\t  "), "blank-1", "whitespace content"),
        (json!(long), "long-1", "4001 characters"),
    ];
    for (content, nonce, what) in cases {
        chat.b.send(40, json!({"channel_id": ch.to_string(), "content": content, "nonce": nonce})).await;
        let err = chat.b.op(43).await;
        assert_eq!(err["code"], "invalid_body", "{what}: {err}");
        assert_eq!(err["nonce"], nonce, "{what}: {err}");
    }
    chat.a.send(40, json!({"channel_id": ch, "content": "ok", "nonce": long_nonce})).await;
    let err = chat.a.op(43).await;
    assert_eq!(err["code"], "invalid_body", "65-byte nonce: {err}");
    // Exactly 4000 characters (after trimming) is accepted.
    let max = format!("  {}  ", "é".repeat(4000));
    let acked = chat.a.say(ch, &max, "max-1").await;
    assert_eq!(acked["content"].as_str().unwrap().chars().count(), 4000);
    let got = chat.b.dispatch_where("MESSAGE_CREATE", |d| d["nonce"] == "max-1").await;
    assert_eq!(id(&got["id"]), id(&acked["id"]));
    chat.sent.push("é".repeat(4000));
    chat.still_served("out-of-range content").await;

    // Unknown channels (and typing in them) are unknown_channel.
    chat.a.send(40, json!({"channel_id": 123_456_789u64, "content": "anyone?", "nonce": "lost-1"})).await;
    let err = chat.a.op(43).await;
    assert_eq!(err["code"], "unknown_channel", "{err}");
    assert_eq!(err["nonce"], "lost-1");
    chat.b.send(42, json!({"channel_id": "123456789"})).await;
    let err = chat.b.op(43).await;
    assert_eq!(err["code"], "unknown_channel", "{err}");
    assert_eq!(err["op"], 42);
    chat.still_served("unknown channels").await;

    // Other bad payloads that are not fatal either.
    chat.b.send(3, json!({"status": "sleeping"})).await;
    assert_eq!(chat.b.op(43).await["code"], "invalid_body");
    chat.b.send(8, json!({"guild_id": "nope"})).await;
    assert_eq!(chat.b.op(43).await["code"], "invalid_body");
    chat.b.send(8, json!({"guild_id": "987654321", "nonce": "g"})).await;
    let err = chat.b.op(43).await;
    assert_eq!(err["code"], "unknown_guild", "{err}");
    chat.still_served("bad presence and member requests").await;

    // A fragmented message that reassembles into a valid SEND_MESSAGE is accepted.
    let cmd = json!({"op": 40, "d": {"channel_id": ch.to_string(), "content": "in three pieces", "nonce": "frag-1"}})
        .to_string()
        .into_bytes();
    let (p1, rest) = cmd.split_at(10);
    let (p2, p3) = rest.split_at(20);
    chat.b.send_raw(WsMessage::Frame(WsFrame::message(p1.to_vec(), OpCode::Data(Data::Text), false))).await;
    chat.b.send_raw(WsMessage::Frame(WsFrame::message(p2.to_vec(), OpCode::Data(Data::Continue), false))).await;
    chat.b.send_raw(WsMessage::Frame(WsFrame::message(p3.to_vec(), OpCode::Data(Data::Continue), true))).await;
    let ack = chat.b.op(41).await;
    assert_eq!(ack["nonce"], "frag-1");
    assert_eq!(ack["message"]["content"], "in three pieces");
    let got = chat.a.dispatch_where("MESSAGE_CREATE", |d| d["nonce"] == "frag-1").await;
    assert_eq!(got["content"], "in three pieces");
    chat.sent.push("in three pieces".into());
    // MessagePack, fragmented in two binary pieces, too.
    let cmd = rmp_serde::to_vec_named(
        &json!({"op": 40, "d": {"channel_id": ch, "content": "binary pieces", "nonce": "frag-2"}}),
    )
    .unwrap();
    let (p1, p2) = cmd.split_at(7);
    chat.a.send_raw(WsMessage::Frame(WsFrame::message(p1.to_vec(), OpCode::Data(Data::Binary), false))).await;
    chat.a.send_raw(WsMessage::Frame(WsFrame::message(p2.to_vec(), OpCode::Data(Data::Continue), true))).await;
    let ack = chat.a.op(41).await;
    assert_eq!(ack["nonce"], "frag-2");
    chat.b.dispatch_where("MESSAGE_CREATE", |d| d["nonce"] == "frag-2").await;
    chat.sent.push("binary pieces".into());
    chat.still_served("fragmented messages").await;

    // Fragments that add up to more than 64 KiB close with 4020, each fragment being small.
    let mut gw = Gw::connect(&s, Enc::Json).await;
    let chunk = vec![b' '; 40 * 1024];
    gw.send_raw(WsMessage::Frame(WsFrame::message(chunk.clone(), OpCode::Data(Data::Text), false))).await;
    gw.send_raw(WsMessage::Frame(WsFrame::message(chunk, OpCode::Data(Data::Continue), true))).await;
    gw.expect_close(4020).await;
    // A continuation with no message to continue is a protocol error.
    let mut gw = Gw::connect(&s, Enc::Json).await;
    gw.send_raw(WsMessage::Frame(WsFrame::message(b"{}".to_vec(), OpCode::Data(Data::Continue), true))).await;
    gw.expect_close(4002).await;
    // Invalid UTF-8 split across fragments is caught once reassembled.
    let mut gw = Gw::connect(&s, Enc::Json).await;
    gw.send_raw(WsMessage::Frame(WsFrame::message(
        b"{\"op\":1,\"d\":\"\xc3".to_vec(),
        OpCode::Data(Data::Text),
        false,
    )))
    .await;
    gw.send_raw(WsMessage::Frame(WsFrame::message(b"\x28\"}".to_vec(), OpCode::Data(Data::Continue), true))).await;
    gw.expect_close(4002).await;
    chat.still_served("bad fragments").await;

    // Nothing was lost, and no bad command produced a message.
    chat.history_is_exactly_what_was_sent(&s).await;
    assert!(!s.logged_panic(), "the server panicked");
}

// ---------------------------------------------------------------------------
// REST: every bad request gets {code, message}; nothing is created.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_bad_requests_get_json_errors_and_change_nothing() {
    let s = Server::start().await;
    let mut chat = Chat::start(&s).await;
    let ch = chat.channel;
    // Carol, a member too, is the REST client sending bad requests.
    let carol = s.user("carol").await;
    let code = chat.alice.invite(&s, ch, json!({})).await;
    carol.join(&s, &code).await;
    let msgs = format!("/channels/{ch}/messages");
    let tok = Some(carol.token.as_str());

    // Bodies that do not parse, or have the wrong shape.
    for (body, what) in [
        (&b"{\"content\":"[..], "truncated JSON"),
        (b"content=hi", "form data"),
        (b"{\"content\": 5}", "content as a number"),
        (b"{\"content\": null}", "content null"),
        (b"{\"nonce\": \"x\"}", "no content"),
        (b"{\"content\": \"hi\", \"nonce\": 5}", "nonce as a number"),
    ] {
        let (st, v) = raw(&s, "POST", &msgs, tok, Some("application/json"), body.to_vec()).await;
        assert_error(st, &v, 400, "invalid_body", what);
    }
    // Content and nonce out of range.
    for (body, what) in [
        (json!({"content": ""}), "empty content"),
        (json!({"content": "  \n "}), "blank content"),
        (json!({"content": "x".repeat(4001)}), "4001 characters"),
        (json!({"content": "hi", "nonce": "n".repeat(65)}), "65-byte nonce"),
    ] {
        let (st, v) = carol.post(&s, &msgs, body).await;
        assert_error(st, &v, 400, "invalid_body", what);
    }
    // A wrong field type elsewhere: guild name as an object.
    let (st, v) = carol.post(&s, "/guilds", json!({"name": {"x": 1}})).await;
    assert_error(st, &v, 400, "invalid_body", "guild name as an object");
    chat.still_served("malformed REST bodies").await;

    // Unknown or malformed ids.
    let (st, v) = carol.get(&s, "/guilds/123456789").await;
    assert_error(st, &v, 404, "unknown_guild", "unknown guild");
    let (st, v) = carol.get(&s, "/channels/123456789").await;
    assert_error(st, &v, 404, "unknown_channel", "unknown channel");
    let (st, v) = carol.post(&s, "/channels/123456789/messages", json!({"content": "hi"})).await;
    assert_error(st, &v, 404, "unknown_channel", "send to unknown channel");
    let (st, v) = carol.get(&s, "/users/123456789").await;
    assert_error(st, &v, 404, "unknown_user", "unknown user");
    for path in [
        "/guilds/abc",
        "/channels/abc/messages",
        "/channels/-1/messages",
        "/channels/99999999999999999999999/messages",
        "/users/abc",
    ] {
        let (st, v) = carol.get(&s, path).await;
        assert_error(st, &v, 404, "not_found", path);
    }
    // Malformed query parameters.
    let (st, v) = carol.get(&s, &format!("{msgs}?limit=abc")).await;
    assert_error(st, &v, 400, "invalid_query", "limit=abc");
    let (st, v) = carol.get(&s, &format!("{msgs}?limit=1000")).await;
    assert_error(st, &v, 400, "invalid_query", "limit=1000");
    chat.still_served("unknown ids").await;

    // Too large, wrong Content-Type.
    let huge = json!({"content": "x".repeat(70 * 1024)}).to_string().into_bytes();
    let (st, v) = raw(&s, "POST", &msgs, tok, Some("application/json"), huge).await;
    assert_error(st, &v, 413, "payload_too_large", "70 KiB body");
    let (st, v) = raw(&s, "POST", &msgs, tok, Some("text/plain"), b"hello".to_vec()).await;
    assert_error(st, &v, 415, "unsupported_media_type", "text/plain");
    let (st, v) = raw(&s, "POST", &msgs, tok, Some("application/xml"), b"<content>hi</content>".to_vec()).await;
    assert_error(st, &v, 415, "unsupported_media_type", "application/xml");
    chat.still_served("oversized and mistyped bodies").await;

    // Missing or bad credentials.
    let (st, v) = req(&s, "GET", &msgs, None, None).await;
    assert_error(st, &v, 401, "unauthorized", "no Authorization");
    let (st, v) = req(&s, "POST", &msgs, None, Some(json!({"content": "hi"}))).await;
    assert_error(st, &v, 401, "unauthorized", "send without Authorization");
    let (st, v) = req(&s, "GET", &msgs, Some("garbage-token"), None).await;
    assert_error(st, &v, 401, "unauthorized", "garbage bearer token");
    for value in [format!("Basic {}", carol.token), carol.token.clone(), "Bearer ".into(), "Bearer".into()] {
        let (st, v) = with_header(&s, "/users/@me", "Authorization", &value).await;
        assert_error(st, &v, 401, "unauthorized", &value);
    }
    chat.still_served("bad credentials").await;

    // Unknown routes.
    for path in ["/nope", "/guilds/1/nope", "/users/@me/nope/deeper"] {
        let (st, v) = carol.get(&s, path).await;
        assert_error(st, &v, 404, "not_found", path);
    }
    let resp = reqwest::get(s.url("/definitely/not/here")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let v: Value = resp.json().await.expect("404 outside /api/v1 is JSON too");
    assert_eq!(v["code"], "not_found");
    chat.still_served("unknown routes").await;

    // MessagePack bodies are first-class: the message is created.
    let body = rmp_serde::to_vec_named(&json!({"content": "packed", "nonce": "mp-1"})).unwrap();
    let (st, m) = raw(&s, "POST", &msgs, tok, Some("application/msgpack"), body).await;
    assert_eq!(st, 201, "{m}");
    assert_eq!(m["content"], "packed");
    let got = chat.b.dispatch_where("MESSAGE_CREATE", |d| d["nonce"] == "mp-1").await;
    assert_eq!(got["content"], "packed");
    chat.sent.push("packed".into());
    // Malformed MessagePack is still invalid_body.
    let (st, v) = raw(&s, "POST", &msgs, tok, Some("application/msgpack"), vec![0xc1, 0x00]).await;
    assert_error(st, &v, 400, "invalid_body", "garbage MessagePack body");
    // A charset parameter on the JSON Content-Type is fine.
    let body = json!({"content": "with charset", "nonce": "cs-1"}).to_string().into_bytes();
    let (st, m) = raw(&s, "POST", &msgs, tok, Some("application/json; charset=utf-8"), body).await;
    assert_eq!(st, 201, "{m}");
    chat.b.dispatch_where("MESSAGE_CREATE", |d| d["nonce"] == "cs-1").await;
    chat.sent.push("with charset".into());
    chat.still_served("MessagePack bodies").await;

    chat.history_is_exactly_what_was_sent(&s).await;
    // And no guild was created by the bad guild request.
    let (_, guilds) = carol.get(&s, "/users/@me/guilds").await;
    assert_eq!(guilds.as_array().unwrap().len(), 1, "{guilds}");
    assert!(!s.logged_panic(), "the server panicked");
}

// ---------------------------------------------------------------------------
// Known server bugs: these assert the correct behaviour.
// ---------------------------------------------------------------------------

/// A close frame's reason must fit in a WebSocket control frame (125 bytes,
/// 2 of them the code), or the client sees a protocol error instead of the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_reasons_fit_in_a_websocket_close_frame() {
    let s = Server::start().await;
    let mut chat = Chat::start(&s).await;
    let long = "x".repeat(300);
    let cases: Vec<(Enc, WsMessage, &str)> = vec![
        (Enc::Json, WsMessage::Text(r#""hello""#.into()), "JSON string"),
        (Enc::Json, WsMessage::Text(json!({"op": long, "d": null}).to_string()), "long string op in JSON"),
        (Enc::MsgPack, encoded(Enc::MsgPack, &json!({"op": long, "d": null})), "long string op in MessagePack"),
        (Enc::Json, WsMessage::Text(json!({"op": "x".repeat(60 * 1024)}).to_string()), "60 KiB string op"),
    ];
    for (enc, m, what) in cases {
        closes_with(&s, enc, m, 4002, what).await;
        chat.still_served(what).await;
    }
    assert!(!s.logged_panic());
}

/// Deeply nested MessagePack (ignored by the decoder, so walked recursively)
/// must be refused, not overflow a worker's stack and abort the whole server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_messagepack_is_refused_without_crashing() {
    let s = Server::start().await;
    let mut chat = Chat::start(&s).await;

    // Gateway: {op: 1, d: [[[[...]]]]}, before IDENTIFY, 10k levels in ~10 KB.
    let mut deep_d = vec![0x82];
    deep_d.extend(mp_str("op"));
    deep_d.push(0x01);
    deep_d.extend(mp_str("d"));
    deep_d.extend(nested_msgpack_arrays(10_000));
    closes_with(&s, Enc::MsgPack, WsMessage::Binary(deep_d), 4002, "deep msgpack d").await;
    chat.still_served("deeply nested MessagePack on the gateway").await;

    // REST, unauthenticated: a registration with a deeply nested unknown field.
    let mut body = vec![0x83];
    body.extend(mp_str("username"));
    body.extend(mp_str("mallory"));
    body.extend(mp_str("password"));
    body.extend(mp_str("password123"));
    body.extend(mp_str("x"));
    body.extend(nested_msgpack_arrays(10_000));
    let (st, v) = raw(&s, "POST", "/auth/register", None, Some("application/msgpack"), body).await;
    assert_error(st, &v, 400, "invalid_body", "deeply nested MessagePack body");
    chat.still_served("deeply nested MessagePack over REST").await;
    assert!(!s.logged_panic());
}

/// The error table (src/errors.rs) promises 405 method_not_allowed for a
/// route that exists but does not support the method.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_on_a_known_route_is_method_not_allowed() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let (_, ch) = alice.guild(&s, "g").await;
    for (method, path) in [
        ("DELETE", "/auth/login".to_string()),
        ("PUT", format!("/channels/{ch}/messages")),
        ("GET", "/auth/logout".to_string()),
    ] {
        let (st, v) = req(&s, method, &path, Some(&alice.token), None).await;
        assert_error(st, &v, 405, "method_not_allowed", &format!("{method} {path}"));
    }
    // An unknown route stays 404 whatever the method.
    let (st, v) = req(&s, "DELETE", "/nope", Some(&alice.token), None).await;
    assert_error(st, &v, 404, "not_found", "DELETE /nope");
}
