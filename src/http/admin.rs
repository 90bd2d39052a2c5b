//! Admin endpoints for the operator on the server's own machine.
//!
//! `POST /admin/backup` takes a consistent snapshot of the database (one redb
//! read transaction copied into a new file, see [`crate::store::backup`]) and
//! streams that file; `hearth backup` calls it while the server runs. It is
//! protected twice:
//!
//! * only connections from the same machine are served (a loopback peer, or a
//!   peer whose address is the server's own address); others get 404;
//! * the request must carry `Authorization: Bearer <token>` where the token is
//!   the content of `admin.token` in the data dir, written with mode 0600 each
//!   time the server starts ([`install_token`]). Whoever can read the data dir
//!   as the server's user can take backups; nobody else can.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use rand::RngCore;

use crate::core::Core;
use crate::errors::{AppError, ErrorCode};
use crate::store::backup::{self, BackupError, Manifest, RemoveOnDrop};

/// File in the data dir holding the admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Response header carrying the backup's [`Manifest`] as JSON.
pub const MANIFEST_HEADER: &str = "x-hearth-manifest";

/// Prefix of the server's temporary snapshot files in the data dir.
const SNAPSHOT_PREFIX: &str = ".backup-";

/// Bytes streamed per chunk.
const CHUNK: usize = 256 * 1024;

/// Write a fresh random admin token to `data_dir/admin.token` with mode 0600
/// (atomically: temporary file, fsync, rename). Returns the file's path.
pub fn install_token(data_dir: &Path) -> Result<PathBuf, BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |path: &Path, action| {
        let path = path.to_path_buf();
        move |source| BackupError::Io { path, action, source }
    };
    fs::create_dir_all(data_dir).map_err(io(data_dir, "create directory"))?;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let tmp = data_dir.join(format!(".{ADMIN_TOKEN_FILE}.tmp"));
    // A leftover may have other permissions; mode only applies on creation.
    let _ = fs::remove_file(&tmp);
    let guard = RemoveOnDrop::new(tmp.clone());
    let mut f =
        fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io(&tmp, "create"))?;
    f.write_all(token.as_bytes()).and_then(|()| f.write_all(b"\n")).map_err(io(&tmp, "write"))?;
    f.sync_all().map_err(io(&tmp, "fsync"))?;
    fs::rename(&tmp, &path).map_err(io(&path, "rename into place"))?;
    guard.disarm();
    fs::File::open(data_dir).and_then(|d| d.sync_all()).map_err(io(data_dir, "fsync directory"))?;
    Ok(path)
}

/// Read the admin token from `path`.
pub fn read_token(path: &Path) -> Result<String, BackupError> {
    let err = |detail: String| BackupError::AdminToken { path: path.to_path_buf(), detail };
    let mut s = String::new();
    fs::File::open(path)
        .and_then(|f| f.take(1024).read_to_string(&mut s))
        .map_err(|e| err(format!("cannot read it ({e}); is the server running with this data dir?")))?;
    let token = s.trim();
    if token.len() < 32 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(err("it does not hold a token".to_string()));
    }
    Ok(token.to_string())
}

/// Whether the peer is on this machine: loopback, or the server's own address.
fn is_local(req: &HttpRequest) -> bool {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else { return false };
    peer.is_loopback() || peer == req.app_config().local_addr().ip()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Set while a snapshot is being written; one at a time.
static BUSY: AtomicBool = AtomicBool::new(false);

struct Busy;

impl Busy {
    fn take() -> Option<Busy> {
        BUSY.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).ok().map(|_| Busy)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.store(false, Ordering::Release);
    }
}

/// `POST /admin/backup`: stream a consistent snapshot of the database.
pub async fn backup(req: HttpRequest, core: web::Data<Arc<Core>>) -> Result<HttpResponse, AppError> {
    if !is_local(&req) {
        return Err(AppError::new(ErrorCode::NotFound, "no such route"));
    }
    let expected = read_token(&core.config.data.join(ADMIN_TOKEN_FILE)).map_err(|e| {
        tracing::warn!(error = %e, "admin request refused: no admin token");
        AppError::unauthorized()
    })?;
    let given = super::extract::bearer_token(req.headers()).map(|t| *t.expose()).unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(AppError::unauthorized());
    }
    let busy = Busy::take().ok_or_else(|| AppError::conflict("a backup is already being taken"))?;
    let store = core.store.clone();
    let data = core.config.data.clone();
    let started = std::time::Instant::now();
    let (manifest, file) = web::block(move || snapshot(busy, &store, &data))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "backup task failed");
            AppError::internal()
        })?
        .map_err(|e| {
            tracing::error!(error = %e, "backup snapshot failed");
            AppError::internal()
        })?;
    tracing::info!(
        bytes = manifest.database_bytes,
        rows = manifest.total_rows(),
        ms = started.elapsed().as_millis() as u64,
        "backup snapshot taken; streaming it"
    );
    let json = serde_json::to_string(&manifest).map_err(|_| AppError::internal())?;
    let stream = futures_util::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let read = web::block(move || {
            let mut buf = vec![0u8; CHUNK];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((file, buf))
        })
        .await;
        match read {
            Ok(Ok((_, buf))) if buf.is_empty() => None,
            Ok(Ok((file, buf))) => Some((Ok(bytes::Bytes::from(buf)), Some(file))),
            Ok(Err(e)) => Some((Err(e), None)),
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((MANIFEST_HEADER, json))
        // Never compressed: the size and hash in the manifest are of these bytes.
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .no_chunking(manifest.database_bytes)
        .streaming(stream))
}

/// Write the snapshot to a temporary file in the data dir, describe it, and
/// return it opened; the file is unlinked before this returns (the open handle
/// keeps it readable), so nothing is left behind whatever happens next.
fn snapshot(busy: Busy, store: &crate::store::Store, data: &Path) -> Result<(Manifest, fs::File), BackupError> {
    let _busy = busy;
    remove_stale_snapshots(data);
    let mut suffix = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let path = data.join(format!("{SNAPSHOT_PREFIX}{}.tmp", hex::encode(suffix)));
    let _remove = RemoveOnDrop::new(path.clone());
    let created_at = backup::unix_ms();
    let txn = store.read()?;
    let snap = backup::snapshot_to_file(&txn, &path, created_at)?;
    drop(txn);
    let manifest = Manifest::describe(&path, &snap)?;
    let file =
        fs::File::open(&path).map_err(|source| BackupError::Io { path: path.clone(), action: "open", source })?;
    Ok((manifest, file))
}

/// Remove snapshot files left by a server that died while writing one. Only
/// called while holding [`BUSY`], so none of them is in use.
fn remove_stale_snapshots(data: &Path) {
    let Ok(entries) = fs::read_dir(data) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(SNAPSHOT_PREFIX) && name.ends_with(".tmp") {
            let _ = fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_is_private_and_readable_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let path = install_token(&data).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let first = read_token(&path).unwrap();
        assert_eq!(first.len(), 64);
        // A new start replaces it with a new token.
        install_token(&data).unwrap();
        assert_ne!(read_token(&path).unwrap(), first);
        // Garbage and absence are clear errors.
        fs::write(&path, "short\n").unwrap();
        assert!(read_token(&path).unwrap_err().to_string().contains("does not hold a token"));
        let missing = read_token(&data.join("nope")).unwrap_err().to_string();
        assert!(missing.contains("nope") && missing.contains("cannot read"), "{missing}");
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
