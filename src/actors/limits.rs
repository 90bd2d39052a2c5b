//! Tuning of the actors (documented in `docs/protocol.md`).

/// Mailbox capacity of internal actors (hubs, channels, guilds). Deliveries
/// use `do_send`, which is not bounded by it; it only bounds awaited requests.
pub const INTERNAL_MAILBOX_CAPACITY: usize = 1 << 20;
