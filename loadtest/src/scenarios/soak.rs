//! soak: a realistic chat workload held for a long time, to see where the
//! server's memory goes and whether it stops. Guilds of several sizes; sends
//! (a share preceded by TYPING), status changes, history scrolling over REST,
//! reconnects that RESUME, and a share of slow readers that stop reading for
//! a few seconds now and then. Every `--sample-secs` it samples the server's
//! RSS and CPU (`--server-pid`), its gauges from `/metrics` (database size,
//! storage cache, replay and outbound bytes, sessions) and the delivery and
//! history latency. At the end it judges the RSS slope after the warm-up
//! against the growth of the stored data ([`crate::slope`]) and fails the run
//! if RSS grows without it.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::time::{Instant, MissedTickBehavior};

use super::{check_fds, drain, fill_counts, specs, Fleet};
use crate::history::{self, HistoryStats};
use crate::options::Common;
use crate::procstat::{self, Mark};
use crate::report::{Report, Soak};
use crate::scrape::{self, Scraper};
use crate::setup::{self, GuildPlan, Layout};
use crate::slope::{self, Bounds, Sample};
use crate::stats::Shared;
use crate::targets::{Cmd, Rng};

/// Options of the soak scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Users, each online in one connection.
    #[arg(long, default_value_t = 300)]
    pub users: usize,
    /// Small guilds (5–50 members each).
    #[arg(long, default_value_t = 20)]
    pub guilds: usize,
    /// Large guilds.
    #[arg(long, default_value_t = 1)]
    pub large: usize,
    /// Members of each large guild.
    #[arg(long, default_value_t = 150)]
    pub large_size: usize,
    /// Text channels per guild.
    #[arg(long, default_value_t = 3)]
    pub channels: usize,
    /// Messages per second, everyone together.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Share of messages preceded by TYPING.
    #[arg(long, default_value_t = 0.3)]
    pub typing: f64,
    /// Status changes per second, everyone together.
    #[arg(long, default_value_t = 1.0)]
    pub presence_rate: f64,
    /// History pages (50 messages) read per second over REST, all scrollers together.
    #[arg(long, default_value_t = 5.0)]
    pub history_rate: f64,
    /// Concurrent history scrollers.
    #[arg(long, default_value_t = 4)]
    pub scrollers: usize,
    /// Reconnects (close, reconnect, RESUME) per second, everyone together.
    #[arg(long, default_value_t = 0.5)]
    pub reconnect_rate: f64,
    /// Share of users that are slow readers.
    #[arg(long, default_value_t = 0.05)]
    pub slow_share: f64,
    /// A slow reader stops reading for this long...
    #[arg(long, default_value_t = 3000)]
    pub pause_ms: u64,
    /// ...once every this many seconds.
    #[arg(long, default_value_t = 30)]
    pub pause_every: u64,
    /// Seconds of load in total (warm-up included).
    #[arg(long, default_value_t = 3600)]
    pub duration: u64,
    /// Seconds at the start whose samples the memory verdict ignores.
    #[arg(long, default_value_t = 300)]
    pub warmup: u64,
    /// Seconds between samples.
    #[arg(long, default_value_t = 5)]
    pub sample_secs: u64,
    /// Message content bytes.
    #[arg(long, default_value_t = 200)]
    pub payload: usize,
    /// Longest wait after sending for the last deliveries, seconds.
    #[arg(long, default_value_t = 10)]
    pub drain: u64,
    /// Where to read the server's gauges [default: http://ADDR/metrics].
    #[arg(long)]
    pub metrics_url: Option<String>,
    /// RSS may grow this many bytes per byte of database growth.
    #[arg(long, default_value_t = 0.25)]
    pub store_factor: f64,
    /// RSS may grow this many bytes per byte the storage cache fills (a
    /// cached page costs more than its bytes: allocator size classes).
    #[arg(long, default_value_t = 1.3)]
    pub cache_factor: f64,
    /// Unexplained RSS growth tolerated, MiB per hour.
    #[arg(long, default_value_t = 2.0)]
    pub tolerance_mib_per_h: f64,
    /// Unexplained RSS growth over the judged window needed to fail, MiB.
    #[arg(long, default_value_t = 4.0)]
    pub min_excess_mib: f64,
}

fn layout(a: &Args) -> Layout {
    let users = a.users.max(2);
    let mut rng = Rng::new(3);
    let range = |size: usize, rng: &mut Rng| -> Vec<usize> {
        let size = size.clamp(2, users);
        let base = rng.below(users as u64) as usize;
        (0..size).map(|j| (base + j) % users).collect()
    };
    let mut guilds = Vec::new();
    for _ in 0..a.large {
        guilds.push(GuildPlan { members: range(a.large_size, &mut rng), channels: a.channels });
    }
    for _ in 0..a.guilds {
        let size = 5 + rng.below(46) as usize;
        guilds.push(GuildPlan { members: range(size, &mut rng), channels: a.channels });
    }
    Layout { users, guilds }
}

