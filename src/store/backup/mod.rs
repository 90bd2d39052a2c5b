//! Backups: consistent point-in-time snapshots of the database, checked
//! restores, and integrity verification.
//!
//! A backup is a directory holding two files:
//!
//! * `hearth.redb`: a fresh redb database holding every row of every table,
//!   copied from **one** read transaction of the live database, so it is the
//!   state after some commit and before the next one. A message acknowledged
//!   before the snapshot began is in it.
//! * `manifest.json`: the [`Manifest`]: schema version, creation time, the
//!   Hearth version, row counts per table and the SHA-256 of `hearth.redb`.
//!
//! redb lets only one process open a file, and a running server holds it, so
//! a running server takes the snapshot itself (`POST /admin/backup`, see
//! [`crate::http::admin`]) and streams it to `hearth backup`; without a running
//! server `hearth backup` opens the data dir itself ([`snapshot_data_dir`]).
//! Either way the backup is assembled in a hidden staging directory beside
//! the destination, verified, fsynced and renamed into place ([`Staging`]), so
//! a failed or interrupted backup never leaves a half-written destination.
//!
//! Tables are copied with their types (redb cannot iterate untyped tables);
//! the list of tables is in `backup/tables.rs`, and both a unit test and a check at
//! backup time (an unknown table in the source aborts the backup) keep it
//! complete.

mod fsutil;
mod overlay;
mod snapshot;
pub(crate) mod tables;
#[cfg(test)]
mod tests;
mod verify;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use fsutil::{unix_ms, HashingFile, RemoveOnDrop};
pub use snapshot::{snapshot_data_dir, snapshot_to_file, Snapshot};
pub use verify::{verify_dir, VerifyReport};

use super::{StoreError, DB_FILE};

/// File name of the manifest inside a backup directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Version of the backup layout and manifest written by this build.
pub const MANIFEST_FORMAT: u32 = 1;

