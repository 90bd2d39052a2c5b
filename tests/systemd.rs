//! Running under systemd, tested without systemd:
//!
//! - the real binary speaks the `sd_notify` protocol to a unix datagram socket
//!   standing in for the service manager (`NOTIFY_SOCKET`): READY=1 with a
//!   STATUS line once listening, WATCHDOG=1 pings while healthy, STOPPING=1 on
//!   SIGTERM, no ping after it, exit 0;
//! - `systemd-analyze verify` accepts the shipped units, and
//!   `systemd-analyze security` scores them no worse than docs/operations.md says.

#[path = "support/mod.rs"]
mod support;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Launch, Running};

/// Start `hearth serve` with `NOTIFY_SOCKET` pointing at `notify` and the
/// given watchdog variables; wait for its `listening on` line.
async fn start(notify: &Path, watchdog: &[(&str, &str)]) -> Running {
    let launch = Launch::serve().args(["--workers", "1"]).env("RUST_LOG", "warn").env("NOTIFY_SOCKET", notify);
    watchdog.iter().fold(launch, |l, (k, v)| l.env(k, v)).start().await
}

/// The service manager's end of the notify socket.
struct Manager {
    sock: UnixDatagram,
    path: PathBuf,
}

impl Manager {
    fn bind(dir: &Path) -> Manager {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).expect("bind notify socket");
        Manager { sock, path }
    }

    /// Next datagram, or None once `deadline` passes.
    fn recv(&self, deadline: Instant) -> Option<String> {
        let left = deadline.checked_duration_since(Instant::now())?;
        self.sock.set_read_timeout(Some(left.max(Duration::from_millis(1)))).expect("timeout");
        let mut buf = [0u8; 4096];
        match self.sock.recv(&mut buf) {
            Ok(n) => Some(String::from_utf8(buf[..n].to_vec()).expect("utf-8 datagram")),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => None,
            Err(e) => panic!("recv: {e}"),
        }
    }

    /// Datagrams until one has `line` among its lines; returns those before it and it.
    fn until(&self, line: &str, within: Duration) -> (Vec<String>, String) {
        let deadline = Instant::now() + within;
        let mut before = Vec::new();
        loop {
            let Some(d) = self.recv(deadline) else {
                panic!("no {line} within {within:?}; got {before:?}");
            };
            if d.lines().any(|l| l == line) {
                return (before, d);
            }
            before.push(d);
        }
    }
}

// Multi-threaded: the manager's blocking reads must not stall the server's log reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_ready_watchdog_stopping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manager = Manager::bind(dir.path());
    // 200 ms watchdog: pings every 100 ms. WATCHDOG_PID is left unset, which
    // (like sd_watchdog_enabled(3)) means "this process".
    let mut hearth = start(&manager.path, &[("WATCHDOG_USEC", "200000")]).await;

    let (before, ready) = manager.until("READY=1", Duration::from_secs(30));
    assert!(before.is_empty(), "datagrams before READY=1: {before:?}");
    let status = format!("STATUS=listening on {}", hearth.addr);
    assert!(ready.lines().any(|l| l == status), "READY datagram {ready:?} lacks {status:?}");

    // Pings keep coming, each a datagram of its own.
    let mut pings = Vec::new();
    let started = Instant::now();
    while pings.len() < 8 {
        let d = manager.recv(started + Duration::from_secs(20)).expect("watchdog pings stopped");
        assert_eq!(d, "WATCHDOG=1\n", "unexpected datagram while running");
        pings.push(Instant::now());
    }
    let gaps: Vec<Duration> = pings.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("watchdog ping gaps: {gaps:?}");
    // 100 ms apart by design; only a very slow machine could stretch this far.
    assert!(gaps.iter().all(|g| *g < Duration::from_secs(2)), "ping gaps {gaps:?}");

    hearth.signal(libc::SIGTERM);
    let (before, stopping) = manager.until("STOPPING=1", Duration::from_secs(10));
    assert!(before.iter().all(|d| d == "WATCHDOG=1\n"), "before STOPPING=1: {before:?}");
    assert!(stopping.lines().any(|l| l.starts_with("STATUS=")), "STOPPING without STATUS: {stopping:?}");

    let status = hearth.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status:?}");
    // Nothing after STOPPING=1: no ping, no second READY. The process has
    // exited, so whatever it sent is already queued on the socket: no need
    // to wait for more.
    let mut after = Vec::new();
    while let Some(d) = manager.recv(Instant::now() + Duration::from_millis(5)) {
        after.push(d);
    }
    assert!(after.is_empty(), "datagrams after STOPPING=1: {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_meant_for_another_process_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manager = Manager::bind(dir.path());
    // WATCHDOG_PID names a different process (pid 1): not ours to ping.
    let mut hearth = start(&manager.path, &[("WATCHDOG_USEC", "200000"), ("WATCHDOG_PID", "1")]).await;
    manager.until("READY=1", Duration::from_secs(30));
    // Pings would come every 100 ms: three missed intervals prove there are none.
    let quiet = manager.recv(Instant::now() + Duration::from_millis(300));
    assert_eq!(quiet, None, "no ping expected when WATCHDOG_PID is another process");
    hearth.signal(libc::SIGTERM);
    let (before, _) = manager.until("STOPPING=1", Duration::from_secs(10));
    assert!(before.is_empty(), "{before:?}");
    assert!(hearth.wait_exit(Duration::from_secs(30)).await.success());
}

