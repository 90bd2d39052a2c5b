//! fanout: N readers in one channel, P senders at a paced total rate R for T
//! seconds, payload S bytes. Measures deliveries/s, end-to-end latency, losses
//! and duplicates, and the server's CPU per delivery.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::{check_fds, drain, fill_counts, pace, specs, Fleet, Load};
use crate::options::{Common, Target};
use crate::procstat::{self, Mark};
use crate::report::Report;
use crate::setup::{self, GuildPlan, Layout};
use crate::stats::Shared;

/// Options of the fanout scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Readers in the channel.
    #[arg(long, default_value_t = 1000)]
    pub readers: usize,
    /// Sending connections.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Messages per second, all senders together.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Measured seconds.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds of sending before the measured window.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Message content bytes.
    #[arg(long, default_value_t = 100)]
    pub payload: usize,
    /// Longest wait after sending for the last deliveries, seconds.
    #[arg(long, default_value_t = 10)]
    pub drain: u64,
}

/// Readers and senders connected to one channel (or room / subject).
pub struct Channel {
    /// The clients: readers first, then senders.
    pub fleet: Fleet,
    /// Channel id (Hearth) or 0.
    pub channel: u64,
    /// Readers connected.
    pub readers: usize,
    /// Senders connected.
    pub senders: usize,
}

impl Channel {
    /// Command queues of the senders.
    pub fn sender_cmds(&self) -> &[tokio::sync::mpsc::Sender<crate::targets::Cmd>] {
        &self.fleet.cmds[self.readers.min(self.fleet.cmds.len())..]
    }
}

/// Create (or reuse) the accounts and connect `readers` readers and `senders` senders.
pub async fn connect(
    c: &Common,
    shared: &Arc<Shared>,
    readers: usize,
    senders: usize,
    payload: usize,
    nofile: u64,
) -> anyhow::Result<Channel> {
    check_fds(readers + senders, nofile)?;
    let (channel, tokens) = if c.target == Target::Hearth {
        let layout = Layout {
            users: readers + senders,
            guilds: vec![GuildPlan { members: (0..readers + senders).collect(), channels: 1 }],
        };
        let state = setup::ensure(c, &layout).await?;
        let tokens = state.users.into_iter().take(readers + senders).map(|u| u.token).collect::<Vec<_>>();
        (state.guilds[0].channels[0], tokens)
    } else {
        (0, vec![String::new(); readers + senders])
    };
    let mut fleet = Fleet::new();
    let limit = Duration::from_secs(120 + readers as u64 / 100);
    fleet.connect(c, shared, specs(c, &tokens[..readers], 0, true, payload), "readers", limit).await;
    let got_readers = fleet.cmds.len();
    fleet.connect(c, shared, specs(c, &tokens[readers..], readers, false, payload), "senders", limit).await;
    let got_senders = fleet.cmds.len() - got_readers;
    Ok(Channel { fleet, channel, readers: got_readers, senders: got_senders })
}

/// Run the fanout scenario.
pub async fn run(c: &Common, a: &Args, nofile: u64) -> anyhow::Result<Report> {
    let shared = Arc::new(Shared::new());
    let ch = connect(c, &shared, a.readers, a.senders, a.payload, nofile).await?;
    let ready = shared.ready_count.load(Relaxed) as usize;
    let readers = ready.saturating_sub(ch.senders).min(ch.readers) as u64;
    // Let the server settle after the connection burst.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let start = Instant::now() + Duration::from_millis(10);
    let start_us = start.duration_since(tokio::time::Instant::from_std(shared.epoch)).as_micros() as u64;
    let from_us = start_us + a.warmup * 1_000_000;
    let to_us = from_us + a.duration * 1_000_000;
    shared.set_window(from_us, to_us);
    let bar = crate::report::bar(c, a.warmup + a.duration, "sending");
    let mut k = 0;
    let senders = ch.sender_cmds().to_vec();
    let load = Load { channel: ch.channel, readers, rate: a.rate };
    pace(&shared, &senders, load, start, Duration::from_secs(a.warmup), &mut k, &bar).await;
    let mark0 = Mark::now(c.server_pid);
    let d0 = shared.delivered.load(Relaxed);
    let sent0 = shared.sent.load(Relaxed);
    pace(&shared, &senders, load, start + Duration::from_secs(a.warmup), Duration::from_secs(a.duration), &mut k, &bar)
        .await;
    let mark1 = Mark::now(c.server_pid);
    let d1 = shared.delivered.load(Relaxed);
    let sent1 = shared.sent.load(Relaxed);
    bar.set_prefix("draining");
    drain(&shared, Duration::from_secs(a.drain)).await;
    bar.finish_and_clear();

    let usage = procstat::between(&mark0, &mark1);
    let mut r = Report {
        scenario: "fanout".into(),
        params: json!({"readers": a.readers, "senders": a.senders, "rate": a.rate, "duration_s": a.duration,
            "warmup_s": a.warmup, "payload": a.payload}),
        connections: (a.readers + a.senders) as u64,
        ..Report::default()
    };
    fill_counts(&mut r, &shared);
    r.time_to_ready = Some(shared.ready_percentiles());
    let (lat, _, _) = shared.window_totals();
    let window_deliveries = d1 - d0;
    r.deliveries = Some(shared.deliveries(window_deliveries, sent1 - sent0, usage.wall_s));
    r.latency = Some(lat);
    r.server_cpu_us_per_delivery =
        usage.server_cpu_s.filter(|_| window_deliveries > 0).map(|s| s * 1e6 / window_deliveries as f64);
    r.usage = Some(usage);
    if ready < a.readers + a.senders {
        r.warnings.push(format!("only {ready} of {} clients became ready", a.readers + a.senders));
    }
    if c.target == Target::Hearth {
        r.notes.push(format!(
            "Hearth also delivers each message to its {} senders' own sessions (not counted as deliveries)",
            ch.senders
        ));
    }
    ch.fleet.close().await;
    Ok(r)
}
