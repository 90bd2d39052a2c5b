//! How much memory this process may use (its cgroup's limit, the machine's
//! RAM), and the storage cache derived from it when `--cache-mib` is not set.
//! The rule is documented in docs/operations.md, "Sizing".
//!
//! The limit is read from `/sys/fs/cgroup` (cgroup v2 `memory.max`, or v1
//! `memory.limit_in_bytes`, of this process's cgroup and every ancestor) and
//! from sysinfo(2) for the RAM: both stay readable under the shipped units'
//! `ProcSubset=pid`, which hides `/proc/meminfo`.

use std::path::{Path, PathBuf};

use crate::store::limits::{CACHE_MEMORY_DIVISOR, DEFAULT_CACHE_MIB, MAX_AUTO_CACHE_MIB, MIN_AUTO_CACHE_MIB};

/// Bytes in a MiB.
pub const MIB: u64 = 1 << 20;

/// Cgroup limits at or above this are "no limit" (cgroup v1 writes
/// `9223372036854771712`, page-rounded `i64::MAX`, for none).
const NO_LIMIT: u64 = 1 << 60;

/// Where the memory the process may use was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// A memory limit of the process's cgroup (or of an ancestor), below the RAM.
    Cgroup,
    /// The machine's RAM.
    Ram,
}

/// The memory this process may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    /// Bytes.
    pub bytes: u64,
    /// Where it came from.
    pub source: LimitSource,
}

/// The storage cache the server runs with, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSize {
    /// MiB.
    pub mib: u64,
    /// `None`: set with `--cache-mib`; otherwise derived from this limit
    /// (`Some(None)`: no limit could be read, so [`DEFAULT_CACHE_MIB`]).
    pub derived_from: Option<Option<MemoryLimit>>,
}

impl CacheSize {
    /// Bytes.
    pub fn bytes(&self) -> u64 {
        self.mib.saturating_mul(MIB)
    }
}

/// The cache for a process that may use `limit` bytes (None: unknown): an
/// eighth of it (`CACHE_MEMORY_DIVISOR`), between `MIN_AUTO_CACHE_MIB` and
/// `MAX_AUTO_CACHE_MIB`; `DEFAULT_CACHE_MIB` when the limit is unknown.
pub fn auto_cache_mib(limit: Option<u64>) -> u64 {
    match limit {
        Some(bytes) => (bytes / CACHE_MEMORY_DIVISOR / MIB).clamp(MIN_AUTO_CACHE_MIB, MAX_AUTO_CACHE_MIB),
        None => DEFAULT_CACHE_MIB,
    }
}

/// The cache to run with: `set` (from `--cache-mib`), or derived from the
/// memory this process may use.
pub fn cache_size(set: Option<u64>) -> CacheSize {
    match set {
        Some(mib) => CacheSize { mib, derived_from: None },
        None => {
            let limit = memory_limit();
            CacheSize { mib: auto_cache_mib(limit.map(|l| l.bytes)), derived_from: Some(limit) }
        }
    }
}

/// The memory this process may use: the tighter of its cgroup's limit and
/// the machine's RAM; None if neither can be read.
pub fn memory_limit() -> Option<MemoryLimit> {
    let ram = machine_ram().map(|bytes| MemoryLimit { bytes, source: LimitSource::Ram });
    let cgroup = cgroup_limit().map(|bytes| MemoryLimit { bytes, source: LimitSource::Cgroup });
    match (ram, cgroup) {
        (Some(r), Some(c)) if c.bytes < r.bytes => Some(c),
        (Some(r), _) => Some(r),
        (None, c) => c,
    }
}

/// The machine's RAM in bytes (sysinfo(2)).
pub fn machine_ram() -> Option<u64> {
    // SAFETY: sysinfo only writes into the struct we own.
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return None;
    }
    // c_ulong: u64 here, u32 on 32-bit targets.
    #[allow(clippy::useless_conversion)]
    let bytes = u64::from(info.totalram).saturating_mul(u64::from(info.mem_unit.max(1)));
    (bytes > 0).then_some(bytes)
}

/// Which cgroup hierarchy a line of `/proc/self/cgroup` belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hierarchy {
    /// The unified (v2) hierarchy: `0::/path`.
    V2,
    /// The v1 memory controller: `N:memory:/path` (or `N:memory,...:/path`).
    V1Memory,
}

/// The cgroups of `/proc/self/cgroup` that can hold a memory limit.
fn cgroups(proc_self_cgroup: &str) -> Vec<(Hierarchy, String)> {
    proc_self_cgroup
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let kind = if id == "0" && controllers.is_empty() {
                Hierarchy::V2
            } else if controllers.split(',').any(|c| c == "memory") {
                Hierarchy::V1Memory
            } else {
                return None;
            };
            Some((kind, path.to_string()))
        })
        .collect()
}

/// A limit file's value in bytes; None for "max", an unlimited value, or garbage.
fn parse_limit(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().filter(|b| *b < NO_LIMIT)
}

/// `dir` and each of its ancestors up to `root`.
fn self_and_ancestors(root: &Path, cgroup: &str) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut dir = root.to_path_buf();
    for part in cgroup.split('/').filter(|p| !p.is_empty() && *p != "." && *p != "..") {
        dir.push(part);
        out.push(dir.clone());
    }
    out
}

