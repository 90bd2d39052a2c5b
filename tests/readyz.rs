//! `/readyz` against the real binary: 200 `ready` while the server accepts
//! work and its store commits a probe write; 503 `shutting down` from the
//! moment SIGTERM arrives while it drains.

#[path = "support/mod.rs"]
mod support;

use support::{eventually_async, Launch, Running, WAIT};

/// A free port on loopback (bound and released; the server binds it next).
fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// Start `hearth serve` on a fresh data dir with `extra` flags.
async fn start(extra: &[&str]) -> Running {
    Launch::serve().args(["--workers", "2"]).args(extra).env("RUST_LOG", "warn").start().await
}

/// `GET /readyz` on a new connection: status and body, or the error.
async fn readyz(addr: &str) -> reqwest::Result<(u16, String)> {
    // No pooled connection: each probe connects anew, as a load balancer's does.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(WAIT).build()?;
    let r = client.get(format!("http://{addr}/readyz")).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_while_serving() {
    let server = start(&[]).await;
    for _ in 0..3 {
        // The first answer commits a probe write; the next ones reuse it for a second.
        assert_eq!(readyz(&server.addr).await.expect("readyz"), (200, "ready\n".to_string()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_while_shutting_down() {
    let maddr = free_addr();
    // /readyz on its own listener, which keeps serving until the main one has drained.
    let mut server = start(&["--metrics-bind", &maddr, "--shutdown-timeout-secs", "5"]).await;
    let addr = server.addr.clone();
    assert_eq!(readyz(&maddr).await.expect("readyz"), (200, "ready\n".to_string()));
    // An unidentified gateway connection is not told to reconnect: the server
    // waits for it (up to the shutdown timeout) before it stops.
    let (_ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/gateway?v=1&encoding=json")).await.expect("gateway");
    server.signal(libc::SIGTERM);
    let seen = std::cell::RefCell::new(Vec::new());
    let body = eventually_async(WAIT, "/readyz answering 503", || {
        let (answer, seen) = (readyz(&maddr), &seen);
        async move {
            match answer.await {
                Ok((503, body)) => Some(body),
                Ok(answer) => {
                    seen.borrow_mut().push(answer);
                    None
                }
                Err(e) => panic!("/readyz refused ({e}) before it ever answered 503; answers: {seen:?}"),
            }
        }
    })
    .await;
    assert_eq!(body, "shutting down\n");
    // Only 200s (before the signal was handled) came before it.
    let seen = seen.into_inner();
    assert!(seen.iter().all(|(s, _)| *s == 200), "{seen:?}");
    let status = server.wait_exit(WAIT).await;
    assert_eq!(status.code(), Some(0));
}
