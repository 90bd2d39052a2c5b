//! actions: a channel whose messages are edited, deleted and reacted to
//! while people keep talking. R readers share one channel; the gateway
//! carries paced sends (measured like fanout: every MESSAGE_CREATE must
//! arrive); REST carries reactions (most on one hot message that everyone
//! is reading), edits and deletes at their own rates. Every reader receives
//! every MESSAGE_UPDATE, MESSAGE_DELETE and MESSAGE_REACTION_* dispatch
//! ("other dispatches" in the report). Reports each action's REST latency,
//! refusals, and the server CPU per action and per dispatch delivered.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::time::{Instant, MissedTickBehavior};

use super::{check_fds, drain, fill_counts, specs, Fleet};
use crate::options::Common;
use crate::procstat::{self, Mark};
use crate::report::Report;
use crate::setup::{self, GuildPlan, Layout};
use crate::stats::{Percentiles, Shared};
use crate::targets::{Cmd, Rng};

/// Options of the actions scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Readers (users) in the channel; every one also reacts, edits and deletes.
    #[arg(long, default_value_t = 1000)]
    pub readers: usize,
    /// New messages per second over the gateway, everyone together.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Reactions added or taken back per second (REST), everyone together.
    #[arg(long, default_value_t = 200.0)]
    pub reactions: f64,
    /// Share of reactions on the one hot message (the rest on recent messages).
    #[arg(long, default_value_t = 0.8)]
    pub hot: f64,
    /// Edits per second (REST).
    #[arg(long, default_value_t = 10.0)]
    pub edits: f64,
    /// Deletes per second (REST).
    #[arg(long, default_value_t = 5.0)]
    pub deletes: f64,
    /// Measured seconds.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds of load before the measured window.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Message content bytes.
    #[arg(long, default_value_t = 60)]
    pub payload: usize,
    /// REST actions in flight at most (more are skipped and counted).
    #[arg(long, default_value_t = 256)]
    pub in_flight: usize,
    /// Longest wait after sending for the last deliveries, seconds.
    #[arg(long, default_value_t = 10)]
    pub drain: u64,
}

const EMOJI: [&str; 6] =
    ["%F0%9F%91%8D", "%E2%9D%A4%EF%B8%8F", "%F0%9F%98%82", "%F0%9F%8E%89", "%F0%9F%98%AE", "%F0%9F%94%A5"];

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    React,
    Unreact,
    Edit,
    Delete,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::React => "react",
            Kind::Unreact => "unreact",
            Kind::Edit => "edit",
            Kind::Delete => "delete",
        }
    }
}

/// REST latencies and outcomes per kind of action, measured window only.
#[derive(Default)]
struct Tally {
    ok: BTreeMap<Kind, Histogram<u64>>,
    refused: BTreeMap<(Kind, u16), u64>,
}

struct Ctx {
    client: reqwest::Client,
    base: String,
    tally: Mutex<Tally>,
    shared: Arc<Shared>,
}

impl Ctx {
    async fn act(&self, kind: Kind, method: reqwest::Method, path: String, token: String, body: Option<Value>) {
        let t0 = self.shared.now_us();
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let status = match req.send().await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        };
        let us = self.shared.now_us().saturating_sub(t0).max(1);
        let Ok(mut t) = self.tally.lock() else { return };
        if (200..300).contains(&status) {
            if let std::collections::btree_map::Entry::Vacant(v) = t.ok.entry(kind) {
                let Ok(h) = Histogram::new(3) else { return };
                v.insert(h);
            }
            if let Some(h) = t.ok.get_mut(&kind) {
                let _ = h.record(us);
            }
        } else {
            *t.refused.entry((kind, status)).or_default() += 1;
        }
    }
}

/// Post `n` messages over REST (the hot message first), round robin over `users`.
async fn seed(c: &Common, channel: u64, tokens: &[String], n: usize) -> anyhow::Result<Vec<(u64, usize)>> {
    let rest = setup::Rest::new(c)?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let who = i % tokens.len();
        let body = json!({"content": format!("seed {i} {}", "x".repeat(20))});
        let m = rest
            .call(reqwest::Method::POST, &format!("/channels/{channel}/messages"), Some(&tokens[who]), Some(body))
            .await?;
        out.push((setup::id(&m["id"])?, who));
    }
    Ok(out)
}

