//! Backups while the server runs: `hearth backup` under write load, `hearth
//! verify`, `hearth restore` into an empty data dir, and a second server on
//! the restored copy.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::common::*;

/// Run the real `hearth` binary with `args` and wait for it.
async fn hearth(args: &[&str]) -> Output {
    crate::support::run_hearth(args, &[("RUST_LOG", "warn")]).await
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// One acknowledged message: its id, content, when it was sent and acked.
#[derive(Debug, Clone)]
struct Acked {
    id: u64,
    content: String,
    sent: Instant,
    acked: Instant,
}

/// Every message id in a channel, through the paginated history.
async fn history(s: &Server, u: &User, channel: u64) -> Vec<(u64, String)> {
    let mut all = Vec::new();
    let mut query = "limit=100".to_string();
    loop {
        let (st, page) = u.get(s, &format!("/channels/{channel}/messages?{query}")).await;
        assert_eq!(st, 200, "{page}");
        let page = page.as_array().expect("history array").clone();
        if page.is_empty() {
            break;
        }
        let mut oldest = u64::MAX;
        for m in &page {
            let mid = id(&m["id"]);
            oldest = oldest.min(mid);
            all.push((mid, m["content"].as_str().unwrap_or_default().to_string()));
        }
        query = format!("limit=100&before={oldest}");
    }
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_write_load_restores_everything_acknowledged_before_it_began() {
    let s = Arc::new(Server::start().await);
    let alice = s.user("alice").await;
    let (gid, general) = alice.guild(&s, "Backed Up").await;
    let code = alice.invite(&s, general, json!({})).await;
    let mut senders = vec![alice.clone()];
    for name in ["bob", "carol", "dave"] {
        let u = s.user(name).await;
        u.join(&s, &code).await;
        senders.push(u);
    }
    let (_, dm) = alice.post(&s, "/users/@me/channels", json!({"recipient_id": senders[1].id.to_string()})).await;
    let dm_id = id(&dm["id"]);
    senders[1].say(&s, dm_id, "a private word").await;

    // The admin endpoint wants the token from the data dir.
    let http = crate::support::Http::new(s.url(""));
    assert_eq!(http.call("POST", "/admin/backup", None, None).await.status, 401, "no token");
    let wrong = "0".repeat(64);
    assert_eq!(http.call("POST", "/admin/backup", Some(&wrong), None).await.status, 401, "wrong token");

    // Clients send continuously; each records what was acknowledged, and when.
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = senders
        .iter()
        .cloned()
        .map(|u| {
            let (s, stop, count) = (s.clone(), stop.clone(), count.clone());
            tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut k = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let content = format!("{}-{k}", u.name);
                    let sent = Instant::now();
                    let m = u.say(&s, general, &content).await;
                    acked.push(Acked { id: id(&m["id"]), content, sent, acked: Instant::now() });
                    count.fetch_add(1, Ordering::Relaxed);
                    k += 1;
                }
                acked
            })
        })
        .collect();
    // Load before the backup: enough acknowledged messages that some must be in it.
    eventually(WAIT, "20 messages acknowledged", || count.load(Ordering::Relaxed) >= 20).await;

    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backup-1");
    let began = Instant::now();
    // No --server: the data dir is in use, so it goes through the server at --bind.
    let out = hearth(&["backup", path(&dest), "--data", path(&s.data), "--bind", &s.addr]).await;
    let ended = Instant::now();
    // Load after it: messages the backup must not contain.
    let at_end = count.load(Ordering::Relaxed);
    eventually(WAIT, "messages acknowledged after the backup", || count.load(Ordering::Relaxed) >= at_end + 10).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.expect("sender"));
    }
    assert!(out.status.success(), "backup failed: {}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).contains("through it"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("backup written to"), "{}", text(&out.stdout));
    assert!(dest.join("manifest.json").is_file() && dest.join("hearth.redb").is_file());
    let before: Vec<&Acked> = acked.iter().filter(|a| a.acked < began).collect();
    let during = acked.iter().filter(|a| a.acked >= began && a.acked <= ended).count();
    let after_sent: Vec<&Acked> = acked.iter().filter(|a| a.sent > ended).collect();
    eprintln!(
        "{} messages acknowledged: {} before the backup began, {during} while it ran ({:?}), {} sent after it ended",
        acked.len(),
        before.len(),
        ended - began,
        after_sent.len()
    );
    assert!(before.len() >= 20, "too little load before the backup");
    assert!(during > 0, "the server must keep serving writes while the backup runs");

    // The backup verifies.
    let out = hearth(&["verify", path(&dest)]).await;
    assert_eq!(out.status.code(), Some(0), "verify: {}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("OK"), "{}", text(&out.stdout));

    // A copy with changed bytes does not.
    let bad = dir.path().join("backup-bad");
    std::fs::create_dir(&bad).unwrap();
    for f in ["manifest.json", "hearth.redb"] {
        std::fs::copy(dest.join(f), bad.join(f)).unwrap();
    }
    let mut bytes = std::fs::read(bad.join("hearth.redb")).unwrap();
    for i in (bytes.len() / 2..bytes.len()).step_by(1024) {
        bytes[i] ^= 0xFF;
    }
    std::fs::write(bad.join("hearth.redb"), bytes).unwrap();
    let out = hearth(&["verify", path(&bad)]).await;
    assert_eq!(out.status.code(), Some(1), "damaged backup: {}{}", text(&out.stdout), text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("FAILED") && err.contains("mismatch") && err.contains(path(&bad)), "{err}");
    // Not a backup at all: exit 2.
    let out = hearth(&["verify", path(&dir.path().join("nothing-here"))]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // Restore refuses a data dir that is not empty (the first server's) ...
    let out = hearth(&["restore", path(&dest), "--data", path(&s.data)]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not empty"), "{}", text(&out.stderr));
    // ... and restores into an empty one: a second server's, stopped and emptied.
    let mut s2 = Server::start().await;
    s2.terminate().await;
    std::fs::remove_dir_all(&s2.data).unwrap();
    let out = hearth(&["restore", path(&dest), "--data", path(&s2.data)]).await;
    assert!(out.status.success(), "restore: {}{}", text(&out.stdout), text(&out.stderr));
    s2.restart().await;

    // Every message acknowledged before the backup began is there; what is
    // there is, per sender, a prefix of what it sent (one point in time), and
    // nothing sent after the backup ended is.
    let restored = history(&s2, &alice, general).await;
    let restored_ids: BTreeSet<u64> = restored.iter().map(|(i, _)| *i).collect();
    let missing: Vec<&&Acked> = before.iter().filter(|a| !restored_ids.contains(&a.id)).collect();
    assert!(missing.is_empty(), "{} acknowledged messages missing, e.g. {:?}", missing.len(), missing.first());
    let by_id: HashMap<u64, &Acked> = acked.iter().map(|a| (a.id, a)).collect();
    for (mid, content) in &restored {
        let a = by_id.get(mid).unwrap_or_else(|| panic!("restored message {mid} {content:?} was never acknowledged"));
        assert_eq!(&a.content, content);
    }
    for u in &senders {
        let mine: Vec<&Acked> = acked.iter().filter(|a| a.content.starts_with(&format!("{}-", u.name))).collect();
        let kept = mine.iter().take_while(|a| restored_ids.contains(&a.id)).count();
        assert!(mine[kept..].iter().all(|a| !restored_ids.contains(&a.id)), "{}: not a prefix", u.name);
    }
    assert!(after_sent.iter().all(|a| !restored_ids.contains(&a.id)), "a message sent after the backup is in it");
    eprintln!("restored {} messages", restored.len());

    // Users, tokens, guilds, members, DMs came back; passwords still work.
    for u in &senders {
        let (st, me) = u.get(&s2, "/users/@me").await;
        assert_eq!((st, me["username"].as_str()), (200, Some(u.name.as_str())), "token of {}", u.name);
        let (st, g) = u.get(&s2, &format!("/guilds/{gid}")).await;
        assert_eq!((st, g["name"].as_str()), (200, Some("Backed Up")));
    }
    let (_, members) = alice.get(&s2, &format!("/guilds/{gid}/members")).await;
    assert_eq!(members.as_array().map(Vec::len), Some(4));
    let (_, dmh) = alice.get(&s2, &format!("/channels/{dm_id}/messages")).await;
    assert_eq!(dmh[0]["content"], "a private word");
    let (st, _) =
        req(&s2, "POST", "/auth/login", None, Some(json!({"username": "carol", "password": "password123"}))).await;
    assert_eq!(st, 200);

    // The restored server takes new messages, with ids after everything restored.
    let m = alice.say(&s2, general, "after the restore").await;
    assert!(id(&m["id"]) > *restored_ids.last().unwrap_or(&0));
    let (mut gw, ready) = Gw::identify(&s2, &senders[2], Enc::Json).await;
    assert!(ready["guilds"].as_array().is_some_and(|g| !g.is_empty()), "{ready}");
    senders[3].say(&s2, general, "hello again").await;
    gw.dispatch_where("MESSAGE_CREATE", |d| d["content"] == "hello again").await;

    assert!(!s.logged_panic() && !s2.logged_panic());

    // With the first server stopped, `hearth backup` copies its data dir
    // directly: every message is in that one.
    let mut s = Arc::try_unwrap(s).ok().expect("no sender holds the server");
    assert_eq!(s.terminate().await, Some(0));
    let offline = dir.path().join("backup-offline");
    let out = hearth(&["backup", path(&offline), "--data", path(&s.data)]).await;
    assert!(out.status.success(), "offline backup: {}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).contains("copied it directly"), "{}", text(&out.stderr));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(offline.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["tables"]["messages"].as_u64(), Some(acked.len() as u64 + 1), "{manifest}");
}
