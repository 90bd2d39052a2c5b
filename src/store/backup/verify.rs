//! `hearth verify`: check a backup (or a stopped server's data dir) without
//! changing it.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use redb::{Database, DatabaseError, Key, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, Value};

use super::overlay::Overlay;
use super::snapshot::{check_known_tables, schema_version};
use super::tables::{self, TableVisitor, ValueCheck};
use super::{fsutil, BackupError, Manifest, MANIFEST_FILE};
use crate::store::DB_FILE;

/// redb's magic number, the first bytes of every database file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// What a successful verification found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The directory checked.
    pub path: PathBuf,
    /// The manifest, when it was a backup (None for a data dir).
    pub manifest: Option<Manifest>,
    /// Schema version of the database.
    pub schema_version: u64,
    /// Rows per table, counted.
    pub tables: BTreeMap<String, u64>,
    /// Remarks that are not failures (e.g. a data dir that needs recovery).
    pub notes: Vec<String>,
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.manifest {
            Some(m) => writeln!(
                f,
                "backup {}: taken at {} by hearth {}, schema version {}, {} bytes, sha256 {}",
                self.path.display(),
                utc(m.created_at),
                m.hearth_version,
                self.schema_version,
                m.database_bytes,
                m.database_sha256
            )?,
            None => writeln!(f, "data dir {}: schema version {}", self.path.display(), self.schema_version)?,
        }
        let width = self.tables.keys().map(String::len).max().unwrap_or(0);
        for (table, rows) in &self.tables {
            writeln!(f, "  {table:<width$}  {rows:>10}")?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        write!(f, "OK: redb integrity check passed, every record decodes, {} rows", self.tables.values().sum::<u64>())
    }
}

/// Unix milliseconds as an RFC 3339 UTC timestamp.
pub(crate) fn utc(ms: u64) -> String {
    let (year, month, day, h, m, s) = crate::util::utc_parts(ms);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{:03}Z", ms % 1000)
}