/// Run the actions scenario.
pub async fn run(c: &Common, a: &Args, nofile: u64) -> anyhow::Result<Report> {
    check_fds(a.readers, nofile)?;
    let users = a.readers.max(2);
    let plan = Layout { users, guilds: vec![GuildPlan { members: (0..users).collect(), channels: 1 }] };
    let state = setup::ensure(c, &plan).await?;
    let channel = state.guilds[0].channels[0];
    let shared = Arc::new(Shared::new());
    let tokens: Vec<String> = state.users.iter().map(|u| u.token.clone()).collect();
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(a.in_flight).build()?;
    let ctx = Arc::new(Ctx {
        client,
        base: format!("http://{}/api/v1", c.addr),
        tally: Mutex::default(),
        shared: shared.clone(),
    });
    // Messages to edit and delete: enough for the whole run, the hot one first.
    let total_s = (a.warmup + a.duration) as f64;
    let pool_n = ((a.deletes * total_s) as usize + 50).min(20_000);
    let mut pool = seed(c, channel, &tokens, pool_n).await?;
    let (hot, _) = pool.remove(0);

    let mut fleet = Fleet::new();
    fleet.connect(c, &shared, specs(c, &tokens, 0, true, a.payload), "readers", Duration::from_secs(600)).await;
    if fleet.cmds.is_empty() {
        anyhow::bail!("no client connected");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let sem = Arc::new(Semaphore::new(a.in_flight.max(1)));
    let epoch = Instant::from_std(shared.epoch);
    let start = Instant::now();
    let from_us = start.duration_since(epoch).as_micros() as u64 + a.warmup * 1_000_000;
    shared.set_window(from_us, from_us + a.duration * 1_000_000);
    let bar = crate::report::bar(c, a.warmup + a.duration, "acting");
    let mut rng = Rng::new(11);
    // Which emoji each user has on the hot message (bit per EMOJI).
    let mut on_hot = vec![0u8; users];
    let (mut k, mut n_react, mut n_edit, mut n_delete, mut skipped) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut marks = None;
    let end = start + Duration::from_secs(a.warmup + a.duration);
    let readers = fleet.cmds.len() as u64;
    let spawn = |kind: Kind, method: reqwest::Method, path: String, token: String, body: Option<Value>| {
        let Ok(permit) = sem.clone().try_acquire_owned() else { return false };
        let ctx = ctx.clone();
        let measured = shared.now_us() >= from_us;
        tokio::spawn(async move {
            if measured {
                ctx.act(kind, method, path, token, body).await;
            } else {
                let _ = ctx.client.request(method, format!("{}{path}", ctx.base)).bearer_auth(token).send().await;
            }
            drop(permit);
        });
        true
    };
    loop {
        let now = tick.tick().await;
        if now >= end {
            break;
        }
        let elapsed = now.duration_since(start).as_secs_f64();
        if marks.is_none() && elapsed >= a.warmup as f64 {
            marks = Some((
                Mark::now(c.server_pid),
                shared.delivered.load(Relaxed),
                shared.sent.load(Relaxed),
                shared.other_events.load(Relaxed),
            ));
        }
        while k < (elapsed * a.rate) as u64 {
            let q = &fleet.cmds[(k % readers) as usize];
            shared.numbered.store(k + 1, Relaxed);
            if q.try_send(Cmd::Send { channel, k, readers }).is_err() {
                shared.error("generator: client queue full (message skipped)");
            }
            k += 1;
        }
        while n_react < (elapsed * a.reactions) as u64 {
            n_react += 1;
            let u = rng.below(users as u64) as usize;
            let e = rng.below(EMOJI.len() as u64) as usize;
            let on_hot_msg = (rng.below(1000) as f64) < a.hot * 1000.0 || pool.is_empty();
            let target =
                if on_hot_msg { hot } else { pool[pool.len() - 1 - rng.below(pool.len().min(20) as u64) as usize].0 };
            let path = format!("/channels/{channel}/messages/{target}/reactions/{}/@me", EMOJI[e]);
            let had = on_hot_msg && on_hot[u] & (1 << e) != 0;
            let (kind, method) =
                if had { (Kind::Unreact, reqwest::Method::DELETE) } else { (Kind::React, reqwest::Method::PUT) };
            if spawn(kind, method, path, tokens[u].clone(), None) {
                if on_hot_msg {
                    on_hot[u] ^= 1 << e;
                }
            } else {
                skipped += 1;
            }
        }
        while n_edit < (elapsed * a.edits) as u64 && !pool.is_empty() {
            n_edit += 1;
            let (m, who) = pool[rng.below(pool.len() as u64) as usize];
            let body = json!({"content": format!("edited {n_edit} {}", "y".repeat(20))});
            if !spawn(
                Kind::Edit,
                reqwest::Method::PATCH,
                format!("/channels/{channel}/messages/{m}"),
                tokens[who].clone(),
                Some(body),
            ) {
                skipped += 1;
            }
        }
        while n_delete < (elapsed * a.deletes) as u64 && pool.len() > 20 {
            n_delete += 1;
            let (m, who) = pool.remove(0);
            if !spawn(
                Kind::Delete,
                reqwest::Method::DELETE,
                format!("/channels/{channel}/messages/{m}"),
                tokens[who].clone(),
                None,
            ) {
                skipped += 1;
            }
        }
        bar.set_position(elapsed as u64);
    }
    let m1 = Mark::now(c.server_pid);
    let (d1, sent1, o1) =
        (shared.delivered.load(Relaxed), shared.sent.load(Relaxed), shared.other_events.load(Relaxed));
    bar.set_prefix("draining");
    drain(&shared, Duration::from_secs(a.drain)).await;
    let _ = tokio::time::timeout(Duration::from_secs(a.drain), sem.acquire_many(a.in_flight.max(1) as u32)).await;
    bar.finish_and_clear();

    let (m0, d0, sent0, o0) = marks.unwrap_or((m1.clone(), d1, sent1, o1));
    let usage = procstat::between(&m0, &m1);
    let mut r = Report {
        scenario: "actions".into(),
        params: json!({"readers": a.readers, "rate": a.rate, "reactions": a.reactions, "hot": a.hot,
            "edits": a.edits, "deletes": a.deletes, "duration_s": a.duration, "payload": a.payload}),
        connections: users as u64,
        ..Report::default()
    };
    fill_counts(&mut r, &shared);
    r.time_to_ready = Some(shared.ready_percentiles());
    let window = d1 - d0;
    r.deliveries = Some(shared.deliveries(window, sent1 - sent0, usage.wall_s));
    r.latency = Some(shared.window_totals().0);
    let other = o1 - o0;
    let all = window + other;
    r.server_cpu_us_per_delivery = usage.server_cpu_s.filter(|_| all > 0).map(|s| s * 1e6 / all as f64);
    let tally = ctx.tally.lock().map(|t| (t.ok.clone(), t.refused.clone())).unwrap_or_default();
    let mut actions_ok = 0;
    for (kind, h) in &tally.0 {
        let p = Percentiles::of(h);
        actions_ok += p.count;
        r.notes.push(format!(
            "{}: {} done in the window ({:.1}/s), REST p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
            kind.name(),
            p.count,
            p.count as f64 / a.duration.max(1) as f64,
            p.p50_ms,
            p.p99_ms,
            p.max_ms
        ));
    }
    for ((kind, status), n) in &tally.1 {
        r.errors.insert(format!("{} answered {status}", kind.name()), *n);
    }
    if skipped > 0 {
        r.errors.insert("generator: action skipped (in-flight bound reached)".into(), skipped);
    }
    if let Some(cpu) = usage.server_cpu_s.filter(|_| actions_ok > 0) {
        r.notes.push(format!(
            "server CPU {:.0} µs per REST action, {:.2} µs per dispatch delivered (MESSAGE_CREATE and the {} action dispatches, {:.0}/s)",
            cpu * 1e6 / actions_ok as f64,
            cpu * 1e6 / all.max(1) as f64,
            other,
            other as f64 / usage.wall_s.max(0.001)
        ));
    }
    r.notes.push(format!(
        "one channel, {users} readers; deliveries count MESSAGE_CREATE only, action dispatches are 'other dispatches'"
    ));
    r.usage = Some(usage);
    fleet.close().await;
    Ok(r)
}
