//! Tuning of the actors (documented in `docs/protocol.md`).

use std::time::Duration;

/// Default idle time after which a channel or guild actor with no readers
/// stops (configurable with `--actor-idle-secs`).
pub const ACTOR_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Mailbox capacity of internal actors (hubs, channels, guilds). Deliveries
/// use `do_send`, which is not bounded by it; it only bounds awaited requests.
pub const INTERNAL_MAILBOX_CAPACITY: usize = 1 << 20;
