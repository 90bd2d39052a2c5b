//! `hearth admin`: the real binary on the data dir of a real (stopped) server.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use support::{Http, Launch, Running};
use tokio::io::AsyncWriteExt;

const WAIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "correct horse battery staple";

/// A running `hearth serve`.
struct Server {
    running: Running,
    http: Http,
}

impl Server {
    async fn start(data: &Path) -> Server {
        let running = Launch::serve()
            .data(data)
            .args(["--argon2-memory-kib", "256", "--argon2-iterations", "1", "--rate-limit-scale", "1000"])
            .env("RUST_LOG", "warn")
            .start()
            .await;
        Server { http: Http::new(running.api("")), running }
    }

    /// SIGTERM and wait for a clean exit.
    async fn stop(self) {
        self.running.stop().await;
    }

    /// A REST call: status and JSON body (Null if empty).
    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let r = self.http.call(method, path, token, body.as_ref()).await;
        (r.status, r.body)
    }

    async fn register(&self, username: &str) -> Value {
        let (st, user) =
            self.call("POST", "/auth/register", None, Some(json!({"username": username, "password": PASSWORD}))).await;
        assert_eq!(st, 201, "register {username}: {user}");
        user
    }

    async fn login(&self, username: &str, password: &str) -> (u16, Value) {
        self.call("POST", "/auth/login", None, Some(json!({"username": username, "password": password}))).await
    }

    async fn token(&self, username: &str) -> String {
        let (st, body) = self.login(username, PASSWORD).await;
        assert_eq!(st, 200, "login {username}: {body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// A guild owned by `token`'s user with `messages` messages in #general; returns the guild id.
    async fn guild_with_messages(&self, token: &str, name: &str, messages: usize) -> String {
        let (st, g) = self.call("POST", "/guilds", Some(token), Some(json!({"name": name}))).await;
        assert_eq!(st, 201, "{g}");
        let gid = g["id"].as_str().unwrap().to_string();
        let (st, chans) = self.call("GET", &format!("/guilds/{gid}/channels"), Some(token), None).await;
        assert_eq!(st, 200, "{chans}");
        let general = chans.as_array().unwrap().iter().find(|c| c["kind"] == "text").unwrap()["id"].clone();
        let general = general.as_str().unwrap();
        for i in 0..messages {
            let body = json!({"content": format!("message {i}: {}", "x".repeat(200))});
            let (st, m) = self.call("POST", &format!("/channels/{general}/messages"), Some(token), Some(body)).await;
            assert_eq!(st, 201, "{m}");
        }
        gid
    }
}

/// Run `hearth admin ARGS --data DATA` with `stdin`; (exit code, stdout, stderr).
async fn admin(data: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = tokio::process::Command::new(support::hearth_bin())
        .arg("admin")
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("HEARTH_DATA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hearth admin");
    let mut input = child.stdin.take().unwrap();
    // A command that fails early exits without reading stdin: a broken pipe is fine.
    let _ = input.write_all(stdin.as_bytes()).await;
    drop(input);
    let out = tokio::time::timeout(WAIT, child.wait_with_output()).await.expect("admin in time").unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().expect("exit code"), text(out.stdout), text(out.stderr))
}

/// `admin ... --json` output, parsed.
async fn admin_json(data: &Path, args: &[&str]) -> Value {
    let (code, out, err) = admin(data, args, "").await;
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    (tmp, data)
}

#[tokio::test]
async fn missing_data_dir_or_database_is_a_usage_error_naming_the_path() {
    let (_tmp, data) = data_dir();
    let (code, _, err) = admin(&data, &["stats"], "").await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("the data dir {} does not exist", data.display())), "{err}");
    std::fs::create_dir(&data).unwrap();
    let (code, _, err) = admin(&data, &["users"], "").await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("no database at {}", data.join("hearth.redb").display())), "{err}");
    assert!(!data.join("hearth.redb").exists(), "admin must not create a database");
    // Flags are checked first.
    let (code, _, err) = admin(&data, &["delete-guild", "1"], "").await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--yes"), "{err}");
}

