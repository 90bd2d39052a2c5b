//! Tuning of the store: the writer's batch (documented in `docs/protocol.md`)
//! and the page cache (documented in `docs/operations.md`, "Sizing").

/// Requests the store writer drains into one commit at most.
pub const MAX_COMMIT_BATCH: usize = 1024;

/// Page cache in MiB when `--cache-mib` is not set and the memory this
/// process may use cannot be read (neither a cgroup limit nor the machine's RAM).
pub const DEFAULT_CACHE_MIB: u64 = 64;

/// When `--cache-mib` is not set, the cache gets this fraction (1/N) of the
/// memory the process may use: the smaller of the cgroup's memory limit and
/// the machine's RAM.
pub const CACHE_MEMORY_DIVISOR: u64 = 8;

/// The derived cache is at least this many MiB.
pub const MIN_AUTO_CACHE_MIB: u64 = 16;

/// The derived cache is at most this many MiB (a larger cache must be asked for).
pub const MAX_AUTO_CACHE_MIB: u64 = 512;
