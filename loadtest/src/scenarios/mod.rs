//! The scenario registry: one module per scenario, each with its own clap
//! arguments and a `run` that returns a [`Report`]. Adding a scenario (voice,
//! say) is one more variant here and one more module.
//!
//! Shared pieces live here too: connecting a fleet of clients with bounded
//! concurrency, pacing sends at a total rate, and draining.

pub mod actions;
pub mod chat;
pub mod compare;
pub mod connect;
pub mod fanout;
pub mod idle;
pub mod ramp;
pub mod soak;
pub mod voice;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use clap::Subcommand;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::options::{Common, Target};
use crate::report::Report;
use crate::stats::Shared;
use crate::targets::{self, Cmd, Spec, Wiring};

/// What to run.
#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// N readers in one channel, P senders at a paced total rate for T seconds.
    Fanout(fanout::Args),
    /// Many guilds and channels, most small and a few large, with typing and presence.
    Chat(chat::Args),
    /// One channel's messages edited, deleted and reacted to (a hot message) while people talk.
    Actions(actions::Args),
    /// Connection storm: identifies per second and time to READY.
    Connect(connect::Args),
    /// Hold N idle sessions with heartbeats: server memory and CPU per session.
    Idle(idle::Args),
    /// Fan-out with the rate stepped up until p99 or deliveries fail a bound.
    Ramp(ramp::Args),
    /// K voice rooms × M WebRTC peers, a share speaking at 50 packets/s.
    Voice(voice::Args),
    /// A realistic chat workload for a long time, sampling server memory; fails if RSS grows without the stored data.
    Soak(soak::Args),
    /// No load: draw one SVG comparing several --json reports.
    Compare(compare::Args),
}

/// Run the chosen scenario.
pub async fn run(common: &Common, scenario: &Scenario, nofile: u64) -> anyhow::Result<Report> {
    crate::net::ensure_loopback(common.addr)?;
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut r = match scenario {
        Scenario::Fanout(a) => fanout::run(common, a, nofile).await?,
        Scenario::Chat(a) => {
            only_hearth(common, "chat")?;
            chat::run(common, a, nofile).await?
        }
        Scenario::Actions(a) => {
            only_hearth(common, "actions")?;
            actions::run(common, a, nofile).await?
        }
        Scenario::Connect(a) => connect::run(common, a, nofile).await?,
        Scenario::Idle(a) => idle::run(common, a, nofile).await?,
        Scenario::Ramp(a) => ramp::run(common, a, nofile).await?,
        Scenario::Voice(a) => {
            only_hearth(common, "voice")?;
            voice::run(common, a, nofile).await?
        }
        Scenario::Soak(a) => {
            only_hearth(common, "soak")?;
            soak::run(common, a, nofile).await?
        }
        Scenario::Compare(a) => return compare::run(common.svg.as_ref(), a),
    };
    r.started_unix = started;
    r.target = format!("{:?}", common.target).to_lowercase();
    r.check_generator(common.threads);
    r.check_contention();
    Ok(r)
}

fn only_hearth(c: &Common, what: &str) -> anyhow::Result<()> {
    if c.target != Target::Hearth {
        bail!("the {what} scenario needs Hearth's guilds, typing and presence; use --target hearth");
    }
    Ok(())
}

/// Refuse runs that need more file descriptors than this process may open.
pub fn check_fds(connections: usize, nofile: u64) -> anyhow::Result<()> {
    let need = connections as u64 + 64;
    if need > nofile {
        bail!("{connections} connections need about {need} file descriptors, but the limit is {nofile} (raise the hard limit: ulimit -Hn)");
    }
    Ok(())
}

/// Connected clients and the means to command and stop them.
pub struct Fleet {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
    /// One command queue per client, in spec order.
    pub cmds: Vec<mpsc::Sender<Cmd>>,
}

impl Fleet {
    /// Start with no clients.
    pub fn new() -> Fleet {
        Fleet { stop: watch::channel(false).0, handles: Vec::new(), cmds: Vec::new() }
    }

