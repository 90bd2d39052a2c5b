//! idle: hold N identified sessions that only heartbeat, and report the
//! server's memory per session and the CPU their heartbeats cost.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{check_fds, fill_counts, specs, Fleet};
use crate::options::Common;
use crate::procstat::{self, Mark};
use crate::report::Report;
use crate::stats::Shared;

/// Options of the idle scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Sessions to hold.
    #[arg(long, default_value_t = 10_000)]
    pub sessions: usize,
    /// Seconds to hold them after all are ready (cover at least one heartbeat interval).
    #[arg(long, default_value_t = 60)]
    pub hold: u64,
}

/// Run the idle scenario.
pub async fn run(c: &Common, a: &Args, nofile: u64) -> anyhow::Result<Report> {
    check_fds(a.sessions, nofile)?;
    let tokens = super::connect::one_guild_tokens(c, a.sessions).await?;
    let shared = Arc::new(Shared::new());
    let before = Mark::now(c.server_pid);
    let mut fleet = Fleet::new();
    fleet.connect(c, &shared, specs(c, &tokens, 0, false, 0), "sessions", Duration::from_secs(600)).await;
    let ready = shared.ready_count.load(Relaxed);
    // Let connection-time allocations settle before measuring the steady state.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let hold0 = Mark::now(c.server_pid);
    let bar = crate::report::bar(c, a.hold, "holding");
    for s in 0..a.hold {
        tokio::time::sleep(Duration::from_secs(1)).await;
        bar.set_position(s + 1);
        bar.set_message(format!("{} dropped", shared.dropped.load(Relaxed)));
    }
    bar.finish_and_clear();
    let hold1 = Mark::now(c.server_pid);
    let usage = procstat::between(&hold0, &hold1);
    let mut r = Report {
        scenario: "idle".into(),
        params: json!({"sessions": a.sessions, "hold_s": a.hold}),
        connections: a.sessions as u64,
        ..Report::default()
    };
    fill_counts(&mut r, &shared);
    r.time_to_ready = Some(shared.ready_percentiles());
    r.server_kib_per_session = before
        .server_rss
        .zip(hold1.server_rss)
        .filter(|_| ready > 0)
        .map(|(a, b)| (b as f64 - a as f64) / ready as f64);
    if let Some(rss) = before.server_rss {
        r.notes.push(format!("server RSS before connecting: {rss} KiB"));
    }
    if let Some(f) = usage.server_cores {
        r.notes.push(format!("server CPU while holding (heartbeats): {:.2}% of a core", f * 100.0));
    }
    r.usage = Some(usage);
    fleet.close().await;
    Ok(r)
}
