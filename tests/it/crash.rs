//! Crash safety under kill -9: many clients send while the server is killed
//! at random moments; after each restart on the same data dir every
//! acknowledged message is in history exactly once, with the id it was
//! acknowledged with, and nothing is stored twice.
//!
//! The exhaustive variant (power loss at every sync point of the store) is
//! the unit test `store::crash_tests`.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::common::*;

/// Kills per run.
const KILLS: usize = 20;
/// Concurrent senders per round; every third one uses the gateway.
const SENDERS: usize = 8;
/// Gateway sends in flight per connection.
const GW_WINDOW: usize = 4;

/// What one sender did in one round.
#[derive(Default, Debug)]
struct Tally {
    /// Every content sent (the request or frame was at least started).
    sent: Vec<String>,
    /// Acknowledged contents with the id they were acknowledged with (None
    /// when the 201 arrived but its body was cut off by the kill).
    acked: Vec<(String, Option<u64>)>,
    /// Definite refusals (an HTTP status other than 201, or op 43): a bug
    /// here, since nothing should be refused.
    refused: Vec<String>,
}

/// Sends over REST, one at a time, until the server goes away.
async fn rest_sender(addr: String, token: String, channel: u64, tag: String) -> Tally {
    let client = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    let url = format!("http://{addr}/api/v1/channels/{channel}/messages");
    let mut t = Tally::default();
    for k in 0.. {
        let content = format!("{tag}-n{k}");
        t.sent.push(content.clone());
        let resp = client.post(&url).bearer_auth(&token).json(&json!({ "content": content })).send().await;
        match resp {
            Ok(r) if r.status().as_u16() == 201 => {
                let id = r.json::<Value>().await.ok().and_then(|v| v["id"].as_str().and_then(|s| s.parse().ok()));
                t.acked.push((content, id));
            }
            Ok(r) => {
                let st = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                t.refused.push(format!("{content}: HTTP {st} {body}"));
                break;
            }
            // Connection refused or reset: the server is gone.
            Err(_) => break,
        }
    }
    t
}

/// Reads the next JSON frame; None when the connection ended or went quiet.
async fn next_json(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) -> Option<Value> {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(WsMessage::Text(t)))) => return serde_json::from_str(&t).ok(),
            Ok(Some(Ok(WsMessage::Close(_)))) | Ok(Some(Err(_))) | Ok(None) | Err(_) => return None,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// Sends over the gateway (op 40, up to GW_WINDOW in flight, acknowledged by
/// op 41) until the server goes away.
async fn gateway_sender(addr: String, token: String, channel: u64, tag: String) -> Tally {
    let mut t = Tally::default();
    let url = format!("ws://{addr}/gateway?v=1&encoding=json");
    let Ok(Ok((mut ws, _))) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url)).await else {
        return t;
    };
    match next_json(&mut ws).await {
        Some(hello) if hello["op"] == 10 => {}
        _ => return t,
    }
    let identify = json!({"op": 2, "d": {"token": token}});
    if ws.send(WsMessage::Text(identify.to_string())).await.is_err() {
        return t;
    }
    loop {
        match next_json(&mut ws).await {
            Some(f) if f["op"] == 0 && f["t"] == "READY" => break,
            Some(f) if f["op"] == 0 => continue,
            Some(f) => {
                t.refused.push(format!("identify answered with {f}"));
                return t;
            }
            None => return t,
        }
    }
    let mut in_flight: HashMap<String, String> = HashMap::new();
    let mut k = 0;
    'conn: loop {
        while in_flight.len() < GW_WINDOW {
            let content = format!("{tag}-n{k}");
            let nonce = k.to_string();
            k += 1;
            t.sent.push(content.clone());
            let frame = json!({"op": 40, "d": {
                "channel_id": channel.to_string(), "content": content, "nonce": nonce}});
            if ws.send(WsMessage::Text(frame.to_string())).await.is_err() {
                break 'conn;
            }
            in_flight.insert(nonce, content);
        }
        let Some(f) = next_json(&mut ws).await else {
            break;
        };
        let nonce = f["d"]["nonce"].as_str().unwrap_or_default();
        match f["op"].as_u64() {
            Some(41) => {
                if let Some(content) = in_flight.remove(nonce) {
                    let id = f["d"]["message"]["id"].as_str().and_then(|s| s.parse().ok());
                    t.acked.push((content, id));
                }
            }
            Some(43) => {
                if let Some(content) = in_flight.remove(nonce) {
                    t.refused.push(format!("{content}: op 43 {}", f["d"]));
                    break;
                }
            }
            _ => {}
        }
    }
    t
}

