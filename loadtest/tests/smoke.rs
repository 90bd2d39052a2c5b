//! Smoke test: start the real (debug) hearth binary, run a two-second fanout
//! with 20 readers through the real load generator, and check that every
//! delivery arrived exactly once and that the JSON report parses.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The hearth binary of the same build (cargo builds it for hearth's own
/// integration tests; `cargo test --workspace` runs both).
fn hearth_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe path");
    // target/<profile>/deps/smoke-<hash> → target/<profile>/hearth
    let bin = exe.parent().and_then(|d| d.parent()).expect("target dir").join("hearth");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --bin hearth` (or `cargo test --workspace`) first",
        bin.display()
    );
    bin
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(data: &std::path::Path) -> (Server, String) {
    let mut child = Command::new(hearth_bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1", "--log-level", "warn"])
        .arg("--data")
        .arg(data)
        .args(["--rate-limit-scale", "10000", "--max-connections-per-ip", "100000"])
        .args(["--argon2-memory-kib", "256", "--argon2-iterations", "1"])
        // Voice off its default port (tests run in parallel); a variable, not a flag,
        // so that a server without voice ignores it.
        .env("HEARTH_VOICE_BIND", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn hearth");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    let addr = loop {
        assert!(started.elapsed() < Duration::from_secs(30), "server did not start");
        match lines.next() {
            Some(Ok(l)) => {
                if let Some(a) = l.strip_prefix("listening on ") {
                    break a.trim().to_string();
                }
            }
            _ => panic!("server exited before listening"),
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (server, addr)
}

#[test]
fn fanout_delivers_every_message_exactly_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, addr) = start_server(&tmp.path().join("data"));
    let json = tmp.path().join("report.json");
    let svg = tmp.path().join("report.svg");
    let pid = server.0.id().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_hearth-loadtest"))
        .args(["--quiet", "--addr", &addr, "--server-pid", &pid, "--sources", "2"])
        .arg("--json")
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .args(["fanout", "--readers", "20", "--senders", "2", "--rate", "50", "--duration", "2", "--warmup", "1"])
        .output()
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
