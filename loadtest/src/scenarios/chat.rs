//! chat: a community-shaped load. Many guilds, most of them small and a few
//! large, each with a few channels; every user is online in one connection.
//! Messages go to a random channel of a guild chosen by membership (busy
//! guilds are the big ones), a share of them preceded by TYPING, and users
//! change their status now and then (presence).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::time::{Instant, MissedTickBehavior};

use super::{check_fds, drain, fill_counts, specs, Fleet};
use crate::options::Common;
use crate::procstat::{self, Mark};
use crate::report::Report;
use crate::setup::{self, GuildPlan, Layout};
use crate::stats::Shared;
use crate::targets::{Cmd, Rng};

/// Options of the chat scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Users, each online in one connection.
    #[arg(long, default_value_t = 2000)]
    pub users: usize,
    /// Small guilds (5–50 members each).
    #[arg(long, default_value_t = 60)]
    pub guilds: usize,
    /// Large guilds.
    #[arg(long, default_value_t = 2)]
    pub large: usize,
    /// Members of each large guild.
    #[arg(long, default_value_t = 1000)]
    pub large_size: usize,
    /// Text channels per guild.
    #[arg(long, default_value_t = 3)]
    pub channels: usize,
    /// Messages per second, everyone together.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Share of messages preceded by TYPING.
    #[arg(long, default_value_t = 0.5)]
    pub typing: f64,
    /// Status changes per second, everyone together.
    #[arg(long, default_value_t = 5.0)]
    pub presence_rate: f64,
    /// Measured seconds.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds of load before the measured window.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Message content bytes.
    #[arg(long, default_value_t = 60)]
    pub payload: usize,
    /// Longest wait after sending for the last deliveries, seconds.
    #[arg(long, default_value_t = 10)]
    pub drain: u64,
}

fn layout(a: &Args) -> Layout {
    let users = a.users.max(2);
    let mut rng = Rng::new(1);
    let mut guilds = Vec::new();
    let range = |size: usize, rng: &mut Rng| -> Vec<usize> {
        let size = size.clamp(2, users);
        let base = rng.below(users as u64) as usize;
        (0..size).map(|j| (base + j) % users).collect()
    };
    for _ in 0..a.large {
        guilds.push(GuildPlan { members: range(a.large_size, &mut rng), channels: a.channels });
    }
    for _ in 0..a.guilds {
        let size = 5 + rng.below(46) as usize;
        guilds.push(GuildPlan { members: range(size, &mut rng), channels: a.channels });
    }
    Layout { users, guilds }
}

/// Run the chat scenario.
pub async fn run(c: &Common, a: &Args, nofile: u64) -> anyhow::Result<Report> {
    check_fds(a.users, nofile)?;
    let plan = layout(a);
    let state = setup::ensure(c, &plan).await?;
    let shared = Arc::new(Shared::new());
    let tokens: Vec<String> = state.users.iter().map(|u| u.token.clone()).collect();
    let mut fleet = Fleet::new();
    fleet.connect(c, &shared, specs(c, &tokens, 0, true, a.payload), "users", Duration::from_secs(600)).await;
    if fleet.cmds.is_empty() {
        anyhow::bail!("no client connected");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Every (guild, member) pair: picking one uniformly weights guilds by size.
    let memberships: Vec<(usize, usize)> =
        plan.guilds.iter().enumerate().flat_map(|(g, p)| p.members.iter().map(move |&u| (g, u))).collect();

    let epoch = Instant::from_std(shared.epoch);
    let start = Instant::now();
    let start_us = start.duration_since(epoch).as_micros() as u64;
    let from_us = start_us + a.warmup * 1_000_000;
    shared.set_window(from_us, from_us + a.duration * 1_000_000);
    let bar = crate::report::bar(c, a.warmup + a.duration, "chatting");
    let mut rng = Rng::new(7);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let (mut k, mut presences) = (0u64, 0u64);
    let mut marks = None;
    let end = start + Duration::from_secs(a.warmup + a.duration);
    loop {
        let now = tick.tick().await;
        if now >= end {
            break;
        }
        let elapsed = now.duration_since(start).as_secs_f64();
        if marks.is_none() && elapsed >= a.warmup as f64 {
            marks = Some((Mark::now(c.server_pid), shared.delivered.load(Relaxed), shared.sent.load(Relaxed)));
        }
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
            let u = rng.below(fleet.cmds.len().max(1) as u64) as usize;
            let status = if presences % 2 == 0 { "idle" } else { "online" };
            if let Some(q) = fleet.cmds.get(u) {
                let _ = q.try_send(Cmd::Presence(status));
            }
            presences += 1;
        }
        bar.set_position(elapsed as u64);
    }
    let m1 = Mark::now(c.server_pid);
    let (d1, sent1) = (shared.delivered.load(Relaxed), shared.sent.load(Relaxed));
    bar.set_prefix("draining");
    drain(&shared, Duration::from_secs(a.drain)).await;
    bar.finish_and_clear();

    let (m0, d0, sent0) = marks.unwrap_or((m1.clone(), d1, sent1));
    let usage = procstat::between(&m0, &m1);
    let mut r = Report {
        scenario: "chat".into(),
        params: json!({"users": a.users, "guilds": a.guilds, "large": a.large, "large_size": a.large_size,
            "channels": a.channels, "rate": a.rate, "typing": a.typing, "presence_rate": a.presence_rate,
            "duration_s": a.duration, "payload": a.payload}),
        connections: a.users as u64,
        ..Report::default()
    };
    fill_counts(&mut r, &shared);
    r.time_to_ready = Some(shared.ready_percentiles());
    let window = d1 - d0;
    r.deliveries = Some(shared.deliveries(window, sent1 - sent0, usage.wall_s));
    r.latency = Some(shared.window_totals().0);
    r.server_cpu_us_per_delivery = usage.server_cpu_s.filter(|_| window > 0).map(|s| s * 1e6 / window as f64);
    r.usage = Some(usage);
    r.notes.push(format!(
        "{} guilds ({} large of {} members), {} memberships; deliveries count MESSAGE_CREATE only (typing and presence are 'other dispatches')",
        plan.guilds.len(),
        a.large,
        a.large_size,
        memberships.len()
    ));
    fleet.close().await;
    Ok(r)
}
