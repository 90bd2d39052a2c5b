//! The server-wide bound on bytes queued to gateway connections. Each
//! connection is bounded by `--max-outbound-bytes`, but a thousand readers
//! falling behind at once could each queue that much; the budget bounds the
//! sum. When the total is over `--max-total-outbound-bytes`, a delivery to a
//! connection that has at least `MIN_QUEUED_FOR_BUDGET_CLOSE` queued closes
//! it as a slow reader (4021): the connections furthest behind go first,
//! those that keep up are never closed for it, and they may resume.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::actors::limits::MIN_QUEUED_FOR_BUDGET_CLOSE;

/// Bytes queued to every connection together, against a maximum.
#[derive(Debug)]
pub struct OutboundBudget {
    total: AtomicUsize,
    max: usize,
}

impl OutboundBudget {
    /// A budget of `max` bytes.
    pub fn new(max: usize) -> OutboundBudget {
        OutboundBudget { total: AtomicUsize::new(0), max }
    }

    /// Count `n` more queued bytes; the total after.
    pub fn add(&self, n: usize) -> usize {
        self.total.fetch_add(n, Ordering::Relaxed).saturating_add(n)
    }

    /// `n` queued bytes were written or dropped.
    pub fn sub(&self, n: usize) {
        let _ = self.total.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| Some(t.saturating_sub(n)));
    }

    /// Bytes queued now.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// Whether a connection with `queued` bytes must close, the total being `total`.
    pub fn over(&self, total: usize, queued: usize) -> bool {
        total > self.max && queued >= MIN_QUEUED_FOR_BUDGET_CLOSE
    }
}

/// What bounds one session's outbound queue.
#[derive(Debug, Clone)]
pub struct OutboundLimits {
    /// Bytes this connection may have queued (`--max-outbound-bytes`).
    pub per_session: usize,
    /// The server-wide budget it shares.
    pub budget: std::sync::Arc<OutboundBudget>,
}

impl OutboundLimits {
    /// Only a per-session bound (tests).
    pub fn per_session(bytes: usize) -> OutboundLimits {
        OutboundLimits { per_session: bytes, budget: std::sync::Arc::new(OutboundBudget::new(usize::MAX)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connections_with_a_real_queue_close_and_only_over_the_budget() {
        let b = OutboundBudget::new(1000);
        assert_eq!(b.add(600), 600);
        assert!(!b.over(600, MIN_QUEUED_FOR_BUDGET_CLOSE), "under the budget nobody closes");
        let total = b.add(600);
        assert!(b.over(total, MIN_QUEUED_FOR_BUDGET_CLOSE));
        assert!(!b.over(total, MIN_QUEUED_FOR_BUDGET_CLOSE - 1), "a reader that keeps up is not closed");
        b.sub(1200);
        b.sub(5);
        assert_eq!(b.total(), 0, "never below zero");
    }
}