/// One sample's raw readings.
struct Reading {
    at: Instant,
    cpu: Option<f64>,
}

/// Run the soak scenario.
pub async fn run(c: &Common, a: &Args, nofile: u64) -> anyhow::Result<Report> {
    check_fds(a.users + a.scrollers, nofile)?;
    let plan = layout(a);
    let state = setup::ensure(c, &plan).await?;
    let shared = Arc::new(Shared::new());
    let tokens: Vec<String> = state.users.iter().map(|u| u.token.clone()).collect();
    let mut fleet = Fleet::new();
    fleet.connect(c, &shared, specs(c, &tokens, 0, true, a.payload), "users", Duration::from_secs(600)).await;
    if fleet.cmds.is_empty() {
        anyhow::bail!("no client connected");
    }
    let memberships: Vec<(usize, usize)> =
        plan.guilds.iter().enumerate().flat_map(|(g, p)| p.members.iter().map(move |&u| (g, u))).collect();
    // Each user's channels, for history scrolling.
    let mut readable: Vec<Vec<u64>> = vec![Vec::new(); plan.users];
    for &(g, u) in &memberships {
        readable[u].extend(&state.guilds[g].channels);
    }
    let readers: Arc<history::Readers> = Arc::new(tokens.iter().cloned().zip(readable).collect());
    let hstats = Arc::new(HistoryStats::new());
    let (hstop, hstop_rx) = tokio::sync::watch::channel(false);
    let base = format!("http://{}/api/v1", c.addr);
    let per_scroller = a.history_rate / a.scrollers.max(1) as f64;
    let scrollers: Vec<_> = (0..if a.history_rate > 0.0 { a.scrollers } else { 0 })
        .map(|i| {
            let task = history::scroll(
                base.clone(),
                readers.clone(),
                per_scroller,
                100 + i as u64,
                hstats.clone(),
                hstop_rx.clone(),
            );
            tokio::spawn(task)
        })
        .collect();
    let scraper = Scraper::new(a.metrics_url.clone().unwrap_or_else(|| format!("http://{}/metrics", c.addr)))?;
    // Every n-th user is a slow reader.
    let slow: Vec<usize> = match a.slow_share {
        x if x > 0.0 => {
            let n = (1.0 / x.min(1.0)).round().max(1.0) as usize;
            (0..fleet.cmds.len()).filter(|i| i % n == n / 2).collect()
        }
        _ => Vec::new(),
    };

    let epoch = Instant::from_std(shared.epoch);
    let start = Instant::now();
    let start_s = start.duration_since(epoch).as_secs();
    shared.set_window(start.duration_since(epoch).as_micros() as u64 + a.warmup * 1_000_000, u64::MAX);
    let bar = crate::report::bar(c, a.duration, "soaking");
    let mut rng = Rng::new(11);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let (mut k, mut presences, mut reconnects, mut last_sec) = (0u64, 0u64, 0u64, u64::MAX);
    let mut samples: Vec<Sample> = Vec::new();
    let mut last = Reading { at: start, cpu: c.server_pid.and_then(procstat::pid_cpu_secs) };
    let m0 = Mark::now(c.server_pid);
    let every = Duration::from_secs(a.sample_secs.max(1));
    let mut next_sample = start + every;
    let end = start + Duration::from_secs(a.duration);
    loop {
        let now = tick.tick().await;
        if now >= end {
            break;
        }
        let elapsed = now.duration_since(start).as_secs_f64();
        while k < (elapsed * a.rate) as u64 && !memberships.is_empty() {
            let (g, u) = memberships[rng.below(memberships.len() as u64) as usize];
            let channels = &state.guilds[g].channels;
            let channel = channels[rng.below(channels.len() as u64) as usize];
            let q = &fleet.cmds[u.min(fleet.cmds.len() - 1)];
            if (rng.below(1000) as f64) < a.typing * 1000.0 {
                let _ = q.try_send(Cmd::Typing { channel });
            }
            shared.numbered.store(k + 1, Relaxed);
            if q.try_send(Cmd::Send { channel, k, readers: plan.guilds[g].members.len() as u64 }).is_err() {
                shared.error("generator: client queue full (message skipped)");
            }
            k += 1;
        }
        while presences < (elapsed * a.presence_rate) as u64 {
            let u = rng.below(fleet.cmds.len() as u64) as usize;
            let status = if presences % 2 == 0 { "idle" } else { "online" };
            let _ = fleet.cmds[u].try_send(Cmd::Presence(status));
            presences += 1;
        }
        while reconnects < (elapsed * a.reconnect_rate) as u64 {
            let u = rng.below(fleet.cmds.len() as u64) as usize;
            let _ = fleet.cmds[u].try_send(Cmd::Reconnect);
            reconnects += 1;
        }
        let sec = elapsed as u64;
        if sec != last_sec {
            last_sec = sec;
            // Each slow reader pauses once per `pause_every` seconds, staggered.
            for (j, &u) in slow.iter().enumerate() {
                if (sec + j as u64).is_multiple_of(a.pause_every.max(1)) {
                    let _ = fleet.cmds[u].try_send(Cmd::Pause(Duration::from_millis(a.pause_ms)));
                }
            }
            bar.set_position(sec);
        }
        if now >= next_sample {
            next_sample += every;
            let s = sample(c, &scraper, &shared, &hstats, &mut last, start, start_s, a.sample_secs).await;
            bar.set_message(format!("RSS {:.1} MiB, store {:.1} MiB", s.rss_mib, s.store_mib));
            samples.push(s);
        }
    }
    let m1 = Mark::now(c.server_pid);
    let sent1 = shared.sent.load(Relaxed);
    bar.set_prefix("draining");
    drain(&shared, Duration::from_secs(a.drain)).await;
    bar.finish_and_clear();
    let _ = hstop.send(true);
    for s in scrollers {
        let _ = tokio::time::timeout(Duration::from_secs(35), s).await;
    }

    let bounds = Bounds {
        warmup_s: a.warmup as f64,
        store_factor: a.store_factor,
        cache_factor: a.cache_factor,
        tolerance_mib_per_h: a.tolerance_mib_per_h,
        min_excess_mib: a.min_excess_mib,
    };
    let verdict = slope::judge(&samples, &bounds);
    let usage = procstat::between(&m0, &m1);
    let mut r = Report {
        scenario: "soak".into(),
        params: json!({"users": a.users, "guilds": a.guilds, "large": a.large, "large_size": a.large_size,
            "channels": a.channels, "rate": a.rate, "typing": a.typing, "presence_rate": a.presence_rate,
            "history_rate": a.history_rate, "reconnect_rate": a.reconnect_rate, "slow_share": a.slow_share,
            "pause_ms": a.pause_ms, "pause_every": a.pause_every, "duration_s": a.duration, "warmup_s": a.warmup,
            "payload": a.payload}),
        connections: a.users as u64,
        ..Report::default()
    };
    fill_counts(&mut r, &shared);
    r.time_to_ready = Some(shared.ready_percentiles());
    let (latency, in_window, _) = shared.window_totals();
    r.deliveries = Some(shared.deliveries(in_window, sent1, usage.wall_s));
    r.latency = Some(latency);
    r.usage = Some(usage);
    if !verdict.ok {
        r.failed = Some(format!("soak: {}", verdict.reason));
    }
    r.soak = Some(Soak {
        bounds,
        verdict,
        history_pages: hstats.pages.load(Relaxed),
        history_messages: hstats.messages.load(Relaxed),
        history_errors: hstats.errors.load(Relaxed),
        history_latency: hstats.total(),
        reconnects,
        slow_readers: slow.len(),
        samples,
    });
    if hstats.errors.load(Relaxed) > 0 {
        shared.error("history page failed");
    }
    r.errors = shared.tallies().0;
    r.notes.push(format!(
        "{} guilds ({} large of {} members), {} memberships; latency and deliveries/s count messages sent after the warm-up",
        plan.guilds.len(),
        a.large,
        a.large_size,
        memberships.len()
    ));
    fleet.close().await;
    Ok(r)
}

