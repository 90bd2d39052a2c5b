//! Data survives restarts; slow readers are cut off instead of slowing others.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_all_data() {
    let mut s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (gid, general) = alice.guild(&s, "Keep").await;
    let code = alice.invite(&s, general, json!({"max_uses": 5})).await;
    bob.join(&s, &code).await;
    let (_, role) =
        alice.post(&s, &format!("/guilds/{gid}/roles"), json!({"name": "regulars", "color": 0x336699})).await;
    let rid = id(&role["id"]);
    alice.put(&s, &format!("/guilds/{gid}/members/{}/roles/{rid}", bob.id), json!({})).await;
    let (_, cat) = alice.post(&s, &format!("/guilds/{gid}/channels"), json!({"name": "Cat", "kind": "category"})).await;
    let (_, topic) = alice
        .post(&s, &format!("/guilds/{gid}/channels"), json!({"name": "topic", "topic": "t", "parent_id": cat["id"]}))
        .await;
    let (_, dm) = alice.post(&s, "/users/@me/channels", json!({"recipient_id": bob.id.to_string()})).await;
    let dm_id = id(&dm["id"]);
    let (mut a, _) = Gw::identify(&s, &alice, Enc::MsgPack).await;
    let mut sent = Vec::new();
    for i in 0..25 {
        sent.push(id(&a.say(general, &format!("gw {i}"), &format!("n{i}")).await["id"]));
        sent.push(id(&bob.say(&s, general, &format!("rest {i}")).await["id"]));
    }
    bob.say(&s, dm_id, "private").await;
    drop(a);

    s.kill().await; // kill -9: no shutdown work at all
    s.restart().await;

    // Tokens, guild, roles, members, channels, invites, messages and DMs are all there.
    let (st, g) = bob.get(&s, &format!("/guilds/{gid}")).await;
    assert_eq!((st, g["name"].as_str()), (200, Some("Keep")));
    let (_, member) = alice.get(&s, &format!("/guilds/{gid}/members/{}", bob.id)).await;
    assert_eq!(id(&member["roles"][0]), rid);
    let (_, roles) = alice.get(&s, &format!("/guilds/{gid}/roles")).await;
    assert!(roles.as_array().unwrap().iter().any(|r| r["name"] == "regulars" && r["color"] == 0x336699));
    let (_, ch) = alice.get(&s, &format!("/channels/{}", id(&topic["id"]))).await;
    assert_eq!((ch["topic"].as_str(), id(&ch["parent_id"])), (Some("t"), id(&cat["id"])));
    let (_, invites) = alice.get(&s, &format!("/guilds/{gid}/invites")).await;
    assert_eq!(invites[0]["uses"], 1);
    let (_, hist) = alice.get(&s, &format!("/channels/{general}/messages?limit=100")).await;
    let got: Vec<u64> = hist.as_array().unwrap().iter().map(|m| id(&m["id"])).collect();
    assert_eq!(got, sent, "every acknowledged message, once, in order");
    let (_, dmh) = alice.get(&s, &format!("/channels/{dm_id}/messages")).await;
    assert_eq!(dmh[0]["content"], "private");
    let (st, again) = bob.post(&s, "/users/@me/channels", json!({"recipient_id": alice.id.to_string()})).await;
    assert_eq!((st, id(&again["id"])), (200, dm_id), "the same DM is found after restart");

    // The gateway works and new ids keep increasing past everything stored.
    let (mut a, ready) = Gw::identify(&s, &alice, Enc::Json).await;
    assert_eq!(id(&ready["guilds"][0]["guild"]["id"]), gid);
    assert!(ready["dm_channels"].as_array().unwrap().iter().any(|c| id(&c["id"]) == dm_id));
    let newer = id(&a.say(general, "after restart", "z").await["id"]);
    assert!(newer > *sent.iter().max().unwrap());

    // A graceful stop exits cleanly, and the data is still there afterwards.
    assert_eq!(s.terminate().await, Some(0));
    s.restart().await;
    let (_, hist) = alice.get(&s, &format!("/channels/{general}/messages?limit=1")).await;
    assert_eq!(id(&hist[0]["id"]), newer);
}

