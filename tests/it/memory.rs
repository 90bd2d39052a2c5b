//! Memory under a cap (docs/operations.md, "Sizing"): a server with an 8 MiB
//! storage cache and a database eight times that size, read from end to end
//! by many clients at once. Where this machine lets a test create a cgroup
//! (root, cgroup v2 or the v1 memory controller), the server runs inside one
//! capped at `CAP_MIB` and the test checks the kernel's OOM-kill counter;
//! everywhere it measures the server's peak RSS (VmHWM) against the budget.
//! Without a cgroup that measurement is all there is, and the test says so.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::common::*;
use crate::support::cgroup::Cgroup;

/// The storage cache of the server under test.
const CACHE_MIB: u64 = 8;
/// The database is written until its file is at least this large.
const DB_MIB: u64 = 64;
/// The cgroup's memory cap, page cache of the database file included (the
/// kernel reclaims that before it kills anything).
const CAP_MIB: u64 = 128;
/// Peak RSS allowed (debug build). Measured here: about 30 MiB at start, 60
/// after the 8 writers filled the file, 85-90 while the 10 readers each
/// build a 100-message page (records plus JSON, about 0.8 MiB a request);
/// three passes in a row reach the same peak, so it is the allocator's
/// high-water mark, not growth. With the cache unbounded (`--cache-mib
/// 1024`) the same run peaks at 118 MiB and fails.
const BUDGET_MIB: u64 = 112;
/// Concurrent writers while filling the database, and readers afterwards.
const WRITERS: usize = 8;
const READERS: usize = 10;
/// Characters per message: near `MAX_MESSAGE_CHARS`, so few messages fill the file.
const CONTENT_CHARS: usize = 3800;

/// Peak and current RSS of `pid` in KiB, from /proc.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    (field("VmHWM:").unwrap_or(0), field("VmRSS:").unwrap_or(0))
}

