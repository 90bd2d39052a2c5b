//! Smoke test of the voice scenario: start the real (debug) hearth binary with
//! voice on an ephemeral loopback port, run one room of three str0m peers for
//! two seconds through the real load generator, and check that packets were
//! forwarded, none was lost and the server's own counter agrees.

#[path = "../../tests/support/mod.rs"]
mod support;

use support::Launch;
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_forwards_every_packet() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Launch::for_load().start().await;
    let addr = server.addr.clone();
    let json = tmp.path().join("report.json");
    let pid = server.pid().expect("server running").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_hearth-loadtest"))
        .args(["--quiet", "--addr", &addr, "--server-pid", &pid, "--sources", "2"])
        .arg("--json")
        .arg(&json)
        .args(["voice", "--rooms", "1", "--participants", "3", "--duration", "2", "--warmup", "1"])
        .args(["--connect-timeout", "30"])
        .output()
        .await
        .expect("run hearth-loadtest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "loadtest failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json written")).expect("json parses");
    let d = &report["deliveries"];
    assert_eq!(report["ready"], 3, "{stdout}");
    // 3 speakers × 2 listeners × 50 packets/s × 2 s, give or take the window's edges.
    assert!(d["expected"].as_u64().unwrap_or(0) >= 500, "{stdout}");
    assert_eq!(d["total"], d["expected"], "{stdout}");
    assert_eq!(d["lost"], 0, "{stdout}");
    assert!(report["latency"]["p50_ms"].as_f64().unwrap_or(0.0) > 0.0, "{stdout}");
    assert!(stdout.contains("hearth_voice_packets_forwarded_total"), "{stdout}");
    drop(server);
}