/// Everything that can go wrong taking, checking or restoring a backup.
/// Messages name the paths involved.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A file system operation failed.
    #[error("{path}: cannot {action}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done ("create", "read", "rename into place", ...).
        action: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// redb failed on a database being read or written.
    #[error("{path}: {source}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// The redb error.
        source: redb::Error,
    },
    /// The live store failed (server side).
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// There is no database in the data dir.
    #[error("no database at {path}")]
    NoDatabase {
        /// Where it was expected.
        path: PathBuf,
    },
    /// Another process (a running server) has the database open.
    #[error(
        "{path} is open in another process (a running Hearth server); \
         back it up through the server (`hearth backup DEST --server http://ADDR`) and verify the backup instead"
    )]
    InUse {
        /// The database file.
        path: PathBuf,
    },
    /// The backup destination exists.
    #[error("backup destination {path} already exists and is not an empty directory; choose a new path")]
    DestinationExists {
        /// The destination.
        path: PathBuf,
    },
    /// The restore target is not empty.
    #[error(
        "refusing to restore into {path}: it is not empty (it contains {entry:?}); \
         restore into a new or empty directory, then point the server at it"
    )]
    NotEmpty {
        /// The data dir.
        path: PathBuf,
        /// One entry found in it.
        entry: String,
    },
    /// The directory is not a backup (or not a data dir).
    #[error("{path} is not a Hearth backup: {detail}")]
    NotABackup {
        /// The directory.
        path: PathBuf,
        /// What is missing.
        detail: String,
    },
    /// The manifest is missing fields, malformed, or of an unknown format.
    #[error("{path}: invalid manifest: {detail}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The database file's size or SHA-256 differs from the manifest.
    #[error(
        "{path}: {what} mismatch: the manifest says {expected}, the file has {found}; the file was changed or damaged"
    )]
    Checksum {
        /// The database file.
        path: PathBuf,
        /// "size" or "SHA-256".
        what: &'static str,
        /// From the manifest.
        expected: String,
        /// From the file.
        found: String,
    },
    /// redb's integrity check (or opening the file) failed.
    #[error("{path}: the database is damaged: {detail}")]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What redb (or the walk over the tables) reported.
        detail: String,
    },
    /// A stored record does not decode into its type.
    #[error("{path}: corrupt record in table {table} at key {key}: {detail}")]
    CorruptRecord {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: String,
        /// The key, debug-formatted.
        key: String,
        /// The decoder's message.
        detail: String,
    },
    /// A table's row count differs from the manifest.
    #[error("{path}: table {table} has {found} rows, the manifest says {expected}")]
    CountMismatch {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: String,
        /// From the manifest.
        expected: u64,
        /// Counted.
        found: u64,
    },
    /// The database has a schema version this build does not handle.
    #[error(
        "{path}: schema version {found}, but this build of hearth ({}) handles schema version {supported}; \
         use the Hearth version that wrote it",
        env!("CARGO_PKG_VERSION")
    )]
    Schema {
        /// The database file.
        path: PathBuf,
        /// Found in the file.
        found: u64,
        /// [`crate::store::SCHEMA_VERSION`].
        supported: u64,
    },
    /// The database has a table this build does not know; a backup would miss it.
    #[error("{path}: table {table:?} is unknown to this build of hearth; refusing to make an incomplete backup")]
    UnknownTable {
        /// The database file.
        path: PathBuf,
        /// The table's name.
        table: String,
    },
    /// The freshly written backup did not verify; it was discarded.
    #[error("the new backup failed verification and was discarded: {0}")]
    NewBackupInvalid(Box<BackupError>),
    /// Talking to the server's admin endpoint failed.
    #[error("backup through the server at {url} failed: {detail}")]
    Server {
        /// The server's base URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The admin token file is missing, unreadable or malformed.
    #[error("admin token {path}: {detail}")]
    AdminToken {
        /// The token file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

impl BackupError {
    /// Whether this error says the backup or database is damaged or
    /// inconsistent (as opposed to: it could not be checked at all).
    pub fn is_damage(&self) -> bool {
        match self {
            BackupError::Manifest { .. }
            | BackupError::Checksum { .. }
            | BackupError::Damaged { .. }
            | BackupError::CorruptRecord { .. }
            | BackupError::CountMismatch { .. } => true,
            BackupError::NewBackupInvalid(inner) => inner.is_damage(),
            _ => false,
        }
    }

    pub(crate) fn db(path: &Path, e: impl Into<redb::Error>) -> BackupError {
        BackupError::Db { path: path.to_path_buf(), source: e.into() }
    }
}

/// What `manifest.json` says about a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version ([`MANIFEST_FORMAT`]).
    pub format: u32,
    /// Version of the Hearth that took the snapshot.
    pub hearth_version: String,
    /// The database's schema version.
    pub schema_version: u64,
    /// Unix milliseconds just before the snapshot's read transaction began:
    /// everything acknowledged before this instant is in the backup.
    pub created_at: u64,
    /// Size of `hearth.redb` in bytes.
    pub database_bytes: u64,
    /// SHA-256 of `hearth.redb`, lowercase hex.
    pub database_sha256: String,
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
}

impl Manifest {
    /// Describe a snapshot just written to `db_file` by this build.
    pub fn describe(db_file: &Path, snapshot: &Snapshot) -> Result<Manifest, BackupError> {
        let (database_bytes, database_sha256) = fsutil::hash_file(db_file)?;
        Ok(Manifest {
            format: MANIFEST_FORMAT,
            hearth_version: env!("CARGO_PKG_VERSION").to_string(),
            schema_version: snapshot.schema_version,
            created_at: snapshot.created_at,
            database_bytes,
            database_sha256,
            tables: snapshot.tables.clone(),
        })
    }

    /// Read and check `manifest.json` at `path`.
    pub fn load(path: &Path) -> Result<Manifest, BackupError> {
        let bytes = fs::read(path).map_err(fsutil::io(path, "read"))?;
        Manifest::parse(&bytes).map_err(|detail| BackupError::Manifest { path: path.to_path_buf(), detail })
    }

    /// Parse a manifest (from the file or the server's header) and check its format.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if m.format != MANIFEST_FORMAT {
            return Err(format!(
                "format {} is not supported by this build (it reads format {MANIFEST_FORMAT})",
                m.format
            ));
        }
        let hex_ok = m.database_sha256.len() == 64 && m.database_sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex_ok {
            return Err("database_sha256 is not a SHA-256 in hex".to_string());
        }
        Ok(m)
    }

    /// Total rows over all tables.
    pub fn total_rows(&self) -> u64 {
        self.tables.values().sum()
    }

    fn write_new(&self, path: &Path) -> Result<(), BackupError> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| BackupError::Manifest { path: path.to_path_buf(), detail: e.to_string() })?;
        let mut f =
            fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(fsutil::io(path, "create"))?;
        f.write_all(&json).and_then(|()| f.write_all(b"\n")).map_err(fsutil::io(path, "write"))?;
        f.sync_all().map_err(fsutil::io(path, "fsync"))
    }
}

