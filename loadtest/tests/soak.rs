//! The soak in miniature: the real (debug) server and the real load
//! generator run the `soak` scenario for 75 seconds (sends, typing,
//! presence, history scrolling, reconnects with RESUME, slow readers) with
//! samples every 5 s. It must end with no error, no lost or duplicated
//! delivery, every reconnect resumed, samples with the server's gauges, and a
//! memory verdict (whose logic is unit-tested in src/slope.rs). Nothing here
//! depends on the machine's speed.

#[path = "../../tests/support/mod.rs"]
mod support;

use support::Launch;
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_runs_end_to_end_without_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Heartbeats every 5 s, so replay buffers are trimmed within the run.
    let server = Launch::for_load().args(["--heartbeat-interval-ms", "5000", "--cache-mib", "16"]).start().await;
    let json = tmp.path().join("soak.json");
    let svg = tmp.path().join("soak.svg");
    let pid = server.pid().expect("server running").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_hearth-loadtest"))
        .args(["--quiet", "--addr", &server.addr, "--server-pid", &pid, "--sources", "2"])
        .arg("--json")
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .args(["soak", "--users", "60", "--guilds", "6", "--large-size", "40", "--rate", "10"])
        .args(["--reconnect-rate", "0.5", "--slow-share", "0.1", "--pause-every", "15", "--history-rate", "4"])
        .args(["--duration", "75", "--warmup", "25", "--sample-secs", "5"])
        .output()
        .await
        .expect("run hearth-loadtest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "soak failed: {stdout}\n{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).expect("json written")).expect("json");
    assert_eq!(r["ready"], 60, "{stdout}");
    assert_eq!(r["dropped"], 0, "{stdout}");
    assert_eq!(r["errors"], serde_json::json!({}), "{stdout}");
    let d = &r["deliveries"];
    assert!(d["total"].as_u64().unwrap_or(0) > 0, "{stdout}");
    assert_eq!(d["total"], d["expected"], "{stdout}");
    assert_eq!((&d["lost"], &d["duplicates"], &d["seq_gaps"]), (&0.into(), &0.into(), &0.into()), "{stdout}");
    let soak = &r["soak"];
    assert!(soak["history_pages"].as_u64().unwrap_or(0) > 0, "{stdout}");
    assert_eq!(soak["history_errors"], 0, "{stdout}");
    assert!(soak["reconnects"].as_u64().unwrap_or(0) >= 20, "{stdout}");
    assert!(soak["slow_readers"].as_u64().unwrap_or(0) >= 1, "{stdout}");
    let reconnected = r["closes"]["reconnected (resumed or re-identified)"].as_u64().unwrap_or(0);
    assert_eq!(Some(reconnected), soak["reconnects"].as_u64(), "every reconnect came back: {stdout}");
    let samples = soak["samples"].as_array().expect("samples");
    assert!(samples.len() >= 12, "{} samples: {stdout}", samples.len());
    for s in samples {
        assert!(s["rss_mib"].as_f64().unwrap_or(0.0) > 1.0, "{s}");
        assert!(s["store_mib"].as_f64().unwrap_or(0.0) > 0.0, "{s}");
        assert_eq!(s["sessions"], 60.0, "{s}");
    }
    // The cache never exceeds its 16 MiB bound.
    assert!(samples.iter().all(|s| s["cache_mib"].as_f64().unwrap_or(99.0) <= 16.0), "{stdout}");
    assert_eq!(soak["verdict"]["ok"], true, "{stdout}");
    assert!(soak["verdict"]["samples"].as_u64().unwrap_or(0) >= 8, "{stdout}");
    assert!(std::fs::read_to_string(&svg).expect("svg written").contains("<svg"));
    drop(server);
}
