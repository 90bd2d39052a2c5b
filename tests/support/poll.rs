//! Waiting for a condition with a deadline: the tests poll what they expect
//! instead of sleeping a fixed time and hoping it has happened.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often a condition is checked again.
pub const POLL_EVERY: Duration = Duration::from_millis(20);

/// Wait until `f` holds, checking every [`POLL_EVERY`]; panics naming `what`
/// after `within`.
pub async fn eventually(within: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Wait until `f` yields `Some`, checking every [`POLL_EVERY`]; returns the
/// value, or panics naming `what` after `within`.
pub async fn eventually_async<T, F: Future<Output = Option<T>>>(
    within: Duration,
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(POLL_EVERY).await;
    }
}
