//! The configuration file, tested on the real binary: `hearth serve --config
//! FILE` runs with the file's settings, a HEARTH_* variable overrides the
//! file, a flag overrides both (seen in the heartbeat interval HELLO
//! announces), and a file with an unknown key stops the server at once with
//! a message naming the key and the file.

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use support::{run_hearth, Launch, Running};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(60);

/// Start `hearth ARGS` (no test defaults: the file and variables are the
/// story) with `env` on top of a clean environment.
async fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
    env.iter().fold(Launch::raw(args).env("RUST_LOG", "warn"), |l, (k, v)| l.env(k, v)).start().await
}

/// The heartbeat interval a fresh gateway connection is told in HELLO.
async fn hello_heartbeat(addr: &str) -> u64 {
    let (mut ws, _) =
        tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(format!("ws://{addr}/gateway?v=1&encoding=json")))
            .await
            .expect("connect in time")
            .expect("ws connect");
    let frame =
        tokio::time::timeout(WAIT, ws.next()).await.expect("HELLO in time").expect("a frame").expect("ws frame");
    let Message::Text(text) = frame else { panic!("HELLO is not a text frame: {frame:?}") };
    let hello: serde_json::Value = serde_json::from_str(&text).expect("HELLO is JSON");
    assert_eq!(hello["op"], 10, "{hello}");
    hello["d"]["heartbeat_interval"].as_u64().unwrap_or_else(|| panic!("no heartbeat_interval: {hello}"))
}

/// `s` as a TOML string.
fn toml_str(s: &Path) -> String {
    toml::Value::String(s.to_str().expect("utf-8 temp path").to_string()).to_string()
}

#[tokio::test]
async fn file_under_variables_under_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hearth.toml");
    std::fs::write(
        &file,
        format!(
            "# a test configuration\nbind = \"127.0.0.1:0\"\ndata = {}\nworkers = 1\nheartbeat_interval_ms = 5000\n",
            toml_str(&dir.path().join("data"))
        ),
    )
    .expect("write config");
    let file = file.to_str().expect("utf-8 temp path");

    let mut server = start(&["serve", "--config", file], &[]).await;
    assert_eq!(hello_heartbeat(&server.addr).await, 5000, "the file sets it");
    server.kill().await;

    let env = [("HEARTH_HEARTBEAT_INTERVAL_MS", "6000")];
    let mut server = start(&["serve", "--config", file], &env).await;
    assert_eq!(hello_heartbeat(&server.addr).await, 6000, "the variable overrides the file");
    server.kill().await;

    // The file named by HEARTH_CONFIG, and `hearth` alone meaning `hearth serve`.
    let env = [("HEARTH_CONFIG", file), ("HEARTH_HEARTBEAT_INTERVAL_MS", "6000")];
    let mut server = start(&["--heartbeat-interval-ms", "7000"], &env).await;
    assert_eq!(hello_heartbeat(&server.addr).await, 7000, "the flag overrides the variable and the file");
    server.kill().await;
}

#[tokio::test]
async fn unknown_key_stops_the_server_naming_key_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hearth.toml");
    std::fs::write(
        &file,
        format!(
            "bind = \"127.0.0.1:0\"\ndata = {}\nheartbeat_intervall_ms = 5000\n",
            toml_str(&dir.path().join("data"))
        ),
    )
    .expect("write config");
    let file = file.to_str().expect("utf-8 temp path");
    let out = run_hearth(&["serve", "--config", file], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("unknown key `heartbeat_intervall_ms`"), "stderr: {stderr}");
    assert!(stderr.contains(&format!("{file}:3:")), "names the file and line: {stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening on"));
    assert!(!dir.path().join("data").exists(), "nothing was started");
}

#[tokio::test]
async fn default_file_is_accepted_and_check_shows_origins() {
    let out = run_hearth(&["config", "default"], &[]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("\nheartbeat_interval_ms = 41250\n"), "{text}");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hearth.toml");
    std::fs::write(&file, text.replace("\nworkers = 0\n", "\nworkers = 3\n")).expect("write config");
    let file = file.to_str().expect("utf-8 temp path");

    let args = ["config", "check", "--config", file, "--bind", "127.0.0.1:0"];
    let out = run_hearth(&args, &[("HEARTH_RESUME_GRACE_SECS", "9")]).await;
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(shown.contains("\nbind = \"127.0.0.1:0\"  # flag --bind\n"), "{shown}");
    assert!(shown.contains("\nresume_grace_secs = 9  # variable HEARTH_RESUME_GRACE_SECS\n"), "{shown}");
    assert!(shown.contains("\nworkers = 3  # file\n"), "{shown}");

    std::fs::write(dir.path().join("bad.toml"), "workers = \"four\"\n").expect("write config");
    let bad = dir.path().join("bad.toml");
    let out = run_hearth(&["config", "check", "--config", bad.to_str().expect("utf-8")], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml:1:11: invalid value for key `workers`"), "{stderr}");
}

/// `hearth serve` with `args` and `env` must refuse to start: exit 2, one
/// message naming the setting and saying `why`, and no data directory made.
async fn refused(args: &[&str], env: &[(&str, &str)], names: &str, why: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8 temp path");
    let mut all = vec!["serve", "--bind", "127.0.0.1:0", "--data", data];
    all.extend(args);
    let out = run_hearth(&all, env).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
    assert!(stderr.contains(names), "{args:?} {env:?}: the message names {names}: {stderr}");
    assert!(stderr.contains(why), "{args:?} {env:?}: the message says {why:?}: {stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening on"));
    assert!(!dir.path().join("data").exists(), "nothing was started");
}

#[tokio::test]
async fn bad_cache_sizes_stop_the_server_naming_the_setting() {
    // More MiB than any machine this runs on has (about 1 EiB).
    let huge = (1u64 << 40).to_string();
    for (value, why) in [
        ("0", "at least 1 MiB"),
        ("-5", "at least 1 MiB"),
        ("lots", "not a whole number of MiB"),
        ("64.5", "not a whole number of MiB"),
        (huge.as_str(), "more than this machine's memory"),
    ] {
        refused(&[&format!("--cache-mib={value}")], &[], "--cache-mib", why).await;
        refused(&[], &[("HEARTH_CACHE_MIB", value)], "--cache-mib", why).await;
    }
    // The same values in the file name the key, and the line.
    let dir = tempfile::tempdir().expect("tempdir");
    for (text, why) in [
        ("cache_mib = 0\n", "at least 1 MiB"),
        ("cache_mib = -5\n", "invalid value"),
        ("cache_mib = \"lots\"\n", "invalid type"),
        (&format!("cache_mib = {huge}\n") as &str, "more than this machine's memory"),
    ] {
        let file = dir.path().join("hearth.toml");
        std::fs::write(&file, format!("workers = 1\n{text}")).expect("write config");
        let file = file.to_str().expect("utf-8 temp path");
        refused(&["--config", file], &[], &format!("{file}:2:13: invalid value for key `cache_mib`"), why).await;
    }
}

#[tokio::test]
async fn a_valid_cache_size_is_used_and_shown() {
    let out = run_hearth(&["config", "check", "--cache-mib", "24"], &[]).await;
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(shown.contains("\ncache_mib = 24  # flag --cache-mib\n"), "{shown}");
    let mut server = Launch::serve().args(["--cache-mib", "24"]).env("RUST_LOG", "warn").start().await;
    let metrics = support::http::client()
        .get(format!("http://{}/metrics", server.addr))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    assert!(metrics.contains(&format!("\nhearth_store_cache_limit_bytes {}\n", 24u64 << 20)), "{metrics}");
    server.kill().await;
}
