//! File helpers for backups: error context, fsync of files and directories,
//! hashing copies.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::BackupError;

const BUF: usize = 1 << 20;

/// Map an I/O error to [`BackupError::Io`] naming `path` and the action.
pub(crate) fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_path_buf();
    move |source| BackupError::Io { path, action, source }
}

/// Unix milliseconds now.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// fsync a directory (so that renames and creations in it are durable).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir, "fsync directory"))
}

/// Create `dir` (and parents) if missing, and make its entry durable.
pub(crate) fn create_dir_synced(dir: &Path) -> Result<(), BackupError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(io(dir, "create directory"))?;
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => sync_dir(p),
        _ => Ok(()),
    }
}

/// The name of some entry of `dir`, or None when it is empty.
pub(crate) fn first_entry(dir: &Path) -> Result<Option<String>, BackupError> {
    let mut entries = fs::read_dir(dir).map_err(io(dir, "list"))?;
    match entries.next() {
        None => Ok(None),
        Some(Ok(e)) => Ok(Some(e.file_name().to_string_lossy().into_owned())),
        Some(Err(e)) => Err(io(dir, "list")(e)),
    }
}

/// Create the new file `path` (it must not exist), readable and writable by
/// the owner only.
pub(crate) fn create_private(path: &Path) -> Result<fs::File, BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io(path, "create"))
}

/// Size and lowercase-hex SHA-256 of a file.
pub(crate) fn hash_file(path: &Path) -> Result<(u64, String), BackupError> {
    let mut f = fs::File::open(path).map_err(io(path, "open"))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(path, "read"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

/// Copy `src` to the new file `dst` (which must not exist), fsync it, and
/// return the size and SHA-256 of what was written.
pub(crate) fn copy_hashing(src: &Path, dst: &Path) -> Result<(u64, String), BackupError> {
    let mut from = fs::File::open(src).map_err(io(src, "open"))?;
    let mut to = HashingFile::create(dst)?;
    let mut buf = vec![0u8; BUF];
    loop {
        let n = from.read(&mut buf).map_err(io(src, "read"))?;
        if n == 0 {
            break;
        }
        to.write(&buf[..n])?;
    }
    to.finish()
}

/// A new file that hashes what is written to it.
pub struct HashingFile {
    file: fs::File,
    path: PathBuf,
    hasher: Sha256,
    written: u64,
}

impl HashingFile {
    /// Create `path`, which must not exist, with mode 0600.
    pub fn create(path: &Path) -> Result<HashingFile, BackupError> {
        let file = create_private(path)?;
        Ok(HashingFile { file, path: path.to_path_buf(), hasher: Sha256::new(), written: 0 })
    }

    /// Append `data`.
    pub fn write(&mut self, data: &[u8]) -> Result<(), BackupError> {
        self.file.write_all(data).map_err(io(&self.path, "write"))?;
        self.hasher.update(data);
        self.written += data.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// fsync and return the size and lowercase-hex SHA-256.
    pub fn finish(self) -> Result<(u64, String), BackupError> {
        self.file.sync_all().map_err(io(&self.path, "fsync"))?;
        Ok((self.written, hex::encode(self.hasher.finalize())))
    }
}

/// Removes a file when dropped, unless disarmed.
pub struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    /// Remove `path` when this is dropped.
    pub fn new(path: PathBuf) -> RemoveOnDrop {
        RemoveOnDrop(Some(path))
    }

    /// Keep the file.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}
