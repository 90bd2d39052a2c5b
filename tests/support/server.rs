//! The one server launcher: the real `hearth` binary on a fresh temporary
//! data dir, HTTP on an ephemeral loopback port and voice on another
//! (`--voice-bind 127.0.0.1:0`: test binaries run servers in parallel),
//! ready once it prints `listening on ADDR`, killed when dropped.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::{ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{Http, WAIT};

/// Variables that would reach into a test server from the developer's
/// environment (besides every `HEARTH_*` one).
const FOREIGN_ENV: &[&str] = &["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "RUST_LOG"];

/// The `hearth` binary of this build: cargo names it for hearth's own test
/// binaries; other packages' tests (the loadtest's) find it beside their
/// own executable (`target/<profile>/deps/<test>` → `target/<profile>/hearth`).
pub fn hearth_bin() -> PathBuf {
    if let Some(bin) = option_env!("CARGO_BIN_EXE_hearth") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe.parent().and_then(|d| d.parent()).expect("target dir").join("hearth");
    assert!(bin.exists(), "{} is missing: run `cargo build --bin hearth` first", bin.display());
    bin
}

/// `hearth ARGS` with the environment cleaned of `HEARTH_*` and systemd
/// variables, plus `env`.
fn command(args: &[OsString], env: &[(OsString, Option<OsString>)]) -> Command {
    let mut cmd = Command::new(hearth_bin());
    cmd.args(args).stdin(Stdio::null()).kill_on_drop(true);
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("HEARTH_") || FOREIGN_ENV.contains(&k)) {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd
}

/// Run `hearth ARGS` (backup, restore, admin, a server that must refuse to
/// start...) to completion with a clean environment plus `env`.
pub async fn run_hearth(args: &[&str], env: &[(&str, &str)]) -> Output {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    let env: Vec<_> = env.iter().map(|(k, v)| (OsString::from(k), Some(OsString::from(v)))).collect();
    let out = command(&args, &env).stdout(Stdio::piped()).stderr(Stdio::piped()).output();
    tokio::time::timeout(WAIT * 6, out).await.expect("hearth finished in time").expect("run hearth")
}

/// How to start a server: `hearth serve` with test defaults and extra flags
/// and variables.
#[derive(Clone, Debug)]
pub struct Launch {
    /// `serve --bind 127.0.0.1:0 --data DIR` first (false: the arguments are the whole command line).
    defaults: bool,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    data: Option<PathBuf>,
    /// `cgroup.procs` of a cgroup to start the server in.
    cgroup: Option<PathBuf>,
}

impl Launch {
    /// `hearth serve --bind 127.0.0.1:0 --voice-bind 127.0.0.1:0 --data TMP`
    /// (unless the flags given say otherwise), logging at `info` into [`Running::log`].
    pub fn serve() -> Launch {
        Launch { defaults: true, args: Vec::new(), env: vec![var("RUST_LOG", "info")], data: None, cgroup: None }
    }

    /// `hearth serve` for load: one worker, rate and connection limits raised,
    /// cheap password hashing, quieter logs (the load generator's smoke tests).
    pub fn for_load() -> Launch {
        Launch::serve()
            .args(["--workers", "1", "--rate-limit-scale", "10000", "--max-connections-per-ip", "100000"])
            .args(["--argon2-memory-kib", "256", "--argon2-iterations", "1"])
            .env("RUST_LOG", "warn")
    }

    /// `hearth ARGS` exactly, for stories about the command line itself; voice
    /// still gets an ephemeral port through `HEARTH_VOICE_BIND` unless set.
    pub fn raw(args: &[&str]) -> Launch {
        let env = vec![var("RUST_LOG", "info"), var("HEARTH_VOICE_BIND", "127.0.0.1:0")];
        Launch { defaults: false, args: args.iter().map(OsString::from).collect(), env, data: None, cgroup: None }
    }

    /// One more argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Launch {
        self.args.push(a.as_ref().to_owned());
        self
    }

    /// More arguments.
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Launch {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Set a variable for the server.
    pub fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Launch {
        self.env.push((OsString::from(k), Some(v.as_ref().to_owned())));
        self
    }

    /// Unset a variable for the server.
    pub fn env_remove(mut self, k: &str) -> Launch {
        self.env.push((OsString::from(k), None));
        self
    }

    /// Serve this data dir instead of a fresh temporary one.
    pub fn data(mut self, dir: impl Into<PathBuf>) -> Launch {
        self.data = Some(dir.into());
        self
    }

    /// Start the server inside the cgroup whose `cgroup.procs` file this is
    /// (see `support::cgroup`): it joins before `exec`, so everything it ever
    /// allocates is charged there.
    pub fn in_cgroup(mut self, procs_file: impl Into<PathBuf>) -> Launch {
        self.cgroup = Some(procs_file.into());
        self
    }

    fn has(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a == flag)
    }

    /// The full command line for `data`.
    fn command_line(&self, data: &std::path::Path) -> Vec<OsString> {
        if !self.defaults {
            return self.args.clone();
        }
        let mut all: Vec<OsString> = ["serve", "--bind", "127.0.0.1:0"].map(OsString::from).to_vec();
        all.extend([OsString::from("--data"), data.as_os_str().to_owned()]);
        if !self.has("--voice-bind") && !self.has("--no-voice") {
            all.extend(["--voice-bind", "127.0.0.1:0"].map(OsString::from));
        }
        all.extend(self.args.iter().cloned());
        all
    }

    /// Start the server and wait for its `listening on` line.
    pub async fn start(self) -> Running {
        let (tmp, data) = match &self.data {
            Some(d) => (None, d.clone()),
            None => {
                let tmp = tempfile::tempdir().expect("tempdir");
                let data = tmp.path().join("data");
                (Some(tmp), data)
            }
        };
        let mut cmd = command(&self.command_line(&data), &self.env);
        if let Some(procs) = &self.cgroup {
            join_before_exec(&mut cmd, procs);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn hearth");
        let log: Arc<Mutex<Vec<String>>> = Default::default();
        let sink = log.clone();
        let mut err = BufReader::new(child.stderr.take().expect("stderr piped")).lines();
        let stderr_done = tokio::spawn(async move {
            while let Ok(Some(l)) = err.next_line().await {
                sink.lock().unwrap().push(l);
            }
        });
        let (addr, voice) = listening(&mut child, &log).await;
        Running { addr, voice, data, log, child: Some(child), stderr_done: Some(stderr_done), _tmp: tmp }
    }
}

/// Make the child write "0" (itself) into `procs` between fork and exec.
fn join_before_exec(cmd: &mut Command, procs: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(procs.as_os_str().as_bytes()).expect("cgroup path without NUL");
    // SAFETY: between fork and exec only async-signal-safe calls are made
    // (open, write, close) on memory prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let n = libc::write(fd, b"0\n".as_ptr().cast(), 2);
            let err = std::io::Error::last_os_error();
            libc::close(fd);
            if n != 2 {
                return Err(err);
            }
            Ok(())
        });
    }
}