/// Read the server's RSS, CPU and gauges, and the latency since the last sample.
#[allow(clippy::too_many_arguments)]
async fn sample(
    c: &Common,
    scraper: &Scraper,
    shared: &Shared,
    hstats: &HistoryStats,
    last: &mut Reading,
    start: Instant,
    start_s: u64,
    every: u64,
) -> Sample {
    let now = Instant::now();
    let text = scraper.get().await.unwrap_or_default();
    let gauge = |name: &str| scrape::value(&text, name).unwrap_or(0.0) / (1u64 << 20) as f64;
    let cpu = c.server_pid.and_then(procstat::pid_cpu_secs);
    let wall = now.duration_since(last.at).as_secs_f64().max(1e-9);
    let cpu_cores = cpu.zip(last.cpu).map_or(0.0, |(b, a)| (b - a) / wall);
    *last = Reading { at: now, cpu };
    let rss_mib = match c.server_pid.and_then(procstat::pid_rss_kib) {
        Some(kib) => kib as f64 / 1024.0,
        None => gauge("process_resident_memory_bytes"),
    };
    // Messages sent in the interval before the last one: delivered by now.
    let t = now.duration_since(start).as_secs();
    let to = (start_s + t).saturating_sub(every);
    let (lat, _, _) = shared.seconds_totals(to.saturating_sub(every), to);
    Sample {
        t_s: now.duration_since(start).as_secs_f64(),
        rss_mib,
        cpu_cores,
        store_mib: gauge("hearth_store_file_bytes"),
        cache_mib: gauge("hearth_store_cache_used_bytes"),
        replay_mib: gauge("hearth_replay_bytes"),
        outbound_mib: gauge("hearth_outbound_bytes"),
        sessions: scrape::value(&text, "hearth_gateway_sessions").unwrap_or(0.0),
        p50_ms: lat.p50_ms,
        p99_ms: lat.p99_ms,
        history_p99_ms: hstats.take_interval().p99_ms,
    }
}
