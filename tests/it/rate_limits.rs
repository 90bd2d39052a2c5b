//! Rate limits with their documented numbers (server started at scale 1).

use std::time::Duration;

use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_sends_per_channel_and_slow_mode() {
    let s = Server::start_with(&["--rate-limit-scale", "1"]).await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (gid, general) = alice.guild(&s, "g").await;
    bob.join(&s, &alice.invite(&s, general, json!({})).await).await;
    // MESSAGE_SENDS: 5 at once, then 429 with Retry-After; other channels are separate.
    for i in 0..5 {
        bob.say(&s, general, &format!("burst {i}")).await;
    }
    let r = reqwest::Client::new()
        .post(s.api(&format!("/channels/{general}/messages")))
        .bearer_auth(&bob.token)
        .json(&json!({"content": "one too many"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    let retry = body["retry_after_ms"].as_u64().unwrap();
    assert!(retry > 0 && retry <= 1000);
    tokio::time::sleep(Duration::from_millis(retry + 50)).await;
    bob.say(&s, general, "after waiting").await;
    // Over the gateway the same limit answers an ERROR frame with retry_after_ms.
    let (mut b, _) = Gw::identify(&s, &bob, Enc::Json).await;
    b.send(40, json!({"channel_id": general.to_string(), "content": "x", "nonce": "g"})).await;
    let e = b.op(43).await;
    assert_eq!((e["code"].as_str(), e["nonce"].as_str()), (Some("rate_limited"), Some("g")));
    assert!(e["retry_after_ms"].as_u64().is_some());

    // Slow mode: 1 s per member; the owner (manage_messages) is exempt.
    let (st, c) =
        alice.post(&s, &format!("/guilds/{gid}/channels"), json!({"name": "slow", "rate_limit_per_user": 1})).await;
    assert_eq!(st, 201);
    let slow = id(&c["id"]);
    assert_eq!(c["rate_limit_per_user"], 1);
    bob.say(&s, slow, "first").await;
    let (st, e) = bob.post(&s, &format!("/channels/{slow}/messages"), json!({"content": "second"})).await;
    assert_eq!((st, e["code"].as_str()), (429, Some("rate_limited")));
    assert!(e["message"].as_str().unwrap().contains("slow mode"));
    let retry = e["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!(retry > 0 && retry <= 1000, "{e}");
    for i in 0..3 {
        alice.say(&s, slow, &format!("owner {i}")).await;
    }
    // Bob may send again once the wait the server named is over.
    tokio::time::sleep(Duration::from_millis(retry)).await;
    let body = json!({"content": "second, later"});
    let st = eventually_async(WAIT, "slow mode letting bob send", || async {
        let (st, e) = bob.post(&s, &format!("/channels/{slow}/messages"), body.clone()).await;
        match (st, e["retry_after_ms"].as_u64()) {
            (429, Some(ms)) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                None
            }
            _ => Some(st),
        }
    })
    .await;
    assert_eq!(st, 201);
    let (st, _) = alice.patch(&s, &format!("/channels/{slow}"), json!({"rate_limit_per_user": 21601})).await;
    assert_eq!(st, 400);
    let (st, c) = alice.patch(&s, &format!("/channels/{slow}"), json!({"rate_limit_per_user": 0})).await;
    assert_eq!((st, c["rate_limit_per_user"].as_u64()), (200, Some(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_commands_are_limited_then_the_connection_closed_on_abuse() {
    let s = Server::start_with(&["--rate-limit-scale", "1"]).await;
    let alice = s.user("alice").await;
    let (mut a, _) = Gw::identify(&s, &alice, Enc::MsgPack).await;
    // GATEWAY_COMMANDS: 120 per 60 s. IDENTIFY was one; 119 heartbeats pass.
    for _ in 0..119 {
        a.send(1, json!(null)).await;
    }
    let mut acks = 0;
    while acks < 119 {
        let f = a.next().await.expect("connection ended early");
        if f.op == 11 {
            acks += 1;
        }
    }
    // Over the limit: ERROR frames, and after GATEWAY_STRIKES of them in a row, 4008.
    a.send(1, json!(null)).await;
    let e = a.op(43).await;
    assert_eq!(e["code"], "rate_limited");
    for _ in 0..9 {
        a.send(1, json!(null)).await;
    }
    a.expect_close(4008).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_identify_and_rest_limits() {
    let s = Server::start_with(&["--rate-limit-scale", "1"]).await;
    let alice = s.user("alice").await;
    // LOGIN_PER_ACCOUNT: 5 attempts at once (one was used by s.user).
    for _ in 0..4 {
        let (st, _) =
            req(&s, "POST", "/auth/login", None, Some(json!({"username": "alice", "password": "wrong-password"})))
                .await;
        assert_eq!(st, 401);
    }
    let (st, e) =
        req(&s, "POST", "/auth/login", None, Some(json!({"username": "alice", "password": "password123"}))).await;
    assert_eq!((st, e["code"].as_str()), (429, Some("rate_limited")), "even the right password waits");
    // IDENTIFY_PER_IP: 20 at once from one address, then 4008.
    for _ in 0..20 {
        let (g, _) = Gw::identify(&s, &alice, Enc::Json).await;
        drop(g);
    }
    let mut g = Gw::connect(&s, Enc::Json).await;
    g.send(2, json!({"token": alice.token})).await;
    assert_eq!(g.op(43).await["code"], "rate_limited");
    g.expect_close(4008).await;
    // REST_PER_TOKEN: 100 at once, then 25 per second: of 160 concurrent
    // requests at least 100 pass and the rest are refused with 429.
    let tasks: Vec<_> = (0..160)
        .map(|_| {
            let (url, token) = (s.api("/users/@me"), alice.token.clone());
            tokio::spawn(async move {
                reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(ok + limited, 160);
    assert!(ok >= 100 && limited >= 20, "{ok} passed, {limited} limited");
}
