//! The operational subcommands: `hearth backup`, `hearth restore`,
//! `hearth verify`, `hearth admin` and `hearth config` (see
//! docs/operations.md). Each prints what it did to stdout, or the error to
//! stderr, and returns the process exit code.

mod admin;
mod client;
mod config;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use hearth::http::admin::{read_token, ADMIN_TOKEN_FILE, MANIFEST_HEADER};
use hearth::store::backup::{self, BackupError, HashingFile, Manifest, Staging, VerifyReport};

pub use admin::{admin, AdminArgs};
pub use config::{config, ConfigCommand};

/// Exit code: done / verified.
pub const EXIT_OK: i32 = 0;
/// Exit code: failed; for `verify`: the backup or database is damaged or inconsistent.
pub const EXIT_FAILED: i32 = 1;
/// Exit code of `verify`: it could not check (no such directory, not a backup, in use, unreadable, other schema).
pub const EXIT_CANNOT_CHECK: i32 = 2;

/// Settings of `hearth backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Directory to write the backup to; it must not exist (or be empty).
    pub dest: PathBuf,
    /// The server's data directory: the database is copied from it when no
    /// server has it open; otherwise the admin token is read from it.
    #[arg(long, env = "HEARTH_DATA", default_value = "./data")]
    pub data: PathBuf,
    /// Take the backup through the running server at this URL (http://HOST:PORT,
    /// or https://HOST:PORT for a server with --tls-cert).
    /// Without it, the data dir is copied directly when no server has it open,
    /// and the server at --bind is used when one has.
    #[arg(long, env = "HEARTH_SERVER")]
    pub server: Option<String>,
    /// The server's --bind address (0.0.0.0 and [::] mean this machine).
    #[arg(long, env = "HEARTH_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// The server at --bind serves HTTPS (it runs with --tls-cert); implied
    /// when HEARTH_TLS_CERT is set. Its certificate is not checked: the admin
    /// endpoint only answers connections from the server's own machine.
    #[arg(long)]
    pub tls: bool,
    /// Admin token file [default: DATA/admin.token].
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Seconds to wait for the server to take the snapshot, and for each read of it.
    #[arg(long, default_value_t = 3600)]
    pub timeout_secs: u64,
}

/// Settings of `hearth restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Backup directory written by `hearth backup`.
    pub src: PathBuf,
    /// Data directory to restore into; it must not exist or be empty.
    #[arg(long, env = "HEARTH_DATA", default_value = "./data")]
    pub data: PathBuf,
}

/// Settings of `hearth verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A backup directory, or the data directory of a server that is not running.
    pub dir: PathBuf,
}

/// `hearth backup DEST`.
pub fn backup(args: BackupArgs) -> i32 {
    match run_backup(&args) {
        Ok(report) => {
            println!("{report}");
            println!("backup written to {}", args.dest.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("hearth backup: {e}");
            EXIT_FAILED
        }
    }
}

/// `hearth restore SRC`.
pub fn restore(args: RestoreArgs) -> i32 {
    match backup::restore(&args.src, &args.data) {
        Ok(report) => {
            println!("{report}");
            println!(
                "restored {} into {}; start the server with --data {}",
                args.src.display(),
                args.data.display(),
                args.data.display()
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("hearth restore: {e}");
            EXIT_FAILED
        }
    }
}

/// `hearth verify DIR`.
pub fn verify(args: VerifyArgs) -> i32 {
    match backup::verify_dir(&args.dir) {
        Ok(report) => {
            println!("{report}");
            EXIT_OK
        }
        Err(e) if e.is_damage() => {
            eprintln!("hearth verify: FAILED: {e}");
            EXIT_FAILED
        }
        Err(e) => {
            eprintln!("hearth verify: cannot check: {e}");
            EXIT_CANNOT_CHECK
        }
    }
}

fn run_backup(args: &BackupArgs) -> Result<VerifyReport, BackupError> {
    let staging = Staging::create(&args.dest)?;
    let manifest = match &args.server {
        Some(url) => through_server(url, args, &staging)?,
        None => match backup::snapshot_data_dir(&args.data, &staging.db_path()) {
            Ok(snapshot) => {
                eprintln!("no server has {} open; copied it directly", args.data.display());
                Manifest::describe(&staging.db_path(), &snapshot)?
            }
            Err(BackupError::InUse { .. }) => {
                let tls = args.tls || std::env::var_os("HEARTH_TLS_CERT").is_some_and(|v| !v.is_empty());
                let url = server_url(args.bind, tls);
                eprintln!("a server has {} open; taking the backup through it at {url}", args.data.display());
                through_server(&url, args, &staging)?
            }
            Err(e) => return Err(e),
        },
    };
    staging.finish(&manifest)
}

/// Where to reach a server bound to `bind` from this machine.
fn server_url(bind: SocketAddr, tls: bool) -> String {
    let ip = match bind.ip() {
        IpAddr::V4(v) if v.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v) if v.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(ip, bind.port()))
}

/// Download the server's snapshot into the staging directory; returns the
/// server's manifest after checking the bytes against it.
fn through_server(url: &str, args: &BackupArgs, staging: &Staging) -> Result<Manifest, BackupError> {
    let err = |detail: String| BackupError::Server { url: url.to_string(), detail };
    let token_path = args.token_file.clone().unwrap_or_else(|| args.data.join(ADMIN_TOKEN_FILE));
    let token = read_token(&token_path)?;
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    let response = client::post(url, "/admin/backup", &token, timeout)?;
    if response.status != 200 {
        let status = response.status;
        let body = response.text();
        return Err(err(format!("the server answered {status}: {}", body.trim())));
    }
    let manifest = response
        .header(MANIFEST_HEADER)
        .ok_or_else(|| err(format!("the response has no {MANIFEST_HEADER} header")))
        .and_then(|h| Manifest::parse(h.as_bytes()).map_err(|d| err(format!("bad {MANIFEST_HEADER} header: {d}"))))?;
    let mut out = HashingFile::create(&staging.db_path())?;
    response.copy_body(&mut out)?;
    let (bytes, sha) = out.finish()?;
    if bytes != manifest.database_bytes || sha != manifest.database_sha256 {
        return Err(err(format!(
            "the snapshot arrived damaged: got {bytes} bytes with SHA-256 {sha}, expected {} bytes with {}",
            manifest.database_bytes, manifest.database_sha256
        )));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_url_reaches_unspecified_binds_on_loopback() {
        assert_eq!(server_url("0.0.0.0:8080".parse().unwrap(), false), "http://127.0.0.1:8080");
        assert_eq!(server_url("[::]:9000".parse().unwrap(), false), "http://[::1]:9000");
        assert_eq!(server_url("10.1.2.3:80".parse().unwrap(), true), "https://10.1.2.3:80");
    }
}
