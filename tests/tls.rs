//! HTTPS and WSS served directly (`--tls-cert`, `--tls-key`), against the
//! real binary with self-signed certificates made by rcgen:
//!
//! - REST over HTTPS and a gateway session over WSS work;
//! - after the files are replaced and SIGHUP is sent, the open WSS session
//!   keeps working and new connections get the new certificate; a bad file
//!   on reload keeps the old one;
//! - unusable files at start stop the server with an error naming the file;
//! - the systemd watchdog's self-probe speaks TLS to a TLS listener.

#[path = "support/mod.rs"]
mod support;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};
use support::{Launch, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const WAIT: Duration = Duration::from_secs(10);

/// A self-signed certificate for `localhost` and 127.0.0.1 with `name` as its
/// common name: (certificate PEM, key PEM, certificate DER).
fn make_cert(name: &str) -> (String, String, CertificateDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem(), cert.der().clone())
}

/// Replace `path` atomically (as certbot's renewals and `install` do).
fn replace(path: &Path, contents: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Start `hearth serve` with `args` and `env` and wait for `listening on`.
async fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
    let launch = Launch::serve()
        .args(["--workers", "2", "--heartbeat-interval-ms", "600000"])
        .args(["--argon2-memory-kib", "256", "--argon2-iterations", "1"])
        .args(args);
    env.iter().fold(launch, |l, (k, v)| l.env(k, v)).start().await
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A TLS connection to the server that trusts only `root`.
async fn tls_connect(addr: &str, root: &CertificateDer<'static>) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(WAIT, tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp))
        .await
        .expect("TLS handshake timed out")
        .expect("TLS handshake (is the expected certificate served?)")
}

/// The certificate the server presented on `tls`.
fn presented(tls: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    tls.get_ref().1.peer_certificates().and_then(|c| c.first()).expect("a server certificate").clone().into_owned()
}

/// One HTTP/1.1 request over HTTPS: (status, body as JSON or string).
async fn https(
    addr: &str,
    root: &CertificateDer<'static>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut tls = tls_connect(addr, root).await;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    // The server closes after the response; a missing close_notify is not our concern.
    let _ = tokio::time::timeout(WAIT, tls.read_to_end(&mut resp)).await.expect("response in time");
    let resp = String::from_utf8(resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").expect("a complete response");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    (status, serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string())))
}

type Wss = WebSocketStream<TlsStream<TcpStream>>;

/// A WSS gateway connection (JSON) after HELLO.
async fn wss(addr: &str, root: &CertificateDer<'static>) -> Wss {
    let tls = tls_connect(addr, root).await;
    let url = format!("wss://localhost:{}/gateway?v=1&encoding=json", addr.rsplit(':').next().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(url, tls).await.expect("WebSocket upgrade over TLS");
    assert_eq!(next(&mut ws).await["op"], 10, "HELLO first");
    ws
}

async fn next(ws: &mut Wss) -> Value {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

async fn send(ws: &mut Wss, op: u64, d: Value) {
    ws.send(Message::Text(json!({"op": op, "d": d}).to_string())).await.unwrap();
}

/// A heartbeat is answered with HEARTBEAT_ACK.
async fn heartbeat(ws: &mut Wss) {
    send(ws, 1, Value::Null).await;
    loop {
        let f = next(ws).await;
        if f["op"] == 11 {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_with_certificate_reload_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (a_pem, a_key, a_der) = make_cert("hearth test A");
    std::fs::write(&cert, &a_pem).unwrap();
    std::fs::write(&key, &a_key).unwrap();
    let s = start(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()], &[]).await;

    // REST over HTTPS.
    assert_eq!(https(&s.addr, &a_der, "GET", "/healthz", None).await, (200, Value::String("ok\n".into())));
    let creds = json!({"username": "alice", "password": "password123"});
    let (st, _) = https(&s.addr, &a_der, "POST", "/api/v1/auth/register", Some(creds.clone())).await;
    assert_eq!(st, 201);
    let (st, login) = https(&s.addr, &a_der, "POST", "/api/v1/auth/login", Some(creds)).await;
    assert_eq!(st, 200, "{login}");
    let token = login["token"].as_str().unwrap().to_string();
    // Plain HTTP on the TLS port gets nowhere.
    let plain = support::http::client().get(format!("http://{}/healthz", s.addr)).send().await;
    assert!(plain.is_err() || plain.is_ok_and(|r| !r.status().is_success()));

    // A gateway session over WSS.
    let mut old = wss(&s.addr, &a_der).await;
    send(&mut old, 2, json!({"token": token})).await;
    loop {
        let f = next(&mut old).await;
        if f["t"] == "READY" {
            break;
        }
    }
    heartbeat(&mut old).await;

    // New certificate and key in place, then SIGHUP.
    let (b_pem, b_key, b_der) = make_cert("hearth test B");
    assert_ne!(a_der, b_der);
    replace(&cert, &b_pem);
    replace(&key, &b_key);
    s.signal(libc::SIGHUP);
    s.logged("TLS certificate reloaded").await;

    // The open session is untouched, on the session it negotiated with A.
    heartbeat(&mut old).await;
    assert_eq!(presented(old.get_ref()), a_der);
    // New connections present the new certificate: a client trusting only B
    // connects, and sees B.
    let tls = tls_connect(&s.addr, &b_der).await;
    assert_eq!(presented(&tls), b_der);
    drop(tls);
    let mut new = wss(&s.addr, &b_der).await;
    heartbeat(&mut new).await;
    assert_eq!(https(&s.addr, &b_der, "GET", "/readyz", None).await.0, 200);

    // A bad file on reload: logged, and the server keeps serving B.
    std::fs::write(&cert, "not a certificate\n").unwrap();
    s.signal(libc::SIGHUP);
    s.logged("TLS reload failed").await;
    assert!(s.log.lock().unwrap().iter().any(|l| l.contains(cert.to_str().unwrap())), "the error names the file");
    let tls = tls_connect(&s.addr, &b_der).await;
    assert_eq!(presented(&tls), b_der);
    heartbeat(&mut old).await;
    heartbeat(&mut new).await;
    assert!(!s.log.lock().unwrap().iter().any(|l| l.contains("panicked")));
}

/// Run `hearth serve` with `args` on a fresh data dir; it must exit non-zero
/// at once. Returns its stderr.
async fn start_fails(args: &[&str]) -> String {
    let data = tempfile::tempdir().unwrap();
    let data = data.path().join("data");
    let head = ["serve", "--bind", "127.0.0.1:0", "--voice-bind", "127.0.0.1:0", "--data", data.to_str().unwrap()];
    let all: Vec<&str> = head.iter().chain(args).copied().collect();
    let out = support::run_hearth(&all, &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "started with {args:?}; stderr: {stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening on"), "{args:?}");
    stderr
}

#[tokio::test]
async fn unusable_certificate_files_stop_the_server_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| -> PathBuf { dir.path().join(name) };
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    let (a_pem, a_key, _) = make_cert("A");
    let (_, b_key, _) = make_cert("B");
    std::fs::write(p("a.pem"), &a_pem).unwrap();
    std::fs::write(p("a.key"), &a_key).unwrap();
    std::fs::write(p("b.key"), &b_key).unwrap();
    std::fs::write(p("garbage.pem"), "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    std::fs::write(p("empty.pem"), "").unwrap();

    let (cert, key, missing) = (s(&p("a.pem")), s(&p("a.key")), s(&p("missing.pem")));
    let err = start_fails(&["--tls-cert", &missing, "--tls-key", &key]).await;
    assert!(err.contains(&missing) && err.contains("certificate"), "{err}");
    let err = start_fails(&["--tls-cert", &cert, "--tls-key", &missing]).await;
    assert!(err.contains(&missing) && err.contains("key"), "{err}");
    let garbage = s(&p("garbage.pem"));
    let err = start_fails(&["--tls-cert", &garbage, "--tls-key", &key]).await;
    assert!(err.contains(&garbage), "{err}");
    let empty = s(&p("empty.pem"));
    let err = start_fails(&["--tls-cert", &empty, "--tls-key", &key]).await;
    assert!(err.contains(&empty) && err.contains("no PEM CERTIFICATE"), "{err}");
    let err = start_fails(&["--tls-cert", &cert, "--tls-key", &cert]).await;
    assert!(err.contains(&cert) && err.contains("private key"), "{err}");
    let other = s(&p("b.key"));
    let err = start_fails(&["--tls-cert", &cert, "--tls-key", &other]).await;
    assert!(err.contains(&other) && err.contains("does not belong"), "{err}");
    let err = start_fails(&["--tls-cert", &cert]).await;
    assert!(err.contains("--tls-key"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_probes_a_tls_listener_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (pem, key_pem, _) = make_cert("watchdog");
    std::fs::write(&cert, pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    let notify = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&notify).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let s = start(
        &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
        &[("NOTIFY_SOCKET", notify.to_str().unwrap()), ("WATCHDOG_USEC", "1000000")],
    )
    .await;
    let mut pings = 0;
    let deadline = std::time::Instant::now() + WAIT;
    let mut buf = [0u8; 512];
    while pings < 3 && std::time::Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            pings += usize::from(String::from_utf8_lossy(&buf[..n]).lines().any(|l| l == "WATCHDOG=1"));
        }
    }
    // A plain-HTTP probe of the TLS listener would fail every check: no pings at all.
    let log = s.log.lock().unwrap().clone();
    assert!(pings >= 3, "watchdog pings: {pings}; log: {log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_through_an_https_server() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (pem, key_pem, _) = make_cert("backup");
    std::fs::write(&cert, pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    let s = start(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()], &[]).await;
    let dest = dir.path().join("backup");
    let (dest, data) = (dest.to_str().unwrap(), s.data.to_str().unwrap());
    let server = format!("https://{}", s.addr);
    // The certificate is not checked: the admin endpoint only answers this machine.
    let out = support::run_hearth(&["backup", dest, "--data", data, "--server", &server], &[]).await;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("backup written to"), "{stdout}");
    // Plain HTTP to the TLS port fails with a hint.
    let plain = format!("http://{}", s.addr);
    let dest2 = dir.path().join("backup-2");
    let out = support::run_hearth(&["backup", dest2.to_str().unwrap(), "--data", data, "--server", &plain], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("https://"), "{stderr}");
}
