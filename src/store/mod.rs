//! Storage: one redb file, MVCC reads from any thread, and one group-committing
//! writer thread through which every write goes.
//!
//! Acknowledged means durable: [`Store::write`] resolves only after the batch
//! that holds the write was committed with an fsync.

pub mod admin;
pub mod backup;
#[cfg(test)]
mod crash_tests;
pub mod limits;
mod messages;
mod read;
mod tables;
mod write;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase};

use self::limits::DEFAULT_CACHE_MIB;

pub use messages::{MessageRead, MessageWrite};
pub use read::{join_member, HistoryQuery, MemberRecord, Read};
pub use tables::SCHEMA_VERSION;
pub use write::Write;
pub use writer::CommitStats;

use crate::model::ids::IdGenerator;

/// File name of the database inside the data dir.
pub const DB_FILE: &str = "hearth.redb";

/// Storage failures. Callers map these to 500 / close 4000.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed (I/O, corruption, ...).
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    /// A stored record could not be decoded.
    #[error("corrupt record in {table}: {detail}")]
    Corrupt {
        /// Table name.
        table: &'static str,
        /// Decoder message.
        detail: String,
    },
    /// The file was written by a newer Hearth.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        /// Version in the file.
        found: u64,
        /// Version this build writes.
        supported: u64,
    },
    /// The batch this write was in failed to commit; nothing of it was written.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// The writer thread is gone (shutting down).
    #[error("store is shutting down")]
    Closed,
    /// Could not create the data dir.
    #[error("data dir {path}: {source}")]
    DataDir {
        /// The dir.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(e.into()) }
        }
    )*};
}
from_redb!(redb::DatabaseError, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

/// A redb builder whose page cache holds at most `cache_bytes`. Every
/// database Hearth opens goes through it: redb's own default is 1 GiB, more
/// than the memory budget of a small server.
pub fn builder(cache_bytes: u64) -> redb::Builder {
    let mut b = redb::Builder::new();
    b.set_cache_size(usize::try_from(cache_bytes).unwrap_or(usize::MAX));
    b
}

/// The cache of databases opened for a one-off job (admin commands, backup
/// copies, verification): [`DEFAULT_CACHE_MIB`].
pub(crate) fn job_builder() -> redb::Builder {
    builder(DEFAULT_CACHE_MIB << 20)
}

/// Create a new database file atomically: build it under a temporary name,
/// then rename it into place and sync the directory. A crash part-way through
/// creating it (redb writes its header in two synced steps) then leaves only
/// a temporary file, never a `hearth.redb` that cannot be opened.
fn create_fresh(data_dir: &Path, path: &Path) -> Result<(), StoreError> {
    let tmp = data_dir.join(format!("{DB_FILE}.creating"));
    let io = |source| StoreError::DataDir { path: data_dir.to_path_buf(), source };
    if tmp.exists() {
        std::fs::remove_file(&tmp).map_err(io)?;
    }
    drop(job_builder().create(&tmp)?);
    std::fs::rename(&tmp, path).map_err(io)?;
    std::fs::File::open(data_dir).and_then(|d| d.sync_all()).map_err(io)?;
    Ok(())
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    writer: writer::WriterHandle,
    ids: Arc<IdGenerator>,
    cache_bytes: u64,
}

impl Store {
    /// Open (or create) the database in `data_dir` with a page cache of
    /// [`DEFAULT_CACHE_MIB`], migrate it, and start the writer.
    pub fn open(data_dir: &Path, ids: Arc<IdGenerator>) -> Result<Store, StoreError> {
        Self::open_with_cache(data_dir, ids, DEFAULT_CACHE_MIB << 20)
    }

    /// [`Store::open`] with a page cache of at most `cache_bytes`.
    pub fn open_with_cache(data_dir: &Path, ids: Arc<IdGenerator>, cache_bytes: u64) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::DataDir { path: data_dir.to_path_buf(), source })?;
        let path = data_dir.join(DB_FILE);
        if !path.exists() {
            create_fresh(data_dir, &path)?;
        }
        let db = builder(cache_bytes).create(&path)?;
        let mut store = Self::from_database(db, ids)?;
        store.cache_bytes = cache_bytes;
        Ok(store)
    }

    /// Use an already opened database (tests inject storage backends this way).
    pub fn from_database(db: Database, ids: Arc<IdGenerator>) -> Result<Store, StoreError> {
        let txn = db.begin_write()?;
        let found = tables::migrate(&txn)?;
        let high_water = write::id_high_water(&txn)?;
        txn.commit()?;
        if found != SCHEMA_VERSION {
            tracing::info!(from = found, to = SCHEMA_VERSION, "migrated database schema");
        }
        ids.advance_past(crate::model::Id(high_water));
        let db = Arc::new(db);
        let writer = writer::spawn(db.clone(), ids.clone());
        Ok(Store { db, writer, ids, cache_bytes: DEFAULT_CACHE_MIB << 20 })
    }

    /// The page cache's bound in bytes (as opened; an injected database's is
    /// assumed to be the default).
    pub fn cache_limit_bytes(&self) -> u64 {
        self.cache_bytes
    }

    /// Bytes in the page cache now (read and write caches together).
    pub fn cache_used_bytes(&self) -> u64 {
        self.db.cache_stats().used_bytes() as u64
    }

    /// The id generator (seeded past every stored id).
    pub fn ids(&self) -> &IdGenerator {
        &self.ids
    }

    /// A consistent read-only snapshot.
    pub fn read(&self) -> Result<redb::ReadTransaction, StoreError> {
        Ok(self.db.begin_read()?)
    }

    /// Run `f` in the next group commit; resolves after the commit is durable.
    /// `f` must check before it writes: if it returns an error it must not have
    /// changed anything, because the rest of the batch still commits.
    pub fn write<R, E, F>(&self, f: F) -> impl std::future::Future<Output = Result<R, E>> + 'static
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&redb::WriteTransaction) -> Result<R, E> + Send + 'static,
    {
        let writer = self.writer.clone();
        async move { writer.submit(f).await }
    }

    /// Commit counters (batches, requests) for metrics and benches.
    pub fn commit_stats(&self) -> Arc<CommitStats> {
        self.writer.stats()
    }

    /// Stop the writer after it has committed everything queued.
    pub fn shutdown(&self) {
        self.writer.shutdown();
    }

    /// Block until the writer thread has finished (after [`Store::shutdown`]).
    pub fn wait_closed(&self) {
        self.writer.join();
    }
}