/// A reader that stops reading is closed with 4021 once its queue passes the
/// bound; the other readers keep receiving everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_is_closed_without_slowing_the_channel() {
    let s = Server::start_with(&["--max-outbound-bytes", "262144"]).await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let slow = s.user("slow").await;
    let (_, general) = alice.guild(&s, "Busy").await;
    let code = alice.invite(&s, general, json!({})).await;
    bob.join(&s, &code).await;
    slow.join(&s, &code).await;

    let mut stalled = Gw::connect_small_rcvbuf(&s, Enc::Json, 4096).await;
    stalled.send(2, json!({"token": slow.token})).await;
    stalled.dispatch("READY").await;
    let (mut b, _) = Gw::identify(&s, &bob, Enc::MsgPack).await;
    let (mut a, _) = Gw::identify(&s, &alice, Enc::MsgPack).await;
    // From here on `stalled` is never read until the end.
    let rss_before = s.rss_kib();
    let body = "x".repeat(3900);
    let total = 2500;
    let started = Instant::now();
    // Paced by acknowledgements: each message is durable before the next.
    // The acknowledgement time stamps each message for bob's latency.
    let sent_at = std::sync::Arc::new(std::sync::Mutex::new(vec![None; total]));
    let stamps = sent_at.clone();
    let sender = tokio::spawn(async move {
        for i in 0..total {
            a.say(general, &format!("{i} {body}"), &i.to_string()).await;
            stamps.lock().unwrap()[i] = Some(Instant::now());
            a.drain(Duration::ZERO).await;
        }
        a
    });
    let mut latencies = Vec::with_capacity(total);
    let mut peak_rss = rss_before;
    // Bob reads everything, in order, while the stalled reader holds nothing up.
    let mut next = 0;
    while next < total {
        let f = b.next().await.expect("bob's connection ended");
        if f.t.as_deref() == Some("MESSAGE_CREATE") {
            let n: usize = f.d["content"].as_str().unwrap().split(' ').next().unwrap().parse().unwrap();
            assert_eq!(n, next, "bob gets every message once, in order");
            // Received before or just after the ack: count from the ack (or 0).
            if let Some(t) = sent_at.lock().unwrap()[n] {
                latencies.push(t.elapsed());
            } else {
                latencies.push(Duration::ZERO);
            }
            next += 1;
            if next % 250 == 0 {
                peak_rss = peak_rss.max(s.rss_kib());
            }
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    let growth = peak_rss.saturating_sub(rss_before);
    eprintln!(
        "bob's delivery after ack: p50 {:?} p99 {p99:?}; server RSS {rss_before} KiB → peak {peak_rss} KiB",
        latencies[latencies.len() / 2]
    );
    assert!(p99 < Duration::from_millis(250), "a stalled reader slowed the others: p99 {p99:?}");
    // 10 MB of messages went through. What may stay: each session's replay
    // buffer (MAX_REPLAY_BYTES = 8 MiB of shared payloads, kept in both
    // encodings because one reader is JSON — these test clients never ack
    // with heartbeats), the stalled reader's 256 KiB outbound bound, the
    // database page cache, and allocator slack. Without the bounds this
    // would grow with every message.
    assert!(growth < 72 * 1024, "server memory grew by {growth} KiB");
    let _a = sender.await.unwrap();
    assert!(s.metric("hearth_slow_reader_disconnects_total").await >= 1.0, "the stalled reader was detected");
    // Once it reads again it finds a 4021 close after what was already queued.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut received = 0;
    loop {
        assert!(Instant::now() < deadline, "stalled reader was never closed");
        match stalled.ws.next_frame().await {
            Some(WsMessage::Close(Some(cf))) => {
                assert_eq!(u16::from(cf.code), 4021, "{}", cf.reason);
                break;
            }
            Some(_) => received += 1,
            None => panic!("dropped without a close frame after {received} frames"),
        }
    }
    assert!(received < total, "it did not get everything: it was cut off ({received} of {total})");
    eprintln!("bob received {total} messages in {elapsed:?}; stalled reader got {received} before 4021");
    assert!(!s.logged_panic());
}

/// SIGTERM: sessions are told to reconnect, acknowledged writes are kept, the
/// process exits 0 promptly, and clients catch up after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_tells_clients_and_keeps_every_acknowledged_write() {
    let mut s = Server::start().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (_, general) = alice.guild(&s, "g").await;
    bob.join(&s, &alice.invite(&s, general, json!({})).await).await;
    let (mut b, _) = Gw::identify(&s, &bob, Enc::Json).await;
    // A steady writer: records what was acknowledged before the server went away.
    let (api, token) = (s.api(""), alice.token.clone());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = count.clone();
    let writer = tokio::spawn(async move {
        let client = crate::support::http::client();
        let mut acked = Vec::new();
        for i in 0..100_000 {
            let r = client
                .post(format!("{api}/channels/{general}/messages"))
                .bearer_auth(&token)
                .json(&json!({"content": format!("w{i}")}))
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 201 => {
                    acked.push(format!("w{i}"));
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                _ => break, // the server is gone
            }
        }
        acked
    });
    // Writes in flight when SIGTERM arrives: the writer is under way.
    eventually(WAIT, "the writer under way", || count.load(std::sync::atomic::Ordering::Relaxed) >= 10).await;
    let mut seen = Vec::new();
    let stopping = Instant::now();
    let code = tokio::spawn(async move { s.terminate().await.map(|c| (c, s)) });
    // Bob gets RECONNECT (op 7), then close 4024.
    let mut reconnect = false;
    loop {
        match b.next_within(WAIT).await {
            Ok(Some(f)) if f.op == 7 => {
                reconnect = true;
                break;
            }
            Ok(Some(f)) => {
                if f.t.as_deref() == Some("MESSAGE_CREATE") {
                    seen.push(f.d["content"].as_str().unwrap().to_string());
                }
            }
            Ok(None) => break,
            Err(()) => panic!("no shutdown notice"),
        }
    }
    assert!(reconnect, "RECONNECT before the close");
    b.expect_close(4024).await;
    let (exit, mut s) = code.await.unwrap().expect("server did not exit in time");
    assert_eq!(exit, 0);
    assert!(stopping.elapsed() < Duration::from_secs(10), "took {:?}", stopping.elapsed());
    let acked = writer.await.unwrap();
    assert!(!acked.is_empty());

    s.restart().await;
    let (_, mut hist) = alice.get(&s, &format!("/channels/{general}/messages?limit=100&after=0")).await;
    let mut stored: Vec<String> = Vec::new();
    loop {
        let page = hist.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        let last = id(&page.last().unwrap()["id"]);
        stored.extend(page.iter().map(|m| m["content"].as_str().unwrap().to_string()));
        hist = alice.get(&s, &format!("/channels/{general}/messages?limit=100&after={last}")).await.1;
    }
    for a in &acked {
        assert_eq!(stored.iter().filter(|c| *c == a).count(), 1, "{a} acknowledged but not stored once");
    }
    assert!(seen.iter().all(|c| stored.contains(c)));
    eprintln!("{} acknowledged, {} stored, bob saw {} live", acked.len(), stored.len(), seen.len());
}