/// A backup being assembled: a hidden directory beside the destination that
/// becomes the destination with one rename once it is complete and verified.
/// Dropped without [`Staging::finish`], it is removed.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    dest: PathBuf,
    parent: PathBuf,
    finished: bool,
}

impl Staging {
    /// Check that `dest` is free (absent, or an empty directory) and create
    /// the staging directory beside it.
    pub fn create(dest: &Path) -> Result<Staging, BackupError> {
        match fs::symlink_metadata(dest) {
            Ok(m) if m.is_dir() && fsutil::first_entry(dest)?.is_none() => {}
            Ok(_) => return Err(BackupError::DestinationExists { path: dest.to_path_buf() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(fsutil::io(dest, "inspect")(e)),
        }
        let name = dest.file_name().and_then(|n| n.to_str()).ok_or_else(|| BackupError::Io {
            path: dest.to_path_buf(),
            action: "use as a backup destination",
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "it must end in a directory name"),
        })?;
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            return Err(BackupError::Io {
                path: parent,
                action: "write the backup into",
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
            });
        }
        let dir = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(fsutil::io(&dir, "remove a stale staging directory"))?;
        }
        // Backups hold password and token hashes: private to the owner.
        std::os::unix::fs::DirBuilderExt::mode(&mut fs::DirBuilder::new(), 0o700)
            .create(&dir)
            .map_err(fsutil::io(&dir, "create"))?;
        Ok(Staging { dir, dest: dest.to_path_buf(), parent, finished: false })
    }

    /// Where the database file goes.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }

    /// The staging directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Write the manifest, verify the staged backup, and rename it into place.
    pub fn finish(mut self, manifest: &Manifest) -> Result<VerifyReport, BackupError> {
        manifest.write_new(&self.dir.join(MANIFEST_FILE))?;
        let mut report = verify_dir(&self.dir).map_err(|e| BackupError::NewBackupInvalid(Box::new(e)))?;
        fsutil::sync_dir(&self.dir)?;
        // rename(2) replaces an empty directory, so an empty `dest` is fine.
        fs::rename(&self.dir, &self.dest).map_err(fsutil::io(&self.dest, "rename the finished backup into place"))?;
        self.finished = true;
        fsutil::sync_dir(&self.parent)?;
        report.path = self.dest.clone();
        Ok(report)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Restore the backup in `src` into the data dir `data_dir`, which must be
/// absent or empty. The backup is verified first; the database file is copied
/// under a temporary name, checked against the manifest, fsynced and renamed.
pub fn restore(src: &Path, data_dir: &Path) -> Result<VerifyReport, BackupError> {
    match fs::symlink_metadata(data_dir) {
        Ok(m) if !m.is_dir() => {
            return Err(BackupError::Io {
                path: data_dir.to_path_buf(),
                action: "restore into",
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "it is not a directory"),
            })
        }
        Ok(_) => {
            if let Some(entry) = fsutil::first_entry(data_dir)? {
                return Err(BackupError::NotEmpty { path: data_dir.to_path_buf(), entry });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fsutil::io(data_dir, "inspect")(e)),
    }
    if !src.join(MANIFEST_FILE).is_file() {
        return Err(BackupError::NotABackup {
            path: src.to_path_buf(),
            detail: format!("it has no {MANIFEST_FILE}; `hearth restore` takes a directory written by `hearth backup`"),
        });
    }
    let report = verify_dir(src)?;
    let Some(manifest) = report.manifest.clone() else {
        return Err(BackupError::NotABackup { path: src.to_path_buf(), detail: format!("no {MANIFEST_FILE}") });
    };
    fsutil::create_dir_synced(data_dir)?;
    let tmp = data_dir.join(format!("{DB_FILE}.restoring"));
    let guard = fsutil::RemoveOnDrop::new(tmp.clone());
    let (bytes, sha) = fsutil::copy_hashing(&src.join(DB_FILE), &tmp)?;
    if bytes != manifest.database_bytes || sha != manifest.database_sha256 {
        return Err(BackupError::Checksum {
            path: src.join(DB_FILE),
            what: "size or SHA-256 (while copying)",
            expected: format!("{} bytes, {}", manifest.database_bytes, manifest.database_sha256),
            found: format!("{bytes} bytes, {sha}"),
        });
    }
    let target = data_dir.join(DB_FILE);
    fs::rename(&tmp, &target).map_err(fsutil::io(&target, "rename the restored database into place"))?;
    guard.disarm();
    fsutil::sync_dir(data_dir)?;
    Ok(report)
}
