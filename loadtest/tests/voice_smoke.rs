//! Smoke test of the voice scenario: start the real (debug) hearth binary with
//! voice on an ephemeral loopback port, run one room of three str0m peers for
//! two seconds through the real load generator, and check that packets were
//! forwarded, none was lost and the server's own counter agrees.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(data: &std::path::Path) -> (Server, String) {
    let exe = std::env::current_exe().expect("test exe path");
    // target/<profile>/deps/voice_smoke-<hash> → target/<profile>/hearth
    let bin = exe.parent().and_then(|d| d.parent()).expect("target dir").join("hearth");
    assert!(bin.exists(), "{} is missing: run `cargo build --bin hearth` first", bin.display());
    let mut child = Command::new(bin)
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1", "--log-level", "warn"])
        .arg("--data")
        .arg(data)
        .args(["--rate-limit-scale", "10000", "--argon2-memory-kib", "256", "--argon2-iterations", "1"])
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
    std::thread::spawn(move || for _ in lines {});
    (server, addr)
}

#[test]
fn voice_forwards_every_packet() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, addr) = start_server(&tmp.path().join("data"));
    let json = tmp.path().join("report.json");
    let pid = server.0.id().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_hearth-loadtest"))
        .args(["--quiet", "--addr", &addr, "--server-pid", &pid, "--sources", "2"])
        .arg("--json")
        .arg(&json)
        .args(["voice", "--rooms", "1", "--participants", "3", "--duration", "2", "--warmup", "1"])
        .args(["--connect-timeout", "30"])
        .output()
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
