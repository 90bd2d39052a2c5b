//! Tuning of the actors (documented in `docs/protocol.md`; the outbound
//! budget in `docs/operations.md`, "Sizing").

/// Mailbox capacity of internal actors (hubs, channels, guilds). Deliveries
/// use `do_send`, which is not bounded by it; it only bounds awaited requests.
pub const INTERNAL_MAILBOX_CAPACITY: usize = 1 << 20;

/// Bytes queued to all gateway connections together, by default
/// (`--max-total-outbound-bytes`); past it, connections with at least
/// `MIN_QUEUED_FOR_BUDGET_CLOSE` queued are closed as slow readers.
pub const MAX_TOTAL_OUTBOUND_BYTES: usize = 64 * 1024 * 1024;

/// A connection is closed for the server-wide outbound budget only if it has
/// at least this many bytes queued itself.
pub const MIN_QUEUED_FOR_BUDGET_CLOSE: usize = 64 * 1024;