#[tokio::test]
async fn stats_count_what_a_server_stored_and_a_running_server_is_refused() {
    let (_tmp, data) = data_dir();
    let server = Server::start(&data).await;
    server.register("alice").await;
    server.register("bob").await;
    let alice = server.token("alice").await;
    server.guild_with_messages(&alice, "Den", 3).await;

    let (code, out, err) = admin(&data, &["stats"], "").await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(&format!(
            "the data dir {} is in use by a running server (stop it first: systemctl stop hearth)",
            data.display()
        )),
        "{err}"
    );
    let (code, _, err) = admin(&data, &["create-admin", "root", "--password-stdin"], "rootpassword1\n").await;
    assert_eq!(code, 2, "{err}");
    server.stop().await;

    let s = admin_json(&data, &["stats", "--json"]).await;
    assert_eq!(s["users"], 2, "{s}");
    assert_eq!(s["guilds"], 1, "{s}");
    assert_eq!(s["channels"], 2, "{s}"); // #general and the General voice channel
    assert_eq!(s["messages"], 3, "{s}");
    assert_eq!(s["tokens"], 1, "{s}");
    assert_eq!(s["schema_version"], 3, "{s}");
    let (code, out, _) = admin(&data, &["stats"], "").await;
    assert_eq!(code, 0);
    assert!(out.contains("messages:       3") && out.contains("database size:"), "{out}");

    // create-admin reads the password from stdin.
    let (code, out, err) = admin(&data, &["create-admin", "root", "--password-stdin"], "rootpassword1\n").await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("created admin root (id "), "{out}");
    let (code, _, err) = admin(&data, &["create-admin", "ROOT", "--password-stdin"], "other-password\n").await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--promote"), "{err}");
    let (code, _, err) = admin(&data, &["create-admin", "nobody"], "").await;
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = admin(&data, &["create-admin", "alice", "--promote"], "").await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("alice (id ") && out.contains("is now an admin"), "{out}");
    let users = admin_json(&data, &["users", "--json"]).await;
    let admins: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["admin"] == true)
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(admins, ["alice", "root"]);
    let alice_row = users.as_array().unwrap().iter().find(|u| u["username"] == "alice").unwrap();
    assert_eq!(alice_row["guilds"], 1);

    let server = Server::start(&data).await;
    let (st, body) = server.login("root", "rootpassword1").await;
    assert_eq!(st, 200, "{body}");
    // The public user is unchanged: no admin or disabled fields.
    assert!(body["user"].get("admin").is_none() && body["user"].get("disabled").is_none(), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn disable_reset_password_and_delete_users_and_guilds() {
    let (_tmp, data) = data_dir();
    let server = Server::start(&data).await;
    server.register("alice").await;
    server.register("bob").await;
    let alice = server.token("alice").await;
    let bob = server.token("bob").await;
    let gid = server.guild_with_messages(&alice, "Den", 2).await;
    server.stop().await;

    let (code, out, err) = admin(&data, &["disable", "bob"], "").await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "bob disabled; 1 login session(s) revoked");
    let (code, out, err) = admin(&data, &["reset-password", "alice", "--password-stdin"], "a new password\n").await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "password of alice changed; 1 login session(s) revoked");
    let (code, _, err) = admin(&data, &["disable", "carol"], "").await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no user named \"carol\""), "{err}");

    let server = Server::start(&data).await;
    let (st, body) = server.login("bob", PASSWORD).await;
    assert_eq!((st, body["code"].as_str()), (403, Some("account_disabled")), "{body}");
    let (st, _) = server.login("bob", "wrong password!").await;
    assert_eq!(st, 401, "a wrong password says nothing about the account");
    let (st, _) = server.call("GET", "/users/@me", Some(&bob), None).await;
    assert_eq!(st, 401, "bob's tokens were revoked");
    let (st, _) = server.call("GET", "/users/@me", Some(&alice), None).await;
    assert_eq!(st, 401, "alice's tokens were revoked");
    let (st, _) = server.login("alice", PASSWORD).await;
    assert_eq!(st, 401, "the old password no longer works");
    let (st, body) = server.login("alice", "a new password").await;
    assert_eq!(st, 200, "{body}");
    server.stop().await;

    let (code, out, err) = admin(&data, &["enable", "bob"], "").await;
    assert_eq!((code, out.trim()), (0, "bob enabled"), "{err}");
    let (code, _, err) = admin(&data, &["delete-user", "alice"], "").await;
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = admin(&data, &["delete-user", "alice", "--yes"], "").await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("{gid} (Den)")) && err.contains("--delete-owned-guilds"), "{err}");

    let guilds = admin_json(&data, &["guilds", "--json"]).await;
    assert_eq!(guilds[0]["name"], "Den");
    assert_eq!(guilds[0]["owner"], "alice");
    assert_eq!(guilds[0]["members"], 1);
    assert_eq!(guilds[0]["channels"], 2);
    let (code, out, err) = admin(&data, &["delete-guild", &gid, "--yes"], "").await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&format!("deleted guild {gid} (Den)")), "{out}");
    let (code, _, err) = admin(&data, &["delete-guild", &gid, "--yes"], "").await;
    assert_eq!(code, 1, "{err}");
    assert_eq!(admin_json(&data, &["guilds", "--json"]).await, json!([]));

    let (code, out, err) = admin(&data, &["delete-user", "alice", "--yes"], "").await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("deleted user alice (id "), "{out}");
    let s = admin_json(&data, &["stats", "--json"]).await;
    assert_eq!((s["users"].as_u64(), s["guilds"].as_u64(), s["tokens"].as_u64()), (Some(1), Some(0), Some(0)));

    let server = Server::start(&data).await;
    server.register("alice").await; // the username is free again
    let (st, body) = server.login("bob", PASSWORD).await;
    assert_eq!(st, 200, "bob is enabled again: {body}");
    server.stop().await;
}

