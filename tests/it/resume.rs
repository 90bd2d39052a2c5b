//! Resume after a dropped connection, and catch-up after Invalid Session.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

/// Message numbers ("m{n}") of MESSAGE_CREATE frames, with the last seq seen.
fn note(frames: &[Frame], got: &mut Vec<u64>, last_seq: &mut u64) {
    for f in frames {
        if let Some(s) = f.s {
            assert!(s > *last_seq, "sequence went backwards: {s} after {last_seq}");
            *last_seq = s;
        }
        if f.t.as_deref() == Some("MESSAGE_CREATE") {
            got.push(f.d["content"].as_str().unwrap()[1..].parse().unwrap());
        }
    }
}

async fn spawn_sender(s: &Server, alice: &User, channel: u64, n: u64, pause: Duration) -> tokio::task::JoinHandle<()> {
    let (alice, api) = (alice.clone(), s.api(""));
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        for i in 0..n {
            let r = client
                .post(format!("{api}/channels/{channel}/messages"))
                .bearer_auth(&alice.token)
                .json(&json!({"content": format!("m{i}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            tokio::time::sleep(pause).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_resumes_with_every_message_once_in_order() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (gid, general) = alice.guild(&s, "g").await;
    bob.join(&s, &alice.invite(&s, general, json!({})).await).await;
    for enc in [Enc::Json, Enc::MsgPack] {
        let (mut b, ready) = Gw::identify(&s, &bob, enc).await;
        let session_id = ready["session_id"].as_str().unwrap().to_string();
        let total = 120;
        // Each round uses its own channel so message numbers start at 0.
        let (st, c) = alice.post(&s, &format!("/guilds/{gid}/channels"), json!({"name": "round"})).await;
        assert_eq!(st, 201);
        let channel = id(&c["id"]);
        let sender = spawn_sender(&s, &alice, channel, total, Duration::from_millis(5)).await;
        let (mut got, mut last_seq) = (Vec::new(), 1u64);
        // Read a while, then cut the TCP connection without a close frame.
        let frames = b.drain(Duration::from_millis(150)).await;
        note(&frames, &mut got, &mut last_seq);
        drop(b);
        tokio::time::sleep(Duration::from_millis(200)).await; // messages keep flowing meanwhile

        let mut b = Gw::connect(&s, enc).await;
        b.send(6, json!({"token": bob.token, "session_id": session_id, "seq": last_seq})).await;
        let mut resumed = false;
        while got.len() < total as usize {
            let f = b.next().await.expect("connection ended during resume");
            assert_ne!(f.op, 9, "resume refused");
            if f.t.as_deref() == Some("RESUMED") {
                resumed = true;
            }
            note(std::slice::from_ref(&f), &mut got, &mut last_seq);
        }
        sender.await.unwrap();
        assert!(resumed, "RESUMED was sent");
        assert_eq!(got, (0..total).collect::<Vec<_>>(), "every message exactly once, in order ({enc:?})");
        // A normal close ends the session.
        b.ws.close(None).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_edge_cases() {
    let mut s = Server::start_with(&["--resume-grace-secs", "1"]).await;
    let alice = s.user("alice").await;
    let (_, general) = alice.guild(&s, "g").await;
    let (a, ready) = Gw::identify(&s, &alice, Enc::Json).await;
    let session_id = ready["session_id"].as_str().unwrap().to_string();
    drop(a);

    // A seq the server never sent: 4007.
    let mut g = Gw::connect(&s, Enc::Json).await;
    g.send(6, json!({"token": alice.token, "session_id": session_id, "seq": 999})).await;
    g.expect_close(4007).await;
    // Another user's token, an unknown session id, the other encoding: INVALID_SESSION.
    let bob = s.user("bob").await;
    for (token, sid, enc) in [
        (&bob.token, session_id.as_str(), Enc::Json),
        (&alice.token, "nope", Enc::Json),
        (&alice.token, session_id.as_str(), Enc::MsgPack),
    ] {
        let mut g = Gw::connect(&s, enc).await;
        g.send(6, json!({"token": token, "session_id": sid, "seq": 1})).await;
        assert_eq!(g.op(9).await, json!(false));
        // The same connection may identify instead.
        g.send(2, json!({"token": alice.token})).await;
        g.dispatch("READY").await;
    }
    // Still resumable within the grace period...
    let mut g = Gw::connect(&s, Enc::Json).await;
    g.send(6, json!({"token": alice.token, "session_id": session_id, "seq": 1})).await;
    g.dispatch("RESUMED").await;
    alice.say(&s, general, "live again").await;
    assert_eq!(g.dispatch("MESSAGE_CREATE").await["content"], "live again");
    // ...but not after it: drop, wait past the grace, resume → INVALID_SESSION.
    drop(g);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let mut g = Gw::connect(&s, Enc::Json).await;
    g.send(6, json!({"token": alice.token, "session_id": session_id, "seq": 3})).await;
    assert_eq!(g.op(9).await, json!(false));
    // A restart loses every session: INVALID_SESSION too.
    let (a, ready) = Gw::identify(&s, &alice, Enc::Json).await;
    let sid = ready["session_id"].as_str().unwrap().to_string();
    drop(a);
    s.restart().await;
    let mut g = Gw::connect(&s, Enc::Json).await;
    g.send(6, json!({"token": alice.token, "session_id": sid, "seq": 1})).await;
    assert_eq!(g.op(9).await, json!(false));
}

/// After INVALID_SESSION the client identifies again and fills the gap from
/// history ("after" its last message id): still every message once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_session_then_history_catch_up() {
    let mut s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (_, general) = alice.guild(&s, "g").await;
    bob.join(&s, &alice.invite(&s, general, json!({})).await).await;
    let (mut b, _) = Gw::identify(&s, &bob, Enc::MsgPack).await;
    let mut seen: Vec<(u64, String)> = Vec::new();
    for i in 0..10 {
        alice.say(&s, general, &format!("before {i}")).await;
    }
    while seen.len() < 10 {
        let d = b.dispatch("MESSAGE_CREATE").await;
        seen.push((id(&d["id"]), d["content"].as_str().unwrap().to_string()));
    }
    // The server restarts (sessions are lost) while more messages are sent.
    drop(b);
    s.restart().await;
    for i in 0..15 {
        alice.say(&s, general, &format!("during {i}")).await;
    }
    let mut b = Gw::connect(&s, Enc::MsgPack).await;
    b.send(6, json!({"token": bob.token, "session_id": "whatever", "seq": 12})).await;
    assert_eq!(b.op(9).await, json!(false));
    b.send(2, json!({"token": bob.token})).await;
    b.dispatch("READY").await;
    // Catch up page by page from the last id seen.
    loop {
        let last = seen.last().unwrap().0;
        let (_, page) = bob.get(&s, &format!("/channels/{general}/messages?after={last}&limit=4")).await;
        let page: &Vec<Value> = page.as_array().unwrap();
        if page.is_empty() {
            break;
        }
        for m in page {
            seen.push((id(&m["id"]), m["content"].as_str().unwrap().to_string()));
        }
    }
    alice.say(&s, general, "live").await;
    let d = b.dispatch("MESSAGE_CREATE").await;
    seen.push((id(&d["id"]), d["content"].as_str().unwrap().to_string()));
    let contents: Vec<&str> = seen.iter().map(|(_, c)| c.as_str()).collect();
    let mut expected: Vec<String> = (0..10).map(|i| format!("before {i}")).collect();
    expected.extend((0..15).map(|i| format!("during {i}")));
    expected.push("live".into());
    assert_eq!(contents, expected);
}

/// Issue 11: a RESUME from before the seq the client acknowledged by
/// HEARTBEAT must not skip the dispatches in between. They were freed by the
/// acknowledgement, so the answer is INVALID_SESSION; a resume from the
/// acknowledged seq still works and loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_from_before_the_acknowledged_seq_is_refused_not_skipped() {
    let s = Server::start().await;
    let alice = s.user("alice").await;
    let (_, general) = alice.guild(&s, "g").await;
    for enc in [Enc::Json, Enc::MsgPack] {
        let (mut a, ready) = Gw::identify(&s, &alice, enc).await;
        let session_id = ready["session_id"].as_str().unwrap().to_string();
        // READY is s 1; then the eleven messages (and whatever else is dispatched).
        let mut last = 1;
        for i in 0..11 {
            alice.say(&s, general, &format!("m{i}")).await;
        }
        loop {
            let f = a.next().await.expect("dispatch");
            last = f.s.unwrap_or(last);
            if f.t.as_deref() == Some("MESSAGE_CREATE") && f.d["content"] == "m10" {
                break;
            }
        }
        assert!(last >= 12, "{last}");
        a.send(1, json!(last)).await;
        a.op(11).await;
        drop(a); // cut TCP, no close frame: the session stays resumable

        let mut g = Gw::connect(&s, enc).await;
        g.send(6, json!({"token": alice.token, "session_id": session_id, "seq": last - 5})).await;
        let f = g.next().await.expect("an answer to RESUME");
        assert_eq!((f.op, &f.d), (9, &json!(false)), "{enc:?}: s {}..{last} must not be skipped: {f:?}", last - 4);
        drop(g);

        let mut g = Gw::connect(&s, enc).await;
        g.send(6, json!({"token": alice.token, "session_id": session_id, "seq": last})).await;
        let f = g.next().await.expect("RESUMED");
        assert_eq!((f.t.as_deref(), f.s), (Some("RESUMED"), Some(last + 1)), "{enc:?}: {f:?}");
        alice.say(&s, general, "after").await;
        assert_eq!(g.dispatch("MESSAGE_CREATE").await["content"], "after");
        g.ws.close(None).await.unwrap();
    }
}
