//! Copy one read transaction, table by table, into a new database file.

use std::collections::BTreeMap;
use std::path::Path;

use redb::{Database, DatabaseError, Key, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, Value};

use super::tables::{self, TableVisitor, ValueCheck};
use super::{fsutil, BackupError};
use crate::store::tables::META;
use crate::store::{DB_FILE, SCHEMA_VERSION};

/// Rows copied per write transaction into the new file (bounds its memory).
const ROWS_PER_TXN: u64 = 20_000;

/// What a snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Unix milliseconds just before the read transaction began.
    pub created_at: u64,
    /// Schema version of the copied database.
    pub schema_version: u64,
    /// Rows copied per table.
    pub tables: BTreeMap<String, u64>,
}

/// Copy everything visible to `src` into a new redb file at `dest`, which
/// must not exist. `created_at` is when `src` began. The file is complete,
/// closed and fsynced when this returns; on error it may be partial, and the
/// caller removes it.
pub fn snapshot_to_file(src: &ReadTransaction, dest: &Path, created_at: u64) -> Result<Snapshot, BackupError> {
    check_known_tables(src, dest)?;
    let schema_version = schema_version(src, dest)?;
    // Created empty and private first (it holds password and token hashes);
    // redb initialises an empty file.
    drop(fsutil::create_private(dest)?);
    // A bounded cache: the copy is written inside the running server.
    let db = crate::store::job_builder().create(dest).map_err(|e| BackupError::db(dest, e))?;
    let mut copy = Copy { src, dst: &db, path: dest, tables: BTreeMap::new() };
    tables::visit_all(&mut copy)?;
    let tables = copy.tables;
    // Closing writes the clean-shutdown state; then make sure it is on disk.
    drop(db);
    std::fs::File::open(dest).and_then(|f| f.sync_all()).map_err(fsutil::io(dest, "fsync"))?;
    Ok(Snapshot { created_at, schema_version, tables })
}

/// Snapshot the database of a data dir that no server has open (see
/// [`BackupError::InUse`] otherwise) into `dest`.
pub fn snapshot_data_dir(data_dir: &Path, dest: &Path) -> Result<Snapshot, BackupError> {
    let path = data_dir.join(DB_FILE);
    if !path.is_file() {
        return Err(BackupError::NoDatabase { path });
    }
    let in_use = |e: DatabaseError| match e {
        DatabaseError::DatabaseAlreadyOpen => BackupError::InUse { path: path.clone() },
        other => BackupError::db(&path, other),
    };
    match crate::store::job_builder().open_read_only(&path) {
        Ok(db) => {
            let created_at = fsutil::unix_ms();
            let txn = db.begin_read().map_err(|e| BackupError::db(&path, e))?;
            snapshot_to_file(&txn, dest, created_at)
        }
        Err(DatabaseError::RepairAborted) => {
            // Not shut down cleanly: a read-only open cannot repair it. Open it
            // for writing (exclusively) to let redb recover it, exactly as the
            // server does when it starts.
            tracing::info!(path = %path.display(), "database was not shut down cleanly; repairing before the backup");
            let db = crate::store::job_builder().open(&path).map_err(in_use)?;
            let created_at = fsutil::unix_ms();
            let txn = db.begin_read().map_err(|e| BackupError::db(&path, e))?;
            snapshot_to_file(&txn, dest, created_at)
        }
        Err(e) => Err(in_use(e)),
    }
}

/// Fail if `src` holds a table that [`tables::visit_all`] does not copy.
pub(crate) fn check_known_tables(src: &ReadTransaction, path: &Path) -> Result<(), BackupError> {
    let known = tables::names();
    for t in src.list_tables().map_err(|e| BackupError::db(path, e))? {
        let name = redb::TableHandle::name(&t);
        if !known.iter().any(|k| k == name) {
            return Err(BackupError::UnknownTable { path: path.to_path_buf(), table: name.to_string() });
        }
    }
    if let Some(t) = src.list_multimap_tables().map_err(|e| BackupError::db(path, e))?.next() {
        let table = redb::MultimapTableHandle::name(&t).to_string();
        return Err(BackupError::UnknownTable { path: path.to_path_buf(), table });
    }
    Ok(())
}

/// The schema version recorded in `src`; it must be the one this build handles.
pub(crate) fn schema_version(src: &ReadTransaction, path: &Path) -> Result<u64, BackupError> {
    let meta = src.open_table(META).map_err(|e| BackupError::db(path, e))?;
    let found = meta.get("schema_version").map_err(|e| BackupError::db(path, e))?.map_or(0, |g| g.value());
    if found != SCHEMA_VERSION {
        return Err(BackupError::Schema { path: path.to_path_buf(), found, supported: SCHEMA_VERSION });
    }
    Ok(found)
}

struct Copy<'a> {
    src: &'a ReadTransaction,
    dst: &'a Database,
    path: &'a Path,
    tables: BTreeMap<String, u64>,
}

impl TableVisitor for Copy<'_> {
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        def: TableDefinition<'_, K, V>,
        _: Option<ValueCheck>,
    ) -> Result<(), BackupError> {
        let err = |e: redb::Error| BackupError::Db { path: self.path.to_path_buf(), source: e };
        let source = self.src.open_table(def).map_err(|e| err(e.into()))?;
        let mut rows = source.iter().map_err(|e| err(e.into()))?;
        let mut total = 0u64;
        loop {
            // Every table is created, even an empty one, in the first round.
            let txn = self.dst.begin_write().map_err(|e| err(e.into()))?;
            let mut copied = 0u64;
            let mut done = false;
            {
                let mut target = txn.open_table(def).map_err(|e| err(e.into()))?;
                while copied < ROWS_PER_TXN {
                    let Some(row) = rows.next() else {
                        done = true;
                        break;
                    };
                    let (k, v) = row.map_err(|e| err(e.into()))?;
                    target.insert(k.value(), v.value()).map_err(|e| err(e.into()))?;
                    copied += 1;
                }
            }
            txn.commit().map_err(|e| err(e.into()))?;
            total += copied;
            if done {
                break;
            }
        }
        self.tables.insert(redb::TableHandle::name(&def).to_string(), total);
        Ok(())
    }
}
