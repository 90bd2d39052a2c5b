//! CPU time and memory of this process (getrusage) and of the server (/proc).

use std::time::Instant;

/// CPU seconds (user + system) this process has used so far.
pub fn self_cpu_secs() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU seconds (user + system) of process `pid`, from /proc/PID/stat.
pub fn pid_cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields after it are space-separated.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line (11 and 12 after the name).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((utime + stime) / if hz > 0.0 { hz } else { 100.0 })
}

/// Resident set size of process `pid` in KiB, from /proc/PID/status.
pub fn pid_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Per core: (busy, interrupt, total) clock ticks since boot, from /proc/stat.
/// Busy counts user, nice, system and steal; interrupt counts irq and softirq
/// (on loopback, much of TCP's receive path runs there, charged to no process).
fn cores() -> Vec<(u64, u64, u64)> {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else { return Vec::new() };
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let v: Vec<u64> = l.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
            let at = |i: usize| v.get(i).copied().unwrap_or(0);
            let total: u64 = v.iter().take(8).sum();
            (at(0) + at(1) + at(2) + at(7), at(5) + at(6), total)
        })
        .collect()
}

/// CPU and memory readings at the start of a measured window.
#[derive(Debug, Clone)]
pub struct Mark {
    at: Instant,
    self_cpu: f64,
    server_cpu: Option<f64>,
    /// Server RSS at the mark, KiB.
    pub server_rss: Option<u64>,
    cores: Vec<(u64, u64, u64)>,
}

impl Mark {
    /// Read everything now.
    pub fn now(server: Option<u32>) -> Mark {
        Mark {
            at: Instant::now(),
            self_cpu: self_cpu_secs(),
            server_cpu: server.and_then(pid_cpu_secs),
            server_rss: server.and_then(pid_rss_kib),
            cores: cores(),
        }
    }
}

/// What was used between two marks.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Usage {
    /// Busy fraction of each core of the machine (every process, interrupts excluded).
    pub core_busy: Vec<f64>,
    /// Fraction of each core spent in interrupts and softirqs (loopback TCP receive work).
    pub core_irq: Vec<f64>,
    /// Wall-clock seconds between the marks.
    pub wall_s: f64,
    /// Generator CPU seconds.
    pub generator_cpu_s: f64,
    /// Generator CPU as a fraction of one core.
    pub generator_cores: f64,
    /// Server CPU seconds, if its pid was given.
    pub server_cpu_s: Option<f64>,
    /// Server CPU as a fraction of one core.
    pub server_cores: Option<f64>,
    /// Server RSS at the start, KiB.
    pub server_rss_start_kib: Option<u64>,
    /// Server RSS at the end, KiB.
    pub server_rss_end_kib: Option<u64>,
}

/// Usage from `a` to `b`.
pub fn between(a: &Mark, b: &Mark) -> Usage {
    let wall = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
    let server_cpu = a.server_cpu.zip(b.server_cpu).map(|(x, y)| y - x);
    let frac = |f: fn(&(u64, u64, u64)) -> u64| -> Vec<f64> {
        a.cores.iter().zip(&b.cores).map(|(x, y)| (f(y) - f(x)) as f64 / (y.2 - x.2).max(1) as f64).collect()
    };
    Usage {
        core_busy: frac(|c| c.0),
        core_irq: frac(|c| c.1),
        wall_s: wall,
        generator_cpu_s: b.self_cpu - a.self_cpu,
        generator_cores: (b.self_cpu - a.self_cpu) / wall,
        server_cpu_s: server_cpu,
        server_cores: server_cpu.map(|c| c / wall),
        server_rss_start_kib: a.server_rss,
        server_rss_end_kib: b.server_rss,
    }
}
