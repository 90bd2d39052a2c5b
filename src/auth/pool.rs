//! The password-hashing pool: a fixed number of threads do every argon2 hash
//! and verification, fed from one bounded queue.
//!
//! Each argon2 call holds `argon2_memory_kib` of memory for its whole run. On
//! an unbounded blocking pool, a burst of logins (or of wrong current
//! passwords on `POST /users/@me/password`) runs that many hashes at once and
//! takes memory in proportion: hundreds of MiB within a second. Here at most
//! `threads` hashes run at once, so hashing never holds more than
//! `threads × argon2_memory_kib`; at most `queue` more wait, and past that a
//! request is refused at once ([`PoolError::Busy`], `503 overloaded`) instead
//! of waiting without bound.
//!
//! Unknown usernames are checked against a dummy hash made at start with the
//! configured cost, so that they take as long as a wrong password.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use rand::RngCore;
use tokio::sync::oneshot;

use super::{hash_password, verify_password, PasswordCost};

/// Why the pool did not do the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Every thread is busy and the queue is full.
    #[error("too many password checks are waiting")]
    Busy,
    /// The pool's threads are gone (the server is stopping), or hashing itself failed.
    #[error("password hashing is unavailable")]
    Failed,
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads and their queue.
pub struct HashPool {
    jobs: SyncSender<Job>,
    cost: PasswordCost,
    dummy: Arc<str>,
}

impl HashPool {
    /// Start `threads` hashing threads (at least one) with room for `queue`
    /// waiting jobs, hashing new passwords at `cost`.
    pub fn start(threads: usize, queue: usize, cost: PasswordCost) -> HashPool {
        let threads = threads.max(1);
        let (jobs, rx) = mpsc::sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("hearth-hash-{i}")).spawn(move || run(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password-hashing thread");
            }
        }
        HashPool { jobs, cost, dummy: dummy_hash(cost).into() }
    }

    /// Hash a new password at the configured cost.
    pub async fn hash(&self, password: String) -> Result<String, PoolError> {
        let cost = self.cost;
        self.run(move || hash_password(&password, cost).map_err(|_| PoolError::Failed)).await?
    }

    /// Check `password` against a stored hash, or against the dummy hash when
    /// there is none (an unknown username), which costs the same and fails.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, PoolError> {
        let known = phc.is_some();
        let phc: Arc<str> = phc.map_or_else(|| self.dummy.clone(), Arc::from);
        let ok = self.run(move || verify_password(&password, &phc)).await?;
        Ok(ok && known)
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, PoolError> {
        self.submit(f)?.await.map_err(|_| PoolError::Failed)
    }

    /// Queue `f`, or refuse at once when the queue is full.
    fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, PoolError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The request was dropped (client gone) while queued: skip the work.
            if !tx.is_closed() {
                let _ = tx.send(f());
            }
        });
        match self.jobs.try_send(job) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(PoolError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(PoolError::Failed),
        }
    }
}

fn run(rx: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while taking a job, not while running it.
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// A hash of a random password at `cost`: verifying anything against it takes
/// as long as verifying against a real hash made at the same cost.
fn dummy_hash(cost: PasswordCost) -> String {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    hash_password(&hex::encode(secret), cost).unwrap_or_else(|e| {
        tracing::error!(error = %e, "could not make the dummy password hash");
        String::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const CHEAP: PasswordCost = PasswordCost { memory_kib: 64, iterations: 1 };

    #[tokio::test]
    async fn hashes_and_verifies_and_unknown_users_never_match() {
        let pool = HashPool::start(2, 4, CHEAP);
        let h = pool.hash("correct horse".into()).await.unwrap();
        assert!(pool.verify("correct horse".into(), Some(h.clone())).await.unwrap());
        assert!(!pool.verify("wrong horse".into(), Some(h)).await.unwrap());
        assert!(!pool.verify("anything".into(), None).await.unwrap());
    }

    #[test]
    fn the_dummy_hash_has_the_configured_cost() {
        let cost = PasswordCost { memory_kib: 1024, iterations: 3 };
        let pool = HashPool::start(1, 1, cost);
        assert!(pool.dummy.starts_with("$argon2id$v=19$m=1024,t=3,p=1$"), "{}", pool.dummy);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let pool = HashPool::start(1, 1, CHEAP);
        // Occupy the one thread until told to go on.
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let busy = pool
            .submit(move || {
                let _ = started_tx.send(());
                let _ = wait.recv_timeout(Duration::from_secs(10));
            })
            .unwrap();
        started.recv_timeout(Duration::from_secs(10)).unwrap();
        // One job fits in the queue; the next is refused, and so is a hash.
        let queued = pool.submit(|| 1).unwrap();
        assert_eq!(pool.submit(|| 2).err(), Some(PoolError::Busy));
        assert_eq!(pool.hash("password".into()).await, Err(PoolError::Busy));
        go.send(()).unwrap();
        busy.await.unwrap();
        assert_eq!(queued.await, Ok(1));
        // Room again once the queue drained.
        assert!(pool.verify("x".into(), None).await.is_ok());
    }
}
