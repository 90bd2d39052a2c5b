//! Tuning of the store's writer (documented in `docs/protocol.md`).

/// Requests the store writer drains into one commit at most.
pub const MAX_COMMIT_BATCH: usize = 1024;