const UNITS: [&str; 2] = ["hearth.service", "hearth-gameserver.service"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `systemd-analyze` can run here; under CI=true it must.
fn have_systemd_analyze() -> bool {
    let found = Command::new("systemd-analyze").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "systemd-analyze is required under CI=true (.ci/run installs the systemd package)"
        );
        eprintln!("\n==============================================");
        eprintln!("SKIPPED: systemd-analyze not installed");
        eprintln!("(apt-get install systemd to run this check)");
        eprintln!("==============================================\n");
    }
    found
}

#[test]
fn units_pass_systemd_analyze_verify() {
    if !have_systemd_analyze() {
        return;
    }
    // verify checks that ExecStart= exists: point it at the binary just built.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut paths = Vec::new();
    for unit in UNITS {
        let text = std::fs::read_to_string(root().join("systemd").join(unit)).expect("read unit");
        let exec = "ExecStart=/usr/local/bin/hearth ";
        assert!(text.contains(exec), "{unit}: expected `{exec}...`");
        let text = text.replace(exec, &format!("ExecStart={} ", support::hearth_bin().display()));
        let path = dir.path().join(unit);
        std::fs::write(&path, text).expect("write unit");
        paths.push(path);
    }
    let out = Command::new("systemd-analyze").arg("verify").args(&paths).output().expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // verify exits 0 even for unknown keys or unparsable values; it only
    // complains on stderr. Any complaint about our files fails the test.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| UNITS.iter().any(|u| l.contains(u)) || l.contains(&*dir.path().to_string_lossy()))
        .collect();
    if !stderr.trim().is_empty() {
        eprintln!("systemd-analyze verify said:\n{stderr}");
    }
    assert!(out.status.success(), "systemd-analyze verify failed: {stderr}");
    assert!(ours.is_empty(), "systemd-analyze verify complained about the units:\n{}", ours.join("\n"));
}

#[test]
fn units_score_no_worse_than_documented() {
    if !have_systemd_analyze() {
        return;
    }
    let docs = std::fs::read_to_string(root().join("docs/operations.md")).expect("read docs/operations.md");
    for unit in UNITS {
        let marker = format!("Overall exposure level for {unit}: ");
        let score = |text: &str| -> Option<f64> {
            let rest = &text[text.find(&marker)? + marker.len()..];
            rest.split_whitespace().next()?.parse().ok()
        };
        let documented = score(&docs).unwrap_or_else(|| panic!("docs/operations.md does not record `{marker}N.N`"));
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(root().join("systemd").join(unit))
            .output()
            .expect("run systemd-analyze security");
        let text = String::from_utf8_lossy(&out.stdout);
        let actual = score(&text).unwrap_or_else(|| {
            panic!("no score in systemd-analyze security output:\n{text}\n{}", String::from_utf8_lossy(&out.stderr))
        });
        eprintln!("{unit}: exposure {actual} (documented {documented})");
        assert!(actual <= documented, "{unit}: exposure {actual} is worse than the documented {documented}");
    }
}

/// `KEY=` values of a unit (the last one wins, as in systemd).
fn unit_value(text: &str, key: &str) -> Option<String> {
    text.lines().filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('=')).next_back().map(|v| v.trim().to_string())
}

/// A systemd size (`512M`, `1G`, bytes) in bytes.
fn unit_bytes(v: &str) -> u64 {
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = num.parse().unwrap_or_else(|_| panic!("not a size: {v}"));
    n << match unit {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        other => panic!("unknown size unit {other} in {v}"),
    }
}

/// A unit with `MemoryMax=` sets `HEARTH_CACHE_MIB` to what Hearth would
/// derive from that limit (so the two are visibly tied and change together),
/// and what it sets leaves room under `MemoryHigh=` for the rest of the
/// budget of docs/operations.md ("Sizing").
#[test]
fn units_size_the_storage_cache_to_their_memory_limit() {
    let mut checked = 0;
    for unit in UNITS {
        let text = std::fs::read_to_string(root().join("systemd").join(unit)).expect("read unit");
        let cache = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Environment=HEARTH_CACHE_MIB="))
            .next_back()
            .map(|v| v.parse::<u64>().unwrap_or_else(|_| panic!("{unit}: HEARTH_CACHE_MIB={v} is not a number")));
        let Some(max) = unit_value(&text, "MemoryMax").map(|v| unit_bytes(&v)) else {
            assert_eq!(cache, None, "{unit}: no MemoryMax=, so let Hearth size the cache from the RAM");
            continue;
        };
        let cache = cache.unwrap_or_else(|| panic!("{unit} has MemoryMax= but does not set HEARTH_CACHE_MIB"));
        assert_eq!(cache, hearth::config::memory::auto_cache_mib(Some(max)), "{unit}: cache vs MemoryMax={max}");
        if let Some(high) = unit_value(&text, "MemoryHigh").map(|v| unit_bytes(&v)) {
            assert!(high < max, "{unit}: MemoryHigh= must be below MemoryMax=");
            assert!(cache << 20 <= high / 4, "{unit}: a {cache} MiB cache leaves too little of MemoryHigh={high}");
        }
        checked += 1;
    }
    assert!(checked >= 1, "no unit with MemoryMax= was checked");
}
