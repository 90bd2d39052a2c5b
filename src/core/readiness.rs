//! Readiness: whether the server accepts work and its store commits writes
//! (what `/readyz` and the systemd watchdog report).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::store::{Store, StoreError, Write};

/// How long one storage probe answers for: scrapes more often than this do
/// not touch the disk.
const PROBE_TTL: Duration = Duration::from_secs(1);
/// A probe write that has not committed by then counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What `/readyz` reports: "accepting" (cleared when the shutdown signal
/// arrives) and "storage writable" (a probe write, cached for `PROBE_TTL`).
pub struct Readiness {
    accepting: AtomicBool,
    /// When the last probe finished, and its outcome (a one-line reason on failure).
    last_probe: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness { accepting: AtomicBool::new(true), last_probe: tokio::sync::Mutex::new(None) }
    }
}

impl Readiness {
    /// The server is shutting down: `/readyz` answers 503 from now on.
    pub fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::SeqCst);
    }

    /// Whether the server still accepts work.
    pub fn accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }

    /// `Ok` if the server accepts work and a store write commits; else why not.
    pub async fn check(&self, store: &Store) -> Result<(), String> {
        if !self.accepting() {
            return Err("shutting down".into());
        }
        // One probe at a time; callers arriving meanwhile share its result.
        let mut last = self.last_probe.lock().await;
        if let Some((at, result)) = &*last {
            if at.elapsed() < PROBE_TTL {
                return result.clone();
            }
        }
        let result = probe_write(store).await;
        *last = Some((Instant::now(), result.clone()));
        result
    }
}

/// Commit one small write (the META key `readyz_probe`) through the writer.
async fn probe_write(store: &Store) -> Result<(), String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let write = store.write(move |txn| txn.readyz_probe(now));
    match tokio::time::timeout(PROBE_TIMEOUT, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err::<(), StoreError>(e)) => Err(format!("storage not writable: {e}")),
        Err(_) => Err(format!("storage not writable: no commit within {PROBE_TIMEOUT:?}")),
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use redb::backends::InMemoryBackend;
    use redb::StorageBackend;

    use super::Readiness;
    use crate::model::ids::IdGenerator;
    use crate::store::Store;

    /// An in-memory disk whose writes and syncs fail once `broken` is set.
    struct Flaky {
        inner: InMemoryBackend,
        broken: Arc<AtomicBool>,
    }

    impl std::fmt::Debug for Flaky {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Flaky").finish()
        }
    }

    impl Flaky {
        fn check(&self) -> Result<(), io::Error> {
            if self.broken.load(Ordering::SeqCst) {
                return Err(io::Error::other("simulated I/O error"));
            }
            Ok(())
        }
    }

    impl StorageBackend for Flaky {
        fn len(&self) -> Result<u64, io::Error> {
            self.inner.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
            self.inner.read(offset, out)
        }
        fn set_len(&self, len: u64) -> Result<(), io::Error> {
            self.check()?;
            self.inner.set_len(len)
        }
        fn sync_data(&self) -> Result<(), io::Error> {
            self.check()?;
            self.inner.sync_data()
        }
        fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
            self.check()?;
            self.inner.write(offset, data)
        }
    }

    #[tokio::test]
    async fn readyz_fails_when_writes_cannot_commit_and_when_shutting_down() {
        let broken = Arc::new(AtomicBool::new(false));
        let backend = Flaky { inner: InMemoryBackend::new(), broken: broken.clone() };
        let db = redb::Database::builder().create_with_backend(backend).unwrap();
        let store = Store::from_database(db, Arc::new(IdGenerator::new(0))).unwrap();
        let r = Readiness::default();
        assert_eq!(r.check(&store).await, Ok(()));
        broken.store(true, Ordering::SeqCst);
        // Within a second the last probe's result is reused: no disk access.
        assert_eq!(r.check(&store).await, Ok(()));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let err = r.check(&store).await.unwrap_err();
        assert!(err.starts_with("storage not writable: "), "{err}");
        r.stop_accepting();
        assert_eq!(r.check(&store).await, Err("shutting down".to_string()));
        store.shutdown();
    }
}
