//! Operations stories against the real binary: per-IP limits behind a
//! trusted reverse proxy (`--trusted-proxies`), and metrics and health on
//! their own listener (`--metrics-bind`) with the metrics the operator reads.

#[path = "it/common.rs"]
mod common;
#[path = "support/mod.rs"]
mod support;

use common::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const XFF: &str = "x-forwarded-for";

/// A login attempt for an unknown account (each its own, so only the per-IP
/// bucket is shared), as if relayed for `client`.
async fn login_as(s: &Server, n: usize, client: Option<&str>) -> u16 {
    let mut r = support::http::client()
        .post(s.api("/auth/login"))
        .json(&json!({"username": format!("nobody{n}"), "password": "password123"}));
    if let Some(c) = client {
        r = r.header(XFF, c);
    }
    r.send().await.expect("login request").status().as_u16()
}

/// Spend the whole LOGIN_PER_IP burst (20) as `client`; the next attempt is refused.
async fn exhaust_login_bucket(s: &Server, client: &str) {
    for n in 0..20 {
        assert_eq!(login_as(s, n, Some(client)).await, 401, "attempt {n} as {client}");
    }
    assert_eq!(login_as(s, 20, Some(client)).await, 429, "attempt 21 as {client}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxy_gives_each_forwarded_client_its_own_buckets() {
    let s = Server::start_with(&["--trusted-proxies", "127.0.0.1/32", "--rate-limit-scale", "1"]).await;
    exhaust_login_bucket(&s, "198.51.100.1").await;
    // Another client behind the same proxy has a full bucket.
    assert_eq!(login_as(&s, 21, Some("198.51.100.2")).await, 401);
    // A client cannot escape its bucket by prepending a made-up hop: the
    // entry the trusted proxy appended (rightmost) is the client.
    assert_eq!(login_as(&s, 22, Some("203.0.113.77, 198.51.100.1")).await, 429);
    // The proxy itself (no header) is a client of its own.
    assert_eq!(login_as(&s, 23, None).await, 401);
    assert!(!s.logged_panic());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_peers_share_one_bucket_whatever_they_forward() {
    // 127.0.0.1 is not in the trusted network: X-Forwarded-For is ignored.
    let s = Server::start_with(&["--trusted-proxies", "10.0.0.0/8", "--rate-limit-scale", "1"]).await;
    exhaust_login_bucket(&s, "198.51.100.1").await;
    assert_eq!(login_as(&s, 21, Some("198.51.100.2")).await, 429);
    assert_eq!(login_as(&s, 22, None).await, 429);
}

/// Open a gateway connection as if relayed for `client`; the HTTP status of a refused upgrade.
async fn gateway_as(s: &Server, client: &str) -> Result<impl Sized, u16> {
    let mut req = format!("ws://{}/gateway?v=1&encoding=json", s.addr).into_client_request().unwrap();
    req.headers_mut().insert(XFF, client.parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("gateway connect as {client}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_connection_slots_count_the_forwarded_client() {
    let s = Server::start_with(&["--trusted-proxies", "127.0.0.1", "--max-connections-per-ip", "1"]).await;
    let _a = gateway_as(&s, "198.51.100.1").await.expect("first client");
    let _b = gateway_as(&s, "198.51.100.2").await.expect("second client behind the same proxy");
    assert_eq!(gateway_as(&s, "198.51.100.1").await.err(), Some(429), "the first client's second connection");
}

/// A free port on loopback (bound and released; the server binds it next).
fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

async fn get(url: &str) -> (u16, String) {
    let r = support::http::client().get(url).send().await.expect("GET");
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The value of the sample `series` (name with labels) in a scrape.
fn sample(body: &str, series: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in:\n{body}"))
}

/// Scrape until `series` has `want` (gauges set on scrape follow the actors a moment later).
async fn wait_for(metrics: &str, series: &str, want: f64) -> String {
    let what = format!("{series} = {want}");
    eventually_async(WAIT, &what, || async {
        let (_, body) = get(metrics).await;
        (sample(&body, series) == want).then_some(body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_on_their_own_listener() {
    let maddr = free_addr();
    let s = Server::start_with(&["--metrics-bind", &maddr, "--rate-limit-scale", "1"]).await;
    let m = |p: &str| format!("http://{maddr}{p}");
    // Served there, and not on the main listener.
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(get(&m(path)).await.0, 200, "{path} on --metrics-bind");
        assert_eq!(get(&s.url(path)).await.0, 404, "{path} on --bind");
    }
    assert_eq!(get(&m("/api/v1/users/@me")).await.0, 404, "only the operational endpoints there");
    let (_, body) = get(&m("/metrics")).await;
    for name in [
        "hearth_gateway_connections",
        "hearth_gateway_sessions",
        "hearth_store_commit_seconds",
        "hearth_rate_limited_total",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
    ] {
        assert!(body.contains(name), "{name} missing");
    }
    // Every metric the server exports is explained in docs/operations.md.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md")).unwrap();
    let undocumented: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .filter(|name| !doc.contains(&format!("| `{name}` |")) && !doc.contains(&format!("| `{name}{{")))
        .collect();
    assert!(undocumented.is_empty(), "docs/operations.md, Metrics and health, lacks {undocumented:?}");
    assert!(sample(&body, "hearth_store_file_bytes") > 0.0);
    assert!(sample(&body, "process_resident_memory_bytes") > 1e6);
    assert_eq!(sample(&body, "hearth_rate_limited_total{rule=\"login_per_ip\"}"), 0.0);

    // Rate-limit hits by rule.
    let alice = s.user("alice").await;
    let mut refused = 0;
    for n in 0..25 {
        if login_as(&s, n, None).await == 429 {
            refused += 1;
        }
    }
    assert!(refused > 0);
    let (_, body) = get(&m("/metrics")).await;
    assert_eq!(sample(&body, "hearth_rate_limited_total{rule=\"login_per_ip\"}"), f64::from(refused));
    let route = "hearth_http_requests_total{route=\"/api/v1/auth/login\",status=\"429\"}";
    assert_eq!(sample(&body, route), f64::from(refused));

    // Sessions by state: a connection before IDENTIFY, identified, detached.
    let st = |state: &str| format!("hearth_gateway_sessions_by_state{{state=\"{state}\"}}");
    let mut gw = Gw::connect(&s, Enc::Json).await;
    wait_for(&m("/metrics"), &st("awaiting_identify"), 1.0).await;
    gw.send(2, json!({"token": alice.token})).await;
    gw.dispatch("READY").await;
    let body = wait_for(&m("/metrics"), &st("connected"), 1.0).await;
    assert_eq!(sample(&body, &st("awaiting_identify")), 0.0);
    assert_eq!(sample(&body, &st("detached")), 0.0);
    drop(gw);
    let body = wait_for(&m("/metrics"), &st("detached"), 1.0).await;
    assert_eq!(sample(&body, &st("connected")), 0.0);
    assert_eq!(sample(&body, "hearth_gateway_connections"), 0.0);
    assert!(!s.logged_panic());
}

/// Run `hearth serve` with `args` (and RUST_BACKTRACE=1, as CI sets it); it
/// must fail at once. Returns stderr without its log lines (which start
/// with a timestamp).
fn start_fails(args: &[&str]) -> Vec<String> {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.arg("serve").args(args);
    if !args.contains(&"--data") {
        cmd.arg("--data").arg(data.path().join("data"));
    }
    let out = cmd.env("RUST_BACKTRACE", "1").stdin(std::process::Stdio::null()).output().expect("run hearth");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).lines().any(|l| l.starts_with("listening on")), "{args:?}");
    let lower = stderr.to_lowercase();
    assert!(!lower.contains("backtrace") && !lower.contains("panicked"), "{args:?}: {stderr}");
    let is_log = |l: &str| l.len() > 4 && l.as_bytes()[..4].iter().all(u8::is_ascii_digit);
    stderr.lines().filter(|l| !l.trim().is_empty() && !is_log(l)).map(String::from).collect()
}

#[test]
fn a_taken_port_stops_the_server_with_one_line_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let lines = start_fails(&["--bind", &addr, "--voice-bind", "127.0.0.1:0"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with(&format!("hearth: cannot listen on {addr}: ")), "{lines:?}");
    assert!(lines[0].contains("perhaps another hearth"), "{lines:?}");

    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let voice = udp.local_addr().unwrap().to_string();
    let lines = start_fails(&["--bind", "127.0.0.1:0", "--voice-bind", &voice]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("hearth: voice: cannot bind UDP ") && lines[0].contains(&voice), "{lines:?}");
    assert!(lines[0].contains("perhaps another hearth"), "{lines:?}");

    // A data directory that cannot be created (its parent is a file).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let bad = file.join("data");
    let lines = start_fails(&["--bind", "127.0.0.1:0", "--voice-bind", "127.0.0.1:0", "--data", bad.to_str().unwrap()]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("hearth: data dir ") && lines[0].contains(bad.to_str().unwrap()), "{lines:?}");
}
