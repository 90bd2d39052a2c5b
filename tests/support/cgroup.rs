//! A memory-capped cgroup for a test server: a child of this process's own
//! cgroup, cgroup v2 (`memory.max`, `memory.events`) or, on hosts that still
//! mount the v1 memory controller, v1 (`memory.limit_in_bytes`,
//! `memory.oom_control`). Creating one needs write access to the cgroup
//! tree (root, or a delegated subtree); where that is impossible
//! [`Cgroup::create`] says why and the caller falls back to measuring.

use std::path::{Path, PathBuf};

/// Which cgroup interface the cap uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The unified hierarchy.
    V2,
    /// The v1 memory controller.
    V1,
}

/// A cgroup with a memory limit, removed on drop (once its processes are gone).
#[derive(Debug)]
pub struct Cgroup {
    /// Its directory.
    pub dir: PathBuf,
    /// The interface.
    pub version: Version,
}

/// This process's cgroup in the hierarchy `want` (v2: `0::/path`; v1: the memory line).
fn own_path(want: Version) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|l| {
        let mut p = l.splitn(3, ':');
        let (id, ctl, path) = (p.next()?, p.next()?, p.next()?);
        let hit = match want {
            Version::V2 => id == "0" && ctl.is_empty(),
            Version::V1 => ctl.split(',').any(|c| c == "memory"),
        };
        hit.then(|| path.trim_start_matches('/').to_string())
    })
}

impl Cgroup {
    /// A new cgroup named `name` capped at `limit` bytes (no swap), or why not.
    pub fn create(name: &str, limit: u64) -> Result<Cgroup, String> {
        let mut why = Vec::new();
        match Self::create_v2(name, limit) {
            Ok(c) => return Ok(c),
            Err(e) => why.push(format!("v2: {e}")),
        }
        match Self::create_v1(name, limit) {
            Ok(c) => return Ok(c),
            Err(e) => why.push(format!("v1: {e}")),
        }
        Err(why.join("; "))
    }

    fn create_v2(name: &str, limit: u64) -> Result<Cgroup, String> {
        let root = Path::new("/sys/fs/cgroup");
        if !root.join("cgroup.controllers").exists() {
            return Err("no cgroup2 hierarchy at /sys/fs/cgroup".into());
        }
        let own = own_path(Version::V2).ok_or("not in a v2 cgroup")?;
        let parent = root.join(own);
        // The parent must hand the memory controller down (allowed for a
        // namespace's root cgroup, refused for one with processes of its own).
        let controllers = std::fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
        if !controllers.split_whitespace().any(|c| c == "memory") {
            std::fs::write(parent.join("cgroup.subtree_control"), "+memory")
                .map_err(|e| format!("cannot enable the memory controller in {}: {e}", parent.display()))?;
        }
        let dir = parent.join(name);
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let cg = Cgroup { dir, version: Version::V2 };
        cg.write("memory.max", &limit.to_string())?;
        // Swap would hide an overrun; not every kernel has the file.
        let _ = cg.write("memory.swap.max", "0");
        Ok(cg)
    }

    fn create_v1(name: &str, limit: u64) -> Result<Cgroup, String> {
        let root = Path::new("/sys/fs/cgroup/memory");
        if !root.join("memory.limit_in_bytes").exists() {
            return Err("no v1 memory controller at /sys/fs/cgroup/memory".into());
        }
        let own = own_path(Version::V1).ok_or("not in a v1 memory cgroup")?;
        let dir = root.join(own).join(name);
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let cg = Cgroup { dir, version: Version::V1 };
        cg.write("memory.limit_in_bytes", &limit.to_string())?;
        let _ = cg.write("memory.memsw.limit_in_bytes", &limit.to_string());
        let _ = cg.write("memory.swappiness", "0");
        Ok(cg)
    }

    fn write(&self, file: &str, value: &str) -> Result<(), String> {
        std::fs::write(self.dir.join(file), value).map_err(|e| format!("write {value} to {file}: {e}"))
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }

    /// `cgroup.procs`: writing a pid (or 0, "me") there moves a process in.
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// The cap in bytes, as the kernel reads it back.
    pub fn limit(&self) -> u64 {
        let file = if self.version == Version::V2 { "memory.max" } else { "memory.limit_in_bytes" };
        self.read(file).trim().parse().unwrap_or(u64::MAX)
    }

    /// Processes the kernel's OOM killer killed in this cgroup.
    pub fn oom_kills(&self) -> u64 {
        let file = if self.version == Version::V2 { "memory.events" } else { "memory.oom_control" };
        let text = self.read(file);
        text.lines().find_map(|l| l.strip_prefix("oom_kill ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    }

    /// Times the cgroup hit its cap (reclaim had to run): v2 `max` events, v1 `failcnt`.
    pub fn times_at_cap(&self) -> u64 {
        match self.version {
            Version::V2 => self.read("memory.events").lines().find_map(|l| l.strip_prefix("max ")?.trim().parse().ok()),
            Version::V1 => self.read("memory.failcnt").trim().parse().ok(),
        }
        .unwrap_or(0)
    }

    /// The most memory the cgroup held (page cache included), if the kernel says.
    pub fn peak(&self) -> Option<u64> {
        let file = if self.version == Version::V2 { "memory.peak" } else { "memory.max_usage_in_bytes" };
        self.read(file).trim().parse().ok()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Empty once the server is gone; a cgroup directory is removed with rmdir.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}
