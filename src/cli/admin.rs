//! `hearth admin`: operator commands on the database of a stopped server
//! (see docs/operations.md, "Admin commands"). The work is done by
//! [`hearth::store::admin`]; this prints the results.
//!
//! Exit codes: 0 done, 1 the operation failed or was refused, 2 a usage or
//! data-dir problem (missing, no database, in use by a running server).

use std::io::BufRead;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use hearth::auth::{hash_password, PasswordCost};
use hearth::model::{validate, Id};
use hearth::store::admin::{AdminDb, AdminError, CreatedAdmin};

use super::{EXIT_FAILED, EXIT_OK};

/// Exit code of `hearth admin`: bad usage, or the data dir is missing, has no database, or is in use.
pub const EXIT_USAGE: i32 = 2;

/// Settings of `hearth admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The server's data directory (the server must be stopped).
    #[arg(long, env = "HEARTH_DATA", default_value = "./data", global = true)]
    pub data: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The `hearth admin` commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin user (the password is read from stdin), or make an existing user an admin.
    CreateAdmin {
        /// Username of the new admin.
        username: String,
        /// Read the password from the first line of stdin (required for a new user).
        #[arg(long)]
        password_stdin: bool,
        /// If the username exists, make that user an admin (the password is left unchanged).
        #[arg(long)]
        promote: bool,
    },
    /// Set a user's password (read from stdin) and revoke all their login sessions.
    ResetPassword {
        /// The user.
        username: String,
        /// Read the new password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    Users {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: they cannot log in, and their login sessions are revoked.
    Disable {
        /// The user.
        username: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// The user.
        username: String,
    },
    /// Delete a user with their login sessions, memberships and DM listings (their messages stay).
    DeleteUser {
        /// The user.
        username: String,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
        /// Also delete the guilds the user owns (otherwise owning one makes this fail).
        #[arg(long)]
        delete_owned_guilds: bool,
    },
    /// List guilds.
    Guilds {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a guild with its channels, messages, roles, members and invites.
    DeleteGuild {
        /// The guild's id.
        id: Id,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
    /// Compact the database file (reclaims space freed by deletions).
    Compact,
    /// Print counts of users, guilds, channels, messages and login sessions, and the database size.
    Stats {
        /// One JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
}

/// A failure and its exit code.
struct Failure(i32, String);

impl From<AdminError> for Failure {
    fn from(e: AdminError) -> Self {
        Failure(if e.is_usage() { EXIT_USAGE } else { EXIT_FAILED }, e.to_string())
    }
}

fn usage(msg: impl Into<String>) -> Failure {
    Failure(EXIT_USAGE, msg.into())
}

/// `hearth admin ...`.
pub fn admin(args: AdminArgs) -> i32 {
    match run(args) {
        Ok(()) => EXIT_OK,
        Err(Failure(code, msg)) => {
            eprintln!("hearth admin: {msg}");
            code
        }
    }
}

fn run(args: AdminArgs) -> Result<(), Failure> {
    // Flags are checked before the database is opened or stdin read.
    match &args.command {
        AdminCommand::ResetPassword { password_stdin: false, .. } => {
            return Err(usage("pass --password-stdin and write the new password to stdin"))
        }
        AdminCommand::DeleteUser { yes: false, username, .. } => {
            return Err(usage(format!("deleting {username} cannot be undone; pass --yes to confirm")))
        }
        AdminCommand::DeleteGuild { yes: false, id } => {
            return Err(usage(format!("deleting guild {id} cannot be undone; pass --yes to confirm")))
        }
        AdminCommand::CreateAdmin { password_stdin: false, promote: false, .. } => {
            return Err(usage("pass --password-stdin and write the password to stdin"))
        }
        _ => {}
    }
    let db = AdminDb::open(&args.data)?;
    match args.command {
        AdminCommand::CreateAdmin { username, password_stdin, promote } => {
            let hash = if password_stdin { Some(read_password_hash()?) } else { None };
            match db.create_admin(&username, hash, promote)? {
                CreatedAdmin::Created(u) => println!("created admin {} (id {})", u.username, u.id),
                CreatedAdmin::Promoted(u) => println!("{} (id {}) is now an admin", u.username, u.id),
            }
        }
        AdminCommand::ResetPassword { username, .. } => {
            let hash = read_password_hash()?;
            let (u, revoked) = db.set_password(&username, hash)?;
            println!("password of {} changed; {revoked} login session(s) revoked", u.username);
        }
        AdminCommand::Users { json } => {
            let users = db.users()?;
            if json {
                println!("{}", to_json(&users));
            } else {
                let rows = users.iter().map(|u| {
                    vec![
                        u.user.id.to_string(),
                        u.user.username.clone(),
                        u.user.display_name.clone().unwrap_or_else(|| "-".into()),
                        utc(u.user.created_at),
                        yes_no(u.admin),
                        yes_no(u.disabled),
                        u.guilds.to_string(),
                    ]
                });
                print_table(&["ID", "USERNAME", "DISPLAY NAME", "CREATED", "ADMIN", "DISABLED", "GUILDS"], rows);
            }
        }
        AdminCommand::Disable { username } => {
            let (u, revoked) = db.set_disabled(&username, true)?;
            println!("{} disabled; {revoked} login session(s) revoked", u.username);
        }
        AdminCommand::Enable { username } => {
            let (u, _) = db.set_disabled(&username, false)?;
            println!("{} enabled", u.username);
        }
        AdminCommand::DeleteUser { username, delete_owned_guilds, .. } => {
            let d = db.delete_user(&username, delete_owned_guilds)?;
            for g in &d.guilds_deleted {
                println!("deleted guild {} ({})", g.id, g.name);
            }
            println!(
                "deleted user {} (id {}): {} login session(s), {} membership(s); their messages are kept",
                d.user.username, d.user.id, d.tokens, d.memberships
            );
        }
        AdminCommand::Guilds { json } => {
            let guilds = db.guilds()?;
            if json {
                println!("{}", to_json(&guilds));
            } else {
                let rows = guilds.iter().map(|g| {
                    vec![
                        g.guild.id.to_string(),
                        g.guild.name.clone(),
                        g.owner.clone().unwrap_or_else(|| format!("(deleted user {})", g.guild.owner_id)),
                        g.members.to_string(),
                        g.channels.to_string(),
                    ]
                });
                print_table(&["ID", "NAME", "OWNER", "MEMBERS", "CHANNELS"], rows);
            }
        }
        AdminCommand::DeleteGuild { id, .. } => {
            let g = db.delete_guild(id)?;
            println!("deleted guild {} ({}) with its channels, messages, roles, members and invites", g.id, g.name);
        }
        AdminCommand::Compact => {
            let path = db.path().to_path_buf();
            let (before, after) = db.compact()?;
            println!("compacted {}: {} -> {}", path.display(), size(before), size(after));
        }
        AdminCommand::Stats { json } => {
            let s = db.stats()?;
            if json {
                println!("{}", to_json(&s));
            } else {
                println!("users:          {}", s.users);
                println!("guilds:         {}", s.guilds);
                println!("channels:       {}", s.channels);
                println!("messages:       {}", s.messages);
                println!("tokens:         {}", s.tokens);
                println!("database size:  {}", size(s.database_bytes));
                println!("schema version: {}", s.schema_version);
            }
        }
    }
    Ok(())
}

/// Read one line from stdin, check it as a password and hash it with the
/// server's default cost.
fn read_password_hash() -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| usage(format!("cannot read the password from stdin: {e}")))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(usage("no password on stdin (write it as the first line)"));
    }
    validate::password(password).map_err(|e| Failure(EXIT_FAILED, e.to_string()))?;
    hash_password(password, PasswordCost::default()).map_err(|e| Failure(EXIT_FAILED, format!("hashing failed: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn print_table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}

/// Bytes, with a human-readable size.
fn size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024 * 1024 {
        format!("{bytes} bytes ({:.1} MiB)", bytes as f64 / MIB)
    } else {
        format!("{bytes} bytes ({:.1} KiB)", bytes as f64 / 1024.0)
    }
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc(ms: u64) -> String {
    let (y, m, d, h, mi, s) = hearth::util::utc_parts(ms);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_and_sizes() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000_123), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(size(2048), "2048 bytes (2.0 KiB)");
        assert_eq!(size(3 * 1024 * 1024), "3145728 bytes (3.0 MiB)");
    }
}
