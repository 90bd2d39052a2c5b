//! connect: a connection storm. N clients connect and identify with at most
//! `--connect-concurrency` handshakes in flight; reports identifies per second
//! to READY, time to READY, and the server's CPU per identify.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{check_fds, fill_counts, specs, Fleet};
use crate::options::{Common, Target};
use crate::procstat::{self, Mark};
use crate::report::Report;
use crate::setup::{self, GuildPlan, Layout};
use crate::stats::Shared;

/// Options of the connect scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Clients that connect.
    #[arg(long, default_value_t = 5000)]
    pub clients: usize,
}

/// Tokens of `n` members of one guild (Hearth), or placeholders.
pub async fn one_guild_tokens(c: &Common, n: usize) -> anyhow::Result<Vec<String>> {
    if c.target != Target::Hearth {
        return Ok(vec![String::new(); n]);
    }
    let layout = Layout { users: n, guilds: vec![GuildPlan { members: (0..n).collect(), channels: 1 }] };
    let state = setup::ensure(c, &layout).await?;
    Ok(state.users.into_iter().take(n).map(|u| u.token).collect())
}

/// Run the connect scenario.
pub async fn run(c: &Common, a: &Args, nofile: u64) -> anyhow::Result<Report> {
    check_fds(a.clients, nofile)?;
    let tokens = one_guild_tokens(c, a.clients).await?;
    let shared = Arc::new(Shared::new());
    let mut fleet = Fleet::new();
    let m0 = Mark::now(c.server_pid);
    fleet.connect(c, &shared, specs(c, &tokens, 0, false, 0), "storm", Duration::from_secs(300)).await;
    let m1 = Mark::now(c.server_pid);
    let usage = procstat::between(&m0, &m1);
    let ready = shared.ready_count.load(Relaxed);
    let mut r = Report {
        scenario: "connect".into(),
        params: json!({"clients": a.clients, "connect_concurrency": c.connect_concurrency}),
        connections: a.clients as u64,
        ..Report::default()
    };
    fill_counts(&mut r, &shared);
    r.time_to_ready = Some(shared.ready_percentiles());
    r.identifies_per_s = Some(ready as f64 / usage.wall_s);
    if let (Some(cpu), true) = (usage.server_cpu_s, ready > 0) {
        r.notes.push(format!("server CPU per identify: {:.0} µs", cpu * 1e6 / ready as f64));
    }
    r.server_kib_per_session = usage
        .server_rss_start_kib
        .zip(usage.server_rss_end_kib)
        .filter(|_| ready > 0)
        .map(|(a, b)| (b as f64 - a as f64) / ready as f64);
    r.usage = Some(usage);
    fleet.close().await;
    Ok(r)
}