#[tokio::test]
async fn compact_keeps_the_data_and_the_server_starts_afterwards() {
    let (_tmp, data) = data_dir();
    let server = Server::start(&data).await;
    server.register("alice").await;
    let alice = server.token("alice").await;
    let big = server.guild_with_messages(&alice, "Big", 150).await;
    server.guild_with_messages(&alice, "Kept", 2).await;
    server.stop().await;

    let (code, _, err) = admin(&data, &["delete-guild", &big, "--yes"], "").await;
    assert_eq!(code, 0, "{err}");
    let before = admin_json(&data, &["stats", "--json"]).await;
    let (code, out, err) = admin(&data, &["compact"], "").await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("compacted "), "{out}");
    let after = admin_json(&data, &["stats", "--json"]).await;
    let (b, a) = (before["database_bytes"].as_u64().unwrap(), after["database_bytes"].as_u64().unwrap());
    assert!(a <= b, "compact grew the file: {b} -> {a}");
    let reported: u64 = out.rsplit("-> ").next().and_then(|t| t.split(' ').next()).unwrap().parse().unwrap();
    assert_eq!(a, reported, "stats reads without writing: {out}");
    let counts = |s: &Value| (s["users"].clone(), s["guilds"].clone(), s["messages"].clone(), s["tokens"].clone());
    assert_eq!(counts(&before), counts(&after));
    assert_eq!(after["messages"], 2);

    let server = Server::start(&data).await;
    let (st, me) = server.call("GET", "/users/@me", Some(&alice), None).await;
    assert_eq!((st, me["username"].as_str()), (200, Some("alice")), "{me}");
    let (st, guilds) = server.call("GET", "/users/@me/guilds", Some(&alice), None).await;
    assert_eq!(st, 200, "{guilds}");
    assert_eq!(guilds.as_array().map(Vec::len), Some(1), "{guilds}");
    assert_eq!(guilds[0]["name"], "Kept");
    server.stop().await;
}