/// A reader that never reads again is freed by the kernel (TCP_USER_TIMEOUT),
/// even though its session actor can no longer run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_never_reads_again_is_freed() {
    let s = Server::start_with(&["--max-outbound-bytes", "262144", "--tcp-user-timeout-secs", "2"]).await;
    let alice = s.user("alice").await;
    let slow = s.user("slow").await;
    let (_, general) = alice.guild(&s, "Busy").await;
    slow.join(&s, &alice.invite(&s, general, json!({})).await).await;
    let mut stalled = Gw::connect_small_rcvbuf(&s, Enc::Json, 4096).await;
    stalled.send(2, json!({"token": slow.token})).await;
    stalled.dispatch("READY").await;
    let (mut a, _) = Gw::identify(&s, &alice, Enc::MsgPack).await;
    let body = "x".repeat(3900);
    // Fill its socket and queue until the server gives up on it: either the
    // outbound bound trips (4021 queued behind the stuck data) or, on a slow
    // machine, the user timeout already fired.
    let mut i = 0;
    while s.metric("hearth_slow_reader_disconnects_total").await < 1.0
        && s.metric("hearth_gateway_connections").await > 1.0
    {
        for _ in 0..100 {
            a.say(general, &format!("{i} {body}"), &i.to_string()).await;
            i += 1;
        }
        assert!(i < 20_000, "never detected as slow");
    }
    // Within the user timeout (+ retransmission slack) the connection is gone.
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.metric("hearth_gateway_connections").await > 1.0 {
        assert!(Instant::now() < deadline, "the stalled connection was never freed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(stalled);
}