fn file_mib(s: &Server) -> u64 {
    std::fs::metadata(s.data.join("hearth.redb")).map_or(0, |m| m.len()) >> 20
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_reads_across_a_database_larger_than_the_cache_stay_within_the_memory_budget() {
    let cgroup = match Cgroup::create(&format!("hearth-test-{}", std::process::id()), CAP_MIB << 20) {
        Ok(c) => Some(c),
        Err(why) => {
            eprintln!("\n==============================================================");
            eprintln!("SKIPPED (cgroup part): cannot create a memory cgroup here: {why}");
            eprintln!("Measuring the server's peak RSS from /proc against {BUDGET_MIB} MiB only.");
            eprintln!("==============================================================\n");
            None
        }
    };
    let procs = cgroup.as_ref().map(Cgroup::procs_file);
    let s = Server::start_in(&["--cache-mib", &CACHE_MIB.to_string()], procs).await;
    let pid = s.pid().expect("server runs");
    eprintln!("RSS at start: {} MiB", rss_kib(pid).1 >> 10);

    let owner = s.user("capowner").await;
    let (gid, general) = owner.guild(&s, "capped").await;
    let mut channels = vec![general];
    for n in 0..3 {
        let (st, c) = owner.post(&s, &format!("/guilds/{gid}/channels"), json!({"name": format!("c{n}")})).await;
        assert_eq!(st, 201, "{c}");
        channels.push(id(&c["id"]));
    }
    let code = owner.invite(&s, general, json!({})).await;
    let mut users = Vec::new();
    for n in 0..WRITERS.max(READERS) {
        let u = s.user(&format!("capuser{n}")).await;
        u.join(&s, &code).await;
        users.push(u);
    }
    let s = Arc::new(s);
    let channels = Arc::new(channels);

    // Fill the database: writers send until the file is DB_MIB.
    let started = Instant::now();
    let (sent, full) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let writers: Vec<_> = users[..WRITERS]
        .iter()
        .cloned()
        .enumerate()
        .map(|(w, u)| {
            let (s, channels, sent, full) = (s.clone(), channels.clone(), sent.clone(), full.clone());
            tokio::spawn(async move {
                let filler = "abcdefghij".repeat(CONTENT_CHARS / 10);
                let mut n = 0usize;
                while !full.load(Relaxed) {
                    let channel = channels[(w + n) % channels.len()];
                    u.say(&s, channel, &format!("{w}-{n} {filler}")).await;
                    n += 1;
                    if sent.fetch_add(1, Relaxed) % 200 == 0 && file_mib(&s) >= DB_MIB {
                        full.store(true, Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    let total = sent.load(Relaxed);
    let db_mib = file_mib(&s);
    let (peak_writing, after_writing) = rss_kib(pid);
    eprintln!(
        "wrote {total} messages, database {db_mib} MiB, in {:?}; RSS {} MiB (peak {} MiB)",
        started.elapsed(),
        after_writing >> 10,
        peak_writing >> 10
    );
    assert!(db_mib >= DB_MIB, "{db_mib} MiB");

    // Read every message from READERS clients at once, each channel from
    // its newest page to its first, sampling the server's RSS meanwhile.
    let reading = Arc::new(AtomicBool::new(true));
    let sampler = {
        let reading = reading.clone();
        tokio::spawn(async move {
            let mut max = 0;
            while reading.load(Relaxed) {
                max = max.max(rss_kib(pid).1);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            max
        })
    };
    let started = Instant::now();
    let readers: Vec<_> = users[..READERS]
        .iter()
        .cloned()
        .enumerate()
        .map(|(r, u)| {
            let (s, channels) = (s.clone(), channels.clone());
            tokio::spawn(async move {
                let mut read = 0u64;
                for i in 0..channels.len() {
                    let channel = channels[(r + i) % channels.len()];
                    let mut before: Option<u64> = None;
                    loop {
                        let cursor = before.map(|b| format!("&before={b}")).unwrap_or_default();
                        let (st, page) = u.get(&s, &format!("/channels/{channel}/messages?limit=100{cursor}")).await;
                        assert_eq!(st, 200, "reader {r}: {page}");
                        let page = page.as_array().expect("a page is a list").clone();
                        read += page.len() as u64;
                        match page.first() {
                            Some(m) if page.len() == 100 => before = Some(id(&m["id"])),
                            _ => break,
                        }
                    }
                }
                read
            })
        })
        .collect();
    for r in readers {
        assert_eq!(r.await.expect("reader"), total, "every reader reads every message");
    }
    reading.store(false, Relaxed);
    let sampled_max_kib = sampler.await.expect("sampler");
    let (peak_kib, now_kib) = rss_kib(pid);
    let cache_used = s.metric("hearth_store_cache_used_bytes").await as u64;
    let ready = crate::support::http::client().get(s.url("/readyz")).send().await.expect("GET /readyz");
    eprintln!(
        "read {} messages {READERS} times in {:?}: server RSS peak {} MiB (sampled max {} MiB, now {} MiB), cache {:.1} MiB",
        total,
        started.elapsed(),
        peak_kib >> 10,
        sampled_max_kib >> 10,
        now_kib >> 10,
        cache_used as f64 / 1048576.0
    );

    assert_eq!(ready.status().as_u16(), 200, "the server still answers");
    assert!(cache_used <= CACHE_MIB << 20, "the cache holds {cache_used} bytes, more than {CACHE_MIB} MiB");
    assert!(peak_kib >> 10 <= BUDGET_MIB, "peak RSS {} MiB is over the budget of {BUDGET_MIB} MiB", peak_kib >> 10);
    if let Some(cg) = &cgroup {
        eprintln!(
            "cgroup {:?} {}: cap {} MiB, peak {} MiB (page cache included), hit the cap {} times, OOM kills {}",
            cg.version,
            cg.dir.display(),
            cg.limit() >> 20,
            cg.peak().unwrap_or(0) >> 20,
            cg.times_at_cap(),
            cg.oom_kills()
        );
        assert_eq!(cg.limit(), CAP_MIB << 20, "the cap is in force");
        assert_eq!(cg.oom_kills(), 0, "the OOM killer fired");
    }
    assert!(!s.logged_panic());
}

/// What a session holds is given back when it ends: after ordinary closes at
/// once, after dropped connections when the resume grace runs out. The
/// gauges an operator watches (replay bytes, indexes keyed by user, session
/// and address) return to zero instead of growing with every visitor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_give_their_memory_back_when_they_end() {
    let s = Server::start_with(&["--resume-grace-secs", "1"]).await;
    let owner = s.user("memowner").await;
    let (_, general) = owner.guild(&s, "visitors").await;
    let code = owner.invite(&s, general, json!({})).await;
    let mut users = Vec::new();
    for n in 0..6 {
        let u = s.user(&format!("visitor{n}")).await;
        u.join(&s, &code).await;
        users.push(u);
    }
    let gauge = |body: &str, series: &str| -> f64 {
        body.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in the scrape"))
    };
    for round in 0..3 {
        let mut gws = Vec::new();
        for u in &users {
            gws.push(Gw::identify(&s, u, Enc::Json).await.0);
        }
        for n in 0..5 {
            owner.say(&s, general, &format!("round {round} message {n}")).await;
        }
        let body = eventually_async(WAIT, "frames held for resume", || async {
            let body = s.metrics().await;
            (gauge(&body, "hearth_replay_frames") >= 30.0).then_some(body)
        })
        .await;
        assert_eq!(gauge(&body, "hearth_index_entries{index=\"online_users\"}"), 6.0, "{body}");
        assert!(gauge(&body, "hearth_replay_bytes{state=\"attached\"}") > 0.0, "{body}");
        // Half close normally (the session ends), half drop the connection
        // with a resumable close code (the session waits out the grace).
        for (i, mut gw) in gws.into_iter().enumerate() {
            let code = if i % 2 == 0 { WsCloseCode::Normal } else { WsCloseCode::Library(4000) };
            let frame = CloseFrame { code, reason: "".into() };
            gw.send_raw(WsMessage::Close(Some(frame))).await;
            let _ = gw.closed().await;
        }
        eventually_async(Duration::from_secs(20), "every session ended and gave its memory back", || async {
            let body = s.metrics().await;
            let all_zero = [
                "hearth_gateway_sessions",
                "hearth_replay_frames",
                "hearth_replay_bytes{state=\"attached\"}",
                "hearth_replay_bytes{state=\"detached\"}",
                "hearth_outbound_bytes",
                "hearth_index_entries{index=\"online_users\"}",
                "hearth_index_entries{index=\"resumable_sessions\"}",
                "hearth_index_entries{index=\"connection_ips\"}",
            ]
            .iter()
            .all(|series| gauge(&body, series) == 0.0);
            all_zero.then_some(())
        })
        .await;
    }
    assert!(!s.logged_panic());
}
