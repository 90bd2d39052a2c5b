//! `/readyz` against the real binary: 200 `ready` while the server accepts
//! work and its store commits a probe write; 503 `shutting down` from the
//! moment SIGTERM arrives while it drains.

#[path = "support/listen.rs"]
mod listen;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

const WAIT: Duration = Duration::from_secs(10);

/// A free port on loopback (bound and released; the server binds it next).
fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// Start `hearth serve` on a fresh data dir with `extra` flags; the address of
/// its `listening on` line.
async fn start(data: &std::path::Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--bind", "127.0.0.1:0", "--voice-bind", "127.0.0.1:0", "--workers", "2"])
        .arg("--data")
        .arg(data)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn hearth");
    let addr = listen::wait_listening(&mut child, WAIT).await;
    (child, addr)
}

/// `GET /readyz` on a new connection: status and body, or the connect error.
async fn readyz(addr: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(b"GET /readyz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").await?;
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.map_err(std::io::Error::other)??;
    let text = String::from_utf8_lossy(&raw);
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    Ok((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_while_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let (_child, addr) = start(&tmp.path().join("data"), &[]).await;
    for _ in 0..3 {
        // The first answer commits a probe write; the next ones reuse it for a second.
        assert_eq!(readyz(&addr).await.expect("readyz"), (200, "ready\n".to_string()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_while_shutting_down() {
    let tmp = tempfile::tempdir().unwrap();
    let maddr = free_addr();
    // /readyz on its own listener, which keeps serving until the main one has drained.
    let (mut child, addr) =
        start(&tmp.path().join("data"), &["--metrics-bind", &maddr, "--shutdown-timeout-secs", "5"]).await;
    assert_eq!(readyz(&maddr).await.expect("readyz"), (200, "ready\n".to_string()));
    // An unidentified gateway connection is not told to reconnect: the server
    // waits for it (up to the shutdown timeout) before it stops.
    let (_ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/gateway?v=1&encoding=json")).await.expect("gateway");
    let pid = child.id().expect("running") as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        match readyz(&maddr).await {
            Ok((503, body)) => {
                assert_eq!(body, "shutting down\n");
                break;
            }
            Ok(answer) => seen.push(answer),
            Err(e) => panic!("/readyz refused ({e}) before it ever answered 503; answers: {seen:?}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "no 503 within {WAIT:?}; answers: {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Only 200s (before the signal was handled) came before it.
    assert!(seen.iter().all(|(s, _)| *s == 200), "{seen:?}");
    let status = tokio::time::timeout(WAIT, child.wait()).await.expect("exit after the shutdown timeout").unwrap();
    assert_eq!(status.code(), Some(0));
}