/// The tightest memory limit set on this process's cgroup or an ancestor.
pub fn cgroup_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let base = Path::new("/sys/fs/cgroup");
    let mut tightest: Option<u64> = None;
    for (kind, path) in cgroups(&text) {
        let (roots, file): (&[&str], &str) = match kind {
            // cgroup2 mounted at /sys/fs/cgroup, or beside v1 at .../unified.
            Hierarchy::V2 => (&["", "unified"], "memory.max"),
            Hierarchy::V1Memory => (&["memory"], "memory.limit_in_bytes"),
        };
        for root in roots {
            let root = if root.is_empty() { base.to_path_buf() } else { base.join(root) };
            for dir in self_and_ancestors(&root, &path) {
                if let Some(limit) = std::fs::read_to_string(dir.join(file)).ok().as_deref().and_then(parse_limit) {
                    tightest = Some(tightest.map_or(limit, |t| t.min(limit)));
                }
            }
        }
    }
    tightest
}

/// clap's value parser of `--cache-mib`: a whole number of MiB, at least 1,
/// and no more than the machine's RAM.
pub fn parse_cache_mib(s: &str) -> Result<u64, String> {
    check_cache_mib(s, machine_ram())
}

/// [`parse_cache_mib`] against a given RAM size (bytes; None: unknown).
fn check_cache_mib(s: &str, ram: Option<u64>) -> Result<u64, String> {
    let s = s.trim();
    let mib: u64 = match s.parse::<i128>() {
        Ok(n) if n <= 0 => {
            return Err(format!("{s} MiB: the storage cache must be at least 1 MiB (it cannot be turned off)"))
        }
        Ok(n) => u64::try_from(n).map_err(|_| format!("{s} MiB is more than any machine has"))?,
        Err(_) => return Err(format!("`{s}` is not a whole number of MiB (for example 64)")),
    };
    if let Some(ram) = ram {
        let ram_mib = ram / MIB;
        if mib > ram_mib {
            return Err(format!("{mib} MiB is more than this machine's memory ({ram_mib} MiB)"));
        }
    }
    Ok(mib)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_cache_is_an_eighth_within_bounds() {
        assert_eq!(auto_cache_mib(None), DEFAULT_CACHE_MIB);
        assert_eq!(auto_cache_mib(Some(512 * MIB)), 64, "the game-server unit's MemoryMax=512M");
        assert_eq!(auto_cache_mib(Some(1024 * MIB)), 128);
        assert_eq!(auto_cache_mib(Some(2048 * MIB)), 256);
        assert_eq!(auto_cache_mib(Some(4096 * MIB)), MAX_AUTO_CACHE_MIB);
        assert_eq!(auto_cache_mib(Some(64 * MIB)), MIN_AUTO_CACHE_MIB);
        assert_eq!(auto_cache_mib(Some(0)), MIN_AUTO_CACHE_MIB);
        assert_eq!(auto_cache_mib(Some(u64::MAX)), MAX_AUTO_CACHE_MIB);
    }

    #[test]
    fn cache_mib_refuses_zero_negative_garbage_and_more_than_ram() {
        let ram = Some(1024 * MIB);
        assert_eq!(check_cache_mib("64", ram), Ok(64));
        assert_eq!(check_cache_mib(" 1024 ", ram), Ok(1024));
        assert_eq!(check_cache_mib("5000", None), Ok(5000), "unknown RAM: no upper check");
        let err = |s: &str| check_cache_mib(s, ram).expect_err(s);
        assert!(err("0").contains("at least 1 MiB"), "{}", err("0"));
        assert!(err("-5").contains("at least 1 MiB"), "{}", err("-5"));
        assert!(err("lots").contains("not a whole number"), "{}", err("lots"));
        assert!(err("64.5").contains("not a whole number"), "{}", err("64.5"));
        assert!(err("").contains("not a whole number"));
        assert!(err("1025").contains("more than this machine's memory (1024 MiB)"), "{}", err("1025"));
        assert!(err("99999999999999999999999").contains("more than"), "{}", err("99999999999999999999999"));
    }

    #[test]
    fn cgroup_lines_and_limits_parse() {
        let v2 = "0::/system.slice/hearth.service\n";
        assert_eq!(cgroups(v2), [(Hierarchy::V2, "/system.slice/hearth.service".to_string())]);
        let hybrid = "9:name=systemd:/\n4:memory:/process_api/abc\n3:cpuset:/\n0::/\n";
        assert_eq!(
            cgroups(hybrid),
            [(Hierarchy::V1Memory, "/process_api/abc".to_string()), (Hierarchy::V2, "/".to_string())]
        );
        assert_eq!(cgroups("5:cpu,memory:/x\n"), [(Hierarchy::V1Memory, "/x".to_string())]);
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("536870912\n"), Some(512 * MIB));
        assert_eq!(parse_limit("9223372036854771712"), None, "v1's 'unlimited'");
        assert_eq!(parse_limit(""), None);
        let dirs = self_and_ancestors(Path::new("/sys/fs/cgroup"), "/a/b/c");
        let dirs: Vec<&str> = dirs.iter().filter_map(|d| d.to_str()).collect();
        assert_eq!(dirs, ["/sys/fs/cgroup", "/sys/fs/cgroup/a", "/sys/fs/cgroup/a/b", "/sys/fs/cgroup/a/b/c"]);
    }

    #[test]
    fn this_machine_has_ram_and_a_cache_within_bounds() {
        assert!(machine_ram().is_some_and(|r| r > 64 * MIB));
        let c = cache_size(None);
        assert!((MIN_AUTO_CACHE_MIB..=MAX_AUTO_CACHE_MIB).contains(&c.mib), "{c:?}");
        assert_eq!(cache_size(Some(12)), CacheSize { mib: 12, derived_from: None });
        assert_eq!(cache_size(Some(12)).bytes(), 12 * MIB);
    }
}
