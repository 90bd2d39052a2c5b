//! Smoke test: start the real (debug) hearth binary, run a two-second fanout
//! with 20 readers through the real load generator, and check that every
//! delivery arrived exactly once and that the JSON report parses.

#[path = "../../tests/support/mod.rs"]
mod support;

use support::Launch;
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_delivers_every_message_exactly_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Launch::for_load().start().await;
    let addr = server.addr.clone();
    let json = tmp.path().join("report.json");
    let svg = tmp.path().join("report.svg");
    let pid = server.pid().expect("server running").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_hearth-loadtest"))
        .args(["--quiet", "--addr", &addr, "--server-pid", &pid, "--sources", "2"])
        .arg("--json")
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .args(["fanout", "--readers", "20", "--senders", "2", "--rate", "50", "--duration", "2", "--warmup", "1"])
        .output()
        .await
        .expect("run hearth-loadtest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "loadtest failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json written")).expect("json parses");
    let d = &report["deliveries"];
    assert_eq!(report["ready"], 22, "{stdout}");
    assert!(d["total"].as_u64().unwrap_or(0) >= 20 * 100, "{stdout}");
    assert_eq!(d["total"], d["expected"], "{stdout}");
    assert_eq!(d["lost"], 0, "{stdout}");
    assert_eq!(d["duplicates"], 0, "{stdout}");
    assert_eq!(d["seq_gaps"], 0, "{stdout}");
    assert!(report["latency"]["p99_ms"].as_f64().unwrap_or(0.0) > 0.0, "{stdout}");
    assert!(report["server_cpu_us_per_delivery"].as_f64().is_some(), "{stdout}");
    assert!(std::fs::read_to_string(&svg).expect("svg written").contains("<svg"));
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_edit_delete_and_react_while_every_message_still_arrives() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Launch::for_load().start().await;
    let addr = server.addr.clone();
    let json = tmp.path().join("report.json");
    let pid = server.pid().expect("server running").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_hearth-loadtest"))
        .args(["--quiet", "--addr", &addr, "--server-pid", &pid, "--sources", "2"])
        .arg("--json")
        .arg(&json)
        .args(["actions", "--readers", "20", "--rate", "10", "--reactions", "40", "--edits", "5", "--deletes", "2"])
        .args(["--duration", "2", "--warmup", "1"])
        .output()
        .await
        .expect("run hearth-loadtest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "loadtest failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json written")).expect("json parses");
    let d = &report["deliveries"];
    assert_eq!(d["total"], d["expected"], "{stdout}");
    assert_eq!(d["lost"], 0, "{stdout}");
    assert!(report["errors"].as_object().is_none_or(|e| e.is_empty()), "no action refused: {stdout}");
    let notes = report["notes"].to_string();
    for kind in ["react:", "edit:", "delete:"] {
        assert!(notes.contains(kind), "{kind} measured: {notes}");
    }
    // Every reader received the reaction, edit and delete dispatches.
    assert!(report["other_events"].as_u64().unwrap_or(0) >= 20 * 40, "{stdout}");
    drop(server);
}