/// Verify a backup directory (with `manifest.json`) or the data dir of a
/// server that is not running (with `hearth.redb`). Nothing is written to it.
///
/// A backup must match its manifest (size, SHA-256, schema version, row
/// counts); for both, redb's integrity check must pass, the schema version
/// must be this build's, there must be no unknown table, and every record
/// must decode into its type.
pub fn verify_dir(dir: &Path) -> Result<VerifyReport, BackupError> {
    if !dir.is_dir() {
        return Err(BackupError::NotABackup { path: dir.to_path_buf(), detail: "no such directory".to_string() });
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    let db_path = dir.join(DB_FILE);
    if manifest_path.exists() {
        verify_backup(dir, &manifest_path, &db_path)
    } else if db_path.exists() {
        verify_data_dir(dir, &db_path)
    } else {
        Err(BackupError::NotABackup {
            path: dir.to_path_buf(),
            detail: format!("it has neither {MANIFEST_FILE} (a backup) nor {DB_FILE} (a data dir)"),
        })
    }
}

fn verify_backup(dir: &Path, manifest_path: &Path, db_path: &Path) -> Result<VerifyReport, BackupError> {
    let manifest = Manifest::load(manifest_path)?;
    if !db_path.is_file() {
        return Err(BackupError::NotABackup {
            path: dir.to_path_buf(),
            detail: format!("it has {MANIFEST_FILE} but no {DB_FILE}"),
        });
    }
    let (bytes, sha) = fsutil::hash_file(db_path)?;
    if bytes != manifest.database_bytes {
        return Err(BackupError::Checksum {
            path: db_path.to_path_buf(),
            what: "size",
            expected: format!("{} bytes", manifest.database_bytes),
            found: format!("{bytes} bytes"),
        });
    }
    if sha != manifest.database_sha256 {
        return Err(BackupError::Checksum {
            path: db_path.to_path_buf(),
            what: "SHA-256",
            expected: manifest.database_sha256.clone(),
            found: sha,
        });
    }
    let checked = check_database(db_path, true)?;
    if checked.schema_version != manifest.schema_version {
        return Err(BackupError::Manifest {
            path: manifest_path.to_path_buf(),
            detail: format!(
                "schema_version is {} but the database has {}",
                manifest.schema_version, checked.schema_version
            ),
        });
    }
    let names: std::collections::BTreeSet<&String> = checked.tables.keys().chain(manifest.tables.keys()).collect();
    for table in names {
        let expected = manifest.tables.get(table).copied().unwrap_or(0);
        let found = checked.tables.get(table).copied().unwrap_or(0);
        if expected != found {
            return Err(BackupError::CountMismatch {
                path: db_path.to_path_buf(),
                table: table.clone(),
                expected,
                found,
            });
        }
    }
    Ok(VerifyReport {
        path: dir.to_path_buf(),
        manifest: Some(manifest),
        schema_version: checked.schema_version,
        tables: checked.tables,
        notes: checked.notes,
    })
}

fn verify_data_dir(dir: &Path, db_path: &Path) -> Result<VerifyReport, BackupError> {
    // A read-only open fails if a server has the file open, and while held it
    // keeps a server from opening (and changing) the file under the check.
    drop(open_redb_file(db_path)?);
    let mut notes = Vec::new();
    let _lock = match redb::ReadOnlyDatabase::open(db_path) {
        Ok(db) => Some(db),
        Err(DatabaseError::DatabaseAlreadyOpen) => return Err(BackupError::InUse { path: db_path.to_path_buf() }),
        Err(DatabaseError::RepairAborted) => {
            notes.push("the database was not shut down cleanly; the server recovers it when it next starts".into());
            None
        }
        Err(e) => return Err(damage(db_path, e)),
    };
    let mut checked = check_database(db_path, false)?;
    notes.append(&mut checked.notes);
    Ok(VerifyReport {
        path: dir.to_path_buf(),
        manifest: None,
        schema_version: checked.schema_version,
        tables: checked.tables,
        notes,
    })
}

struct Checked {
    schema_version: u64,
    tables: BTreeMap<String, u64>,
    notes: Vec<String>,
}

/// Open `path` for reading, checking it starts like a redb file.
fn open_redb_file(path: &Path) -> Result<std::fs::File, BackupError> {
    let mut file = std::fs::File::open(path).map_err(fsutil::io(path, "open"))?;
    let mut magic = [0u8; REDB_MAGIC.len()];
    if file.read_exact(&mut magic).is_err() || magic != REDB_MAGIC {
        return Err(BackupError::Damaged {
            path: path.to_path_buf(),
            detail: "not a redb database file (no redb header)".into(),
        });
    }
    Ok(file)
}

/// Open `path` through an in-memory overlay (the file is never written),
/// run redb's integrity check, and walk and decode every table. With
/// `must_be_clean`, a file that was not closed cleanly is damaged (a backup
/// always is closed cleanly).
fn check_database(path: &Path, must_be_clean: bool) -> Result<Checked, BackupError> {
    let open = || Overlay::new(open_redb_file(path)?).map_err(fsutil::io(path, "read"));
    let overlay = open()?;
    // redb is not built to meet arbitrary corruption: turn a panic into a report.
    let checked =
        catch_unwind(AssertUnwindSafe(|| check_opened(path, overlay, must_be_clean))).unwrap_or_else(|panic| {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(BackupError::Damaged { path: path.to_path_buf(), detail: format!("reading the file failed: {msg}") })
        })?;
    if must_be_clean {
        // The file verified; a read-only open refuses it if it was not closed
        // cleanly (it would need recovery).
        let overlay = open()?;
        match catch_unwind(AssertUnwindSafe(|| Database::builder().open_read_only_with_backend(overlay).map(drop))) {
            Ok(Ok(())) => {}
            Ok(Err(DatabaseError::RepairAborted)) => {
                return Err(BackupError::Damaged {
                    path: path.to_path_buf(),
                    detail: "the file was not closed cleanly (it needs recovery)".into(),
                })
            }
            Ok(Err(e)) => return Err(damage(path, e)),
            Err(_) => {
                return Err(BackupError::Damaged { path: path.to_path_buf(), detail: "reading the file failed".into() })
            }
        }
    }
    Ok(checked)
}

fn check_opened(path: &Path, overlay: Overlay, must_be_clean: bool) -> Result<Checked, BackupError> {
    // The integrity check on open verifies the checksum of every page of the
    // committed trees (and rebuilds the allocator state, in memory).
    let mut db = Database::builder()
        .set_check_integrity_on_open(true)
        .create_with_backend(overlay)
        .map_err(|e| damage(path, e))?;
    let mut notes = Vec::new();
    if !db.check_integrity().map_err(|e| damage(path, e))? {
        if must_be_clean {
            return Err(BackupError::Damaged {
                path: path.to_path_buf(),
                detail: "redb's integrity check had to repair the file".into(),
            });
        }
        notes.push("redb repaired the file's allocator state (in memory only; the file is unchanged)".to_string());
    }
    let txn = db.begin_read().map_err(|e| damage(path, e))?;
    check_known_tables(&txn, path)?;
    let schema_version = schema_version(&txn, path)?;
    let mut walk = Walk { txn: &txn, path, tables: BTreeMap::new() };
    tables::visit_all(&mut walk)?;
    Ok(Checked { schema_version, tables: walk.tables, notes })
}

/// A redb error met while checking: I/O stays I/O, anything else is damage.
fn damage(path: &Path, e: impl Into<redb::Error>) -> BackupError {
    match e.into() {
        redb::Error::Io(source) if source.kind() != std::io::ErrorKind::InvalidData => {
            BackupError::Io { path: path.to_path_buf(), action: "read", source }
        }
        other => BackupError::Damaged { path: path.to_path_buf(), detail: other.to_string() },
    }
}

struct Walk<'a> {
    txn: &'a ReadTransaction,
    path: &'a Path,
    tables: BTreeMap<String, u64>,
}

impl TableVisitor for Walk<'_> {
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        def: TableDefinition<'_, K, V>,
        check: Option<ValueCheck>,
    ) -> Result<(), BackupError> {
        let name = redb::TableHandle::name(&def).to_string();
        let table = self.txn.open_table(def).map_err(|e| BackupError::Damaged {
            path: self.path.to_path_buf(),
            detail: format!("table {name}: {e}"),
        })?;
        let mut rows = 0u64;
        for row in table.iter().map_err(|e| damage(self.path, e))? {
            let (k, v) = row.map_err(|e| damage(self.path, e))?;
            if let Some(check) = check {
                let value = v.value();
                let bytes = V::as_bytes(&value);
                let checked = check(bytes.as_ref());
                if let Err(detail) = checked {
                    return Err(BackupError::CorruptRecord {
                        path: self.path.to_path_buf(),
                        table: name,
                        key: format!("{:?}", k.value()),
                        detail,
                    });
                }
            }
            rows += 1;
        }
        self.tables.insert(name, rows);
        Ok(())
    }
}