/// The whole history of a channel, oldest first, read through `after=` paging.
async fn full_history(s: &Server, user: &User, channel: u64) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = Vec::new();
    let mut after = 0u64;
    loop {
        let (st, page) = user.get(s, &format!("/channels/{channel}/messages?after={after}&limit=100")).await;
        assert_eq!(st, 200, "history: {page}");
        let page = page.as_array().expect("history is an array").clone();
        for m in &page {
            let id = id(&m["id"]);
            assert!(id > after, "history not in increasing id order: {id} after {after}");
            after = id;
            out.push((id, m["content"].as_str().unwrap().to_string()));
        }
        if page.len() < 100 {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_loop() {
    let started = Instant::now();
    let seed = std::env::var("HEARTH_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_C0FF_EE15_u64);
    let mut rng = SmallRng::seed_from_u64(seed);

    // Thousands of sends a second from four users: no rate limit may refuse one.
    let mut s = Server::start_with(&["--rate-limit-scale", "100000"]).await;
    let alice = s.user("alice").await;
    let mut users = vec![alice.clone()];
    for name in ["bob", "carol", "dave"] {
        users.push(s.user(name).await);
    }
    let (_, general) = alice.guild(&s, "Crash").await;
    let code = alice.invite(&s, general, json!({})).await;
    for u in &users[1..] {
        u.join(&s, &code).await;
    }

    // Everything acknowledged so far: content → acknowledged id.
    let mut acked: HashMap<String, Option<u64>> = HashMap::new();
    let mut sent: HashSet<String> = HashSet::new();
    // What a restart has shown stored (acknowledged or not): it stays.
    let mut stored_before: HashSet<String> = HashSet::new();
    let mut max_stored_id = 0u64;
    let (mut rest_acks, mut gw_acks) = (0usize, 0usize);
    let mut unacked_stored = 0usize;

    for round in 0..KILLS {
        let senders: Vec<_> = (0..SENDERS)
            .map(|t| {
                let u = &users[t % users.len()];
                let (addr, token, tag) = (s.addr.clone(), u.token.clone(), format!("t{t}-i{round}"));
                let gw = t % 3 == 1;
                let h = if gw {
                    tokio::spawn(gateway_sender(addr, token, general, tag))
                } else {
                    tokio::spawn(rest_sender(addr, token, general, tag))
                };
                (gw, h)
            })
            .collect();
        let delay = rng.gen_range(50..=400);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        s.kill().await;

        let mut round_acked: Vec<(String, Option<u64>)> = Vec::new();
        for (gw, h) in senders {
            let tally = tokio::time::timeout(WAIT, h)
                .await
                .expect("a sender did not stop after the kill")
                .expect("a sender panicked");
            assert!(tally.refused.is_empty(), "round {round}: refused: {:?}", tally.refused);
            if gw {
                gw_acks += tally.acked.len();
            } else {
                rest_acks += tally.acked.len();
            }
            sent.extend(tally.sent);
            round_acked.extend(tally.acked);
        }
        // New ids sort after everything the previous restart found stored.
        for (content, id) in &round_acked {
            if let Some(id) = id {
                assert!(
                    *id > max_stored_id,
                    "round {round}: {content} acknowledged with id {id}, not above the stored {max_stored_id}"
                );
            }
        }
        acked.extend(round_acked);

        s.restart().await;

        // Users and tokens survive: the same tokens still work.
        for u in &users {
            let (st, me) = u.get(&s, "/users/@me").await;
            assert_eq!((st, id(&me["id"])), (200, u.id), "round {round}: token of {}", u.name);
        }

        let history = full_history(&s, &alice, general).await;
        let mut count: HashMap<&str, usize> = HashMap::new();
        let mut ids = HashSet::new();
        for (mid, content) in &history {
            assert!(ids.insert(*mid), "round {round}: id {mid} stored twice");
            *count.entry(content).or_default() += 1;
            assert!(sent.contains(content), "round {round}: stored message nobody sent: {content}");
        }
        for (content, n) in &count {
            assert_eq!(*n, 1, "round {round}: {content} stored {n} times");
        }
        let by_content: HashMap<&str, u64> = history.iter().map(|(i, c)| (c.as_str(), *i)).collect();
        let mut lost: Vec<&String> = acked.keys().filter(|c| !by_content.contains_key(c.as_str())).collect();
        lost.sort();
        assert!(
            lost.is_empty(),
            "round {round}: {} acknowledged messages lost after kill -9, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        );
        for (content, want) in &acked {
            if let Some(want) = want {
                assert_eq!(
                    by_content[content.as_str()],
                    *want,
                    "round {round}: {content} stored under another id than acknowledged"
                );
            }
        }
        let now: HashSet<String> = history.iter().map(|(_, c)| c.clone()).collect();
        let mut gone: Vec<&String> = stored_before.difference(&now).collect();
        gone.sort();
        assert!(
            gone.is_empty(),
            "round {round}: messages seen after an earlier restart are gone: {:?}",
            &gone[..gone.len().min(5)]
        );
        unacked_stored = now.iter().filter(|c| !acked.contains_key(*c)).count();
        stored_before = now;
        max_stored_id = history.last().map_or(max_stored_id, |(i, _)| *i);
    }

    assert!(!s.logged_panic(), "the server panicked");
    let total_acked = rest_acks + gw_acks;
    eprintln!(
        "kill -9 loop: {KILLS} kills (seed {seed}), {} sent, {total_acked} acknowledged \
         ({rest_acks} REST, {gw_acks} gateway), {} unacknowledged of which {unacked_stored} \
         stored, all {} stored messages once; {:?}",
        sent.len(),
        sent.len() - total_acked,
        stored_before.len(),
        started.elapsed()
    );
    assert!(rest_acks > KILLS && gw_acks > 0, "too little traffic to mean anything");
}
