//! Shared by the loadtest smoke tests: start the real (debug) hearth binary of
//! the same build on ephemeral ports and wait for its `listening on` line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server, killed on drop.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The hearth binary of the same build (cargo builds it for hearth's own
/// integration tests; `cargo test --workspace` runs both).
fn hearth_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe path");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/hearth
    let bin = exe.parent().and_then(|d| d.parent()).expect("target dir").join("hearth");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --bin hearth` (or `cargo test --workspace`) first",
        bin.display()
    );
    bin
}

/// Start `hearth serve` on a loopback port with limits raised for load and
/// voice on an ephemeral port; returns the server and its HTTP address.
pub fn start_server(data: &Path) -> (Server, String) {
    let mut child = Command::new(hearth_bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1", "--log-level", "warn"])
        .arg("--data")
        .arg(data)
        .args(["--rate-limit-scale", "10000", "--max-connections-per-ip", "100000"])
        .args(["--argon2-memory-kib", "256", "--argon2-iterations", "1"])
        // Tests run in parallel: voice off its default port.
        .args(["--voice-bind", "127.0.0.1:0"])
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