    /// Connect `specs` (at most `--connect-concurrency` handshakes at once) and
    /// wait until each is ready or has failed, at most `limit`.
    pub async fn connect(&mut self, c: &Common, shared: &Arc<Shared>, specs: Vec<Spec>, what: &str, limit: Duration) {
        let n = specs.len() as u64;
        let before = shared.ready_count.load(Relaxed) + shared.connect_failures.load(Relaxed);
        let sem = Arc::new(Semaphore::new(c.connect_concurrency.max(1)));
        let bar = crate::report::bar(c, n, what);
        let deadline = Instant::now() + limit;
        let mut spawned = 0u64;
        for spec in specs {
            // Acquire before spawning so that tasks start in order and memory stays bounded.
            let permit = tokio::select! {
                p = sem.clone().acquire_owned() => p.ok(),
                _ = tokio::time::sleep_until(deadline) => None,
            };
            if permit.is_none() {
                break;
            }
            let (tx, rx) = mpsc::channel(targets::CMD_QUEUE);
            let w = Wiring { shared: shared.clone(), cmds: rx, stop: self.stop.subscribe(), permit };
            self.handles.push(tokio::spawn(targets::run(c.target, spec, w)));
            self.cmds.push(tx);
            spawned += 1;
            bar.set_position(shared.ready_count.load(Relaxed) + shared.connect_failures.load(Relaxed) - before);
        }
        loop {
            let done = shared.ready_count.load(Relaxed) + shared.connect_failures.load(Relaxed) - before;
            bar.set_position(done);
            if done >= spawned || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bar.finish_and_clear();
    }

    /// Tell every client to close and wait (bounded) for them.
    pub async fn close(self) {
        let _ = self.stop.send(true);
        drop(self.cmds);
        let all = futures_util::future::join_all(self.handles);
        let _ = tokio::time::timeout(Duration::from_secs(10), all).await;
    }
}

/// What the pacer sends: `rate` messages per second in total to `channel`,
/// each due to reach `readers` readers.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Channel id (Hearth) or 0.
    pub channel: u64,
    /// Deliveries each message should cause.
    pub readers: u64,
    /// Messages per second, all senders together.
    pub rate: f64,
}

/// Send `load` round robin over `senders` from `start` for `dur`; message
/// numbers continue from `*k`.
pub async fn pace(
    shared: &Shared,
    senders: &[mpsc::Sender<Cmd>],
    load: Load,
    start: Instant,
    dur: Duration,
    k: &mut u64,
    bar: &indicatif::ProgressBar,
) {
    let Load { channel, readers, rate } = load;
    if senders.is_empty() || rate <= 0.0 {
        tokio::time::sleep_until(start + dur).await;
        return;
    }
    let first = *k;
    let end = start + dur;
    let mut tick = tokio::time::interval_at(start, Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_bar = Instant::now();
    loop {
        let now = tick.tick().await;
        if now >= end {
            break;
        }
        let due = first + (now.duration_since(start).as_secs_f64() * rate) as u64;
        while *k < due {
            let s = &senders[(*k % senders.len() as u64) as usize];
            // Number it before any reader can see it.
            shared.numbered.store(*k + 1, Relaxed);
            if s.try_send(Cmd::Send { channel, k: *k, readers }).is_err() {
                shared.error("generator: sender queue full (message skipped)");
            }
            *k += 1;
        }
        if now.duration_since(last_bar) >= Duration::from_millis(250) {
            last_bar = now;
            bar.set_position(now.duration_since(start).as_secs());
            bar.set_message(format!("{} deliveries", shared.delivered.load(Relaxed)));
        }
    }
}

/// Wait until every due delivery arrived and every send was answered, at most `limit`.
pub async fn drain(shared: &Shared, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let answered = shared.acked.load(Relaxed) + shared.refused.load(Relaxed) >= shared.sent.load(Relaxed);
        if answered && shared.delivered.load(Relaxed) >= shared.expected.load(Relaxed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Copy the collector's counters into the report.
pub fn fill_counts(r: &mut Report, shared: &Shared) {
    r.ready = shared.ready_count.load(Relaxed);
    r.connect_failures = shared.connect_failures.load(Relaxed);
    r.dropped = shared.dropped.load(Relaxed);
    r.messages_sent = shared.sent.load(Relaxed);
    r.messages_confirmed = shared.acked.load(Relaxed);
    r.other_events = shared.other_events.load(Relaxed);
    let (errors, closes) = shared.tallies();
    r.errors = errors;
    r.closes = closes;
    r.timeline = shared.timeline();
}

/// Specs for `tokens` (one client each), numbered from `first`.
pub fn specs(c: &Common, tokens: &[String], first: usize, reader: bool, payload: usize) -> Vec<Spec> {
    tokens
        .iter()
        .enumerate()
        .map(|(i, t)| Spec {
            index: first + i,
            source: crate::net::source_ip(first + i, c.sources),
            addr: c.addr,
            token: t.clone(),
            reader,
            payload,
        })
        .collect()
}
