//! Connection life: heartbeats, identify deadlines, presence bounded in large guilds.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_stops_heartbeating_is_closed_and_its_session_freed() {
    let s = Server::start_with(&["--heartbeat-interval-ms", "400", "--resume-grace-secs", "1"]).await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let (mut quiet, _) = Gw::identify(&s, &alice, Enc::Json).await;
    let (mut lively, _) = Gw::identify(&s, &bob, Enc::MsgPack).await;
    assert_eq!(quiet.hello.d["heartbeat_interval"], 400);
    assert_eq!(s.metric("hearth_gateway_sessions").await, 2.0);
    // bob heartbeats every 200 ms; alice never does.
    let started = Instant::now();
    let keepalive = tokio::spawn(async move {
        for _ in 0..10 {
            lively.send(1, json!(null)).await;
            lively.op(11).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        lively
    });
    quiet.expect_close(4009).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(500), "closed too early: {took:?}");
    let mut lively = keepalive.await.unwrap();
    // bob is still connected and served; alice's session stays resumable for
    // the grace period (1 s here) and is then freed.
    lively.send(1, json!(null)).await;
    lively.op(11).await;
    let deadline = Instant::now() + WAIT;
    while s.metric("hearth_gateway_sessions").await != 1.0 {
        assert!(Instant::now() < deadline, "the timed-out session was never freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let freed_after = started.elapsed();
    assert!(freed_after >= took + Duration::from_millis(900), "freed before the grace period: {freed_after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_identifies_is_closed() {
    let s = Server::start_with(&["--heartbeat-interval-ms", "300"]).await;
    let mut gw = Gw::connect(&s, Enc::Json).await;
    // No heartbeat, no identify: the heartbeat deadline closes it.
    gw.expect_close(4009).await;
}

/// Above LARGE_GUILD_THRESHOLD members, presence goes only to sessions that
/// asked for the member list with presences (op 8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_in_large_guilds_goes_only_to_subscribers() {
    const THRESHOLD: usize = 250; // hearth::protocol::limits::LARGE_GUILD_THRESHOLD
    assert_eq!(THRESHOLD, hearth::protocol::limits::LARGE_GUILD_THRESHOLD);
    let s = Server::start().await;
    let owner = s.user("owner").await;
    let (gid, general) = owner.guild(&s, "Big").await;
    let code = owner.invite(&s, general, json!({})).await;
    let mut members = Vec::new();
    for i in 0..THRESHOLD {
        let u = s.user(&format!("member{i}")).await;
        u.join(&s, &code).await;
        members.push(u);
    }
    let (mut watcher, ready) = Gw::identify(&s, &owner, Enc::MsgPack).await;
    let g = &ready["guilds"][0];
    assert_eq!(g["large"], true);
    assert_eq!(g["member_count"], THRESHOLD + 1);
    assert_eq!(g["presences"].as_array().unwrap().len(), 0, "no presences in READY for large guilds");
    let (mut unsubscribed, _) = Gw::identify(&s, &members[0], Enc::Json).await;

    // The watcher asks for members with presences and is subscribed.
    watcher.send(8, json!({"guild_id": gid, "limit": 1000, "presences": true, "nonce": "m"})).await;
    let chunk = watcher.dispatch("GUILD_MEMBERS_CHUNK").await;
    assert_eq!(chunk["members"].as_array().unwrap().len(), THRESHOLD + 1);
    assert_eq!(chunk["nonce"], "m");
    assert!(chunk["presences"].as_array().unwrap().len() >= 2, "the online members");

    let (mut newcomer, _) = Gw::identify(&s, &members[1], Enc::Json).await;
    let p = watcher.dispatch("PRESENCE_UPDATE").await;
    assert_eq!(id(&p["user_id"]), members[1].id);
    newcomer.send(3, json!({"status": "dnd"})).await;
    watcher.dispatch_where("PRESENCE_UPDATE", |d| d["status"] == "dnd").await;
    unsubscribed.expect_none("PRESENCE_UPDATE").await;
}

/// RFC 6455 §7.1.1: once the close handshake is done, the server closes the
/// TCP connection first, at once (it used to keep it open for about a second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_closes_tcp_promptly_after_the_close_handshake() {
    use futures_util::{SinkExt, StreamExt};
    use std::io::Read;
    use tokio_tungstenite::tungstenite::Message as WsMessage;

    let s = Server::start().await;
    let alice = s.user("alice").await;
    for (identify, enc) in [(false, Enc::Json), (true, Enc::MsgPack), (true, Enc::Json), (false, Enc::MsgPack)] {
        let tcp = std::net::TcpStream::connect(&s.addr).unwrap();
        // A second handle on the same socket, to see the server's FIN directly.
        let watch = tcp.try_clone().unwrap();
        tcp.set_nonblocking(true).unwrap();
        let query = if enc == Enc::Json { "json" } else { "msgpack" };
        let url = format!("ws://{}/gateway?v=1&encoding={query}", s.addr);
        let tcp = tokio_tungstenite::MaybeTlsStream::Plain(tokio::net::TcpStream::from_std(tcp).unwrap());
        let (ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
        let mut gw = Gw::with_hello(ws, enc).await;
        if identify {
            gw.send(2, json!({"token": alice.token})).await;
            gw.dispatch("READY").await;
        }
        gw.ws.send(WsMessage::Close(None)).await.unwrap();
        loop {
            match tokio::time::timeout(WAIT, gw.ws.next()).await.expect("close reply") {
                Some(Ok(WsMessage::Close(_))) => break,
                Some(Ok(_)) => continue,
                other => panic!("no close reply: {other:?}"),
            }
        }
        let replied = Instant::now();
        // The socket is non-blocking (shared with the WebSocket client): poll it.
        let eof_after = tokio::task::spawn_blocking(move || {
            let mut watch = watch;
            let mut buf = [0u8; 256];
            loop {
                match watch.read(&mut buf) {
                    Ok(0) => return Some(replied.elapsed()),
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if replied.elapsed() > WAIT {
                            return None;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => return Some(replied.elapsed()),
                }
            }
        })
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("identified {identify}, {enc:?}: the server never closed the TCP connection"));
        assert!(
            eof_after < Duration::from_millis(200),
            "identified {identify}, {enc:?}: TCP closed {eof_after:?} after the handshake"
        );
    }
}