fn var(k: &str, v: &str) -> (OsString, Option<OsString>) {
    (OsString::from(k), Some(OsString::from(v)))
}

/// Read stdout up to `listening on ADDR` (noting `voice listening on ADDR`),
/// then keep draining it in the background so the server never blocks on it.
async fn listening(child: &mut Child, log: &Arc<Mutex<Vec<String>>>) -> (String, Option<String>) {
    let mut out = BufReader::new(child.stdout.take().expect("stdout piped")).lines();
    let found = tokio::time::timeout(WAIT, async {
        let mut voice = None;
        while let Ok(Some(line)) = out.next_line().await {
            if let Some(rest) = line.strip_prefix("voice listening on ") {
                voice = rest.split_whitespace().next().map(str::to_string);
            }
            if let Some(a) = line.strip_prefix("listening on ") {
                return Some((a.trim().to_string(), voice));
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(found)) => {
            tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
            found
        }
        Ok(None) => {
            // Give the stderr reader a moment to collect why.
            let _ = tokio::time::timeout(Duration::from_secs(1), child.wait()).await;
            panic!("server exited before listening: {:?}", log.lock().unwrap())
        }
        Err(_) => panic!("server did not start within {WAIT:?}: {:?}", log.lock().unwrap()),
    }
}

/// A started server.
pub struct Running {
    /// The HTTP address (`IP:PORT`).
    pub addr: String,
    /// The voice UDP address, if voice is on.
    pub voice: Option<String>,
    /// Its data dir.
    pub data: PathBuf,
    /// Its stderr (the log), line by line.
    pub log: Arc<Mutex<Vec<String>>>,
    child: Option<Child>,
    stderr_done: Option<tokio::task::JoinHandle<()>>,
    _tmp: Option<tempfile::TempDir>,
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failing test shows what the server said (libtest prints a failed test's output).
        if std::thread::panicking() {
            if let Ok(log) = self.log.lock() {
                eprintln!("--- hearth log ({}) ---\n{}", self.addr, log.join("\n"));
            }
        }
    }
}

impl Running {
    /// `http://ADDR` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://ADDR/api/v1` + path.
    pub fn api(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.addr)
    }

    /// An HTTP client for this server (paths from the root).
    pub fn http(&self) -> Http {
        Http::new(format!("http://{}", self.addr))
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Send `sig` to the server.
    pub fn signal(&self, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(self.pid().expect("server running")).expect("pid");
        // SAFETY: kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
    }

    /// Wait up to `within` for the process to exit.
    pub async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("server running");
        let status = tokio::time::timeout(within, child.wait()).await;
        let status = status.unwrap_or_else(|_| panic!("server did not exit within {within:?}")).expect("wait");
        self.child = None;
        status
    }

    /// SIGTERM and wait for the exit; its status.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(WAIT).await
    }

    /// SIGTERM, a clean exit, and the whole log once stderr has closed.
    pub async fn stop(mut self) -> Vec<String> {
        let status = self.terminate().await;
        assert!(status.success(), "server exited with {status}");
        if let Some(done) = self.stderr_done.take() {
            tokio::time::timeout(WAIT, done).await.expect("stderr closed").expect("stderr reader");
        }
        self.log_lines()
    }

    /// Kill -9 and reap.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
            let _ = c.wait().await;
        }
    }

    /// A copy of the log so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Whether the server logged a panic.
    pub fn logged_panic(&self) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains("panicked"))
    }

    /// Wait until the server has logged a line containing `text`.
    pub async fn logged(&self, text: &str) {
        let what = format!("a log line with {text:?}");
        super::eventually(WAIT, &what, || self.log.lock().unwrap().iter().any(|l| l.contains(text))).await;
    }

    /// The server's resident memory in KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        let pid = self.pid().expect("server running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}
