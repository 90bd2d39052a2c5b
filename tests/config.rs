//! The configuration file, tested on the real binary: `hearth serve --config
//! FILE` runs with the file's settings, a HEARTH_* variable overrides the
//! file, a flag overrides both (seen in the heartbeat interval HELLO
//! announces), and a file with an unknown key stops the server at once with
//! a message naming the key and the file.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(60);

/// `hearth ARGS` with no HEARTH_* variable from the test's environment, plus `env`.
fn hearth(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.args(args).env("RUST_LOG", "warn").stdin(Stdio::null()).kill_on_drop(true);
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("HEARTH_")) {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Start the server; its address from the `listening on` line.
async fn start(args: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    // Servers of this file run in parallel: each on its own voice port.
    let env: Vec<(&str, &str)> = env.iter().copied().chain([("HEARTH_VOICE_BIND", "127.0.0.1:0")]).collect();
    let mut child = hearth(args, &env).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start hearth");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(addr) = line.strip_prefix("listening on ") {
                return addr.to_string();
            }
        }
        panic!("hearth exited without a `listening on` line");
    })
    .await
    .expect("no `listening on` line in time");
    // Keep draining stdout so the server never blocks on it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
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

    let (mut server, addr) = start(&["serve", "--config", file], &[]).await;
    assert_eq!(hello_heartbeat(&addr).await, 5000, "the file sets it");
    server.kill().await.expect("kill");

    let env = [("HEARTH_HEARTBEAT_INTERVAL_MS", "6000")];
    let (mut server, addr) = start(&["serve", "--config", file], &env).await;
    assert_eq!(hello_heartbeat(&addr).await, 6000, "the variable overrides the file");
    server.kill().await.expect("kill");

    // The file named by HEARTH_CONFIG, and `hearth` alone meaning `hearth serve`.
    let env = [("HEARTH_CONFIG", file), ("HEARTH_HEARTBEAT_INTERVAL_MS", "6000")];
    let (mut server, addr) = start(&["--heartbeat-interval-ms", "7000"], &env).await;
    assert_eq!(hello_heartbeat(&addr).await, 7000, "the flag overrides the variable and the file");
    server.kill().await.expect("kill");
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
    let child = hearth(&["serve", "--config", file], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hearth");
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("hearth exits at once on a bad file")
        .expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("unknown key `heartbeat_intervall_ms`"), "stderr: {stderr}");
    assert!(stderr.contains(&format!("{file}:3:")), "names the file and line: {stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening on"));
    assert!(!dir.path().join("data").exists(), "nothing was started");
}

#[tokio::test]
async fn default_file_is_accepted_and_check_shows_origins() {
    let out = hearth(&["config", "default"], &[]).output().await.expect("run config default");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("\nheartbeat_interval_ms = 41250\n"), "{text}");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hearth.toml");
    std::fs::write(&file, text.replace("\nworkers = 0\n", "\nworkers = 3\n")).expect("write config");
    let file = file.to_str().expect("utf-8 temp path");

    let out =
        hearth(&["config", "check", "--config", file, "--bind", "127.0.0.1:0"], &[("HEARTH_RESUME_GRACE_SECS", "9")])
            .output()
            .await
            .expect("run config check");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(shown.contains("\nbind = \"127.0.0.1:0\"  # flag --bind\n"), "{shown}");
    assert!(shown.contains("\nresume_grace_secs = 9  # variable HEARTH_RESUME_GRACE_SECS\n"), "{shown}");
    assert!(shown.contains("\nworkers = 3  # file\n"), "{shown}");

    std::fs::write(dir.path().join("bad.toml"), "workers = \"four\"\n").expect("write config");
    let bad = dir.path().join("bad.toml");
    let out = hearth(&["config", "check", "--config", bad.to_str().expect("utf-8")], &[])
        .output()
        .await
        .expect("run config check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml:1:11: invalid value for key `workers`"), "{stderr}");
}
