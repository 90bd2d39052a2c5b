//! The single writer thread and its group commit.
//!
//! Requests queue on a channel. The thread takes the first, drains whatever
//! else is waiting (up to `MAX_COMMIT_BATCH`), applies them all in one write
//! transaction, commits once (one fsync), then answers every request of the
//! batch. Under load many messages share one fsync; when idle a single write
//! commits at once, so latency stays one commit.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use redb::{Database, WriteTransaction};
use tokio::sync::oneshot;

use super::StoreError;
use crate::model::ids::IdGenerator;
use crate::store::limits::MAX_COMMIT_BATCH;

/// Counters of the writer, for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct CommitStats {
    /// Commits done.
    pub batches: AtomicU64,
    /// Requests committed (sum of batch sizes).
    pub requests: AtomicU64,
    /// Total time spent committing, in microseconds.
    pub commit_micros: AtomicU64,
    /// Batches whose commit failed.
    pub failures: AtomicU64,
}

trait Job: Send {
    fn apply(&mut self, txn: &WriteTransaction) -> Result<(), String>;
    fn finish(self: Box<Self>, committed: Result<(), &str>);
}

struct TypedJob<F, R, E> {
    f: Option<F>,
    result: Option<Result<R, E>>,
    reply: oneshot::Sender<Result<R, E>>,
}

impl<F, R, E> Job for TypedJob<F, R, E>
where
    F: FnOnce(&WriteTransaction) -> Result<R, E> + Send,
    R: Send,
    E: From<StoreError> + Send,
{
    fn apply(&mut self, txn: &WriteTransaction) -> Result<(), String> {
        let Some(f) = self.f.take() else {
            return Ok(());
        };
        match catch_unwind(AssertUnwindSafe(|| f(txn))) {
            Ok(r) => {
                self.result = Some(r);
                Ok(())
            }
            // A panicking write may have left the transaction half-done: the
            // whole batch is abandoned rather than committed.
            Err(_) => Err("a write panicked".to_string()),
        }
    }

    fn finish(self: Box<Self>, committed: Result<(), &str>) {
        let out = match (committed, self.result) {
            (Ok(()), Some(r)) => r,
            (Ok(()), None) => Err(E::from(StoreError::CommitFailed("write was not applied".into()))),
            (Err(e), _) => Err(E::from(StoreError::CommitFailed(e.to_string()))),
        };
        // The requester may have gone away; the write is durable regardless.
        let _ = self.reply.send(out);
    }
}

enum Msg {
    Job(Box<dyn Job>),
    Shutdown,
}

/// Sends work to the writer thread.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Msg>,
    stats: Arc<CommitStats>,
    thread: Arc<parking_lot::Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl WriterHandle {
    pub(super) async fn submit<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<R, E> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job = TypedJob { f: Some(f), result: None, reply };
        if self.tx.send(Msg::Job(Box::new(job))).is_err() {
            return Err(E::from(StoreError::Closed));
        }
        rx.await.unwrap_or_else(|_| Err(E::from(StoreError::Closed)))
    }

    pub(super) fn stats(&self) -> Arc<CommitStats> {
        self.stats.clone()
    }

    pub(super) fn shutdown(&self) {
        let _ = self.tx.send(Msg::Shutdown);
    }

    pub(super) fn join(&self) {
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

/// Start the writer thread.
pub(super) fn spawn(db: Arc<Database>, ids: Arc<IdGenerator>) -> WriterHandle {
    let (tx, rx) = mpsc::channel::<Msg>();
    let stats = Arc::new(CommitStats::default());
    let thread_stats = stats.clone();
    let spawned =
        std::thread::Builder::new().name("hearth-writer".into()).spawn(move || run(&db, &ids, &rx, &thread_stats));
    let thread = match spawned {
        Ok(t) => Some(t),
        Err(e) => {
            // Without a writer every write fails with Closed; say why once.
            tracing::error!(error = %e, "could not start the store writer thread");
            None
        }
    };
    WriterHandle { tx, stats, thread: Arc::new(parking_lot::Mutex::new(thread)) }
}

fn run(db: &Database, ids: &IdGenerator, rx: &mpsc::Receiver<Msg>, stats: &CommitStats) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_COMMIT_BATCH);
    let mut stopping = false;
    while !stopping {
        match rx.recv() {
            Ok(Msg::Job(j)) => batch.push(j),
            Ok(Msg::Shutdown) | Err(_) => stopping = true,
        }
        while batch.len() < MAX_COMMIT_BATCH {
            match rx.try_recv() {
                Ok(Msg::Job(j)) => batch.push(j),
                Ok(Msg::Shutdown) => stopping = true,
                Err(_) => break,
            }
        }
        if stopping {
            // Commit whatever was queued before the shutdown request.
            while let Ok(Msg::Job(j)) = rx.try_recv() {
                batch.push(j);
            }
        }
        if batch.is_empty() {
            continue;
        }
        let started = Instant::now();
        let n = batch.len() as u64;
        let outcome = commit_batch(db, ids, &mut batch);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.requests.fetch_add(n, Ordering::Relaxed);
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        stats.commit_micros.fetch_add(micros, Ordering::Relaxed);
        crate::metrics::observe_commit(n, started.elapsed());
        if let Err(e) = &outcome {
            stats.failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, batch = n, "commit failed");
        }
        let committed = outcome.as_ref().map(|_| ()).map_err(String::as_str);
        for job in batch.drain(..) {
            job.finish(committed);
        }
    }
    tracing::debug!("store writer stopped");
}

fn commit_batch(db: &Database, ids: &IdGenerator, batch: &mut [Box<dyn Job>]) -> Result<(), String> {
    let txn = db.begin_write().map_err(|e| e.to_string())?;
    for job in batch.iter_mut() {
        job.apply(&txn)?;
    }
    // Every id handed out so far is ≤ the generator's state, so after a
    // restart new ids start above everything this batch stored.
    super::write::set_id_high_water(&txn, ids.high_water().0).map_err(|e| e.to_string())?;
    txn.commit().map_err(|e| e.to_string())
}
