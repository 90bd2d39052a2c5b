//! ramp: fan-out to N readers with the message rate stepped up until a step's
//! p99 passes the bound or its deliveries fall short; reports every step and
//! the last good one. Each step is judged after a short pause in which its
//! late deliveries may still arrive.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::{fill_counts, pace, Load};
use crate::options::Common;
use crate::procstat::{self, Mark};
use crate::report::{Report, Step};
use crate::stats::Shared;

/// Options of the ramp scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Readers in the channel.
    #[arg(long, default_value_t = 1000)]
    pub readers: usize,
    /// Sending connections.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Messages per second of the first step.
    #[arg(long, default_value_t = 50.0)]
    pub start_rate: f64,
    /// Each step's rate is the previous one's times this.
    #[arg(long, default_value_t = 1.25)]
    pub factor: f64,
    /// Highest rate tried.
    #[arg(long, default_value_t = 20_000.0)]
    pub max_rate: f64,
    /// Most steps.
    #[arg(long, default_value_t = 25)]
    pub max_steps: usize,
    /// Seconds per step.
    #[arg(long, default_value_t = 5)]
    pub step_secs: u64,
    /// A step fails when its p99 latency is above this, ms.
    #[arg(long, default_value_t = 100.0)]
    pub p99_ms: f64,
    /// A step fails when fewer than this fraction of its due deliveries arrived.
    #[arg(long, default_value_t = 0.999)]
    pub min_delivered: f64,
    /// Message content bytes.
    #[arg(long, default_value_t = 100)]
    pub payload: usize,
}

/// Run the ramp scenario.
pub async fn run(c: &Common, a: &Args, nofile: u64) -> anyhow::Result<Report> {
    let shared = Arc::new(Shared::new());
    let ch = super::fanout::connect(c, &shared, a.readers, a.senders, a.payload, nofile).await?;
    let readers = ch.readers as u64;
    let senders = ch.sender_cmds().to_vec();
    let epoch = Instant::from_std(shared.epoch);
    let grace = Duration::from_secs_f64((a.p99_ms * 3.0 / 1000.0).max(1.0));
    let mut r = Report {
        scenario: "ramp".into(),
        params: json!({"readers": a.readers, "senders": a.senders, "start_rate": a.start_rate, "factor": a.factor,
            "step_secs": a.step_secs, "p99_ms": a.p99_ms, "min_delivered": a.min_delivered, "payload": a.payload}),
        connections: (a.readers + a.senders) as u64,
        ..Report::default()
    };
    let bar = crate::report::bar(c, a.max_steps as u64, "steps");
    let mut k = 0;
    let mut rate = a.start_rate;
    for _ in 0..a.max_steps {
        if rate > a.max_rate {
            break;
        }
        // Steps start on whole seconds of the run so that per-second buckets belong to one step.
        let s0 = epoch.elapsed().as_secs() + 1;
        let start = epoch + Duration::from_secs(s0);
        let m0 = Mark::now(c.server_pid);
        let sent0 = shared.sent.load(Relaxed);
        let answered0 = shared.acked.load(Relaxed) + shared.refused.load(Relaxed);
        let hidden = indicatif::ProgressBar::hidden();
        pace(
            &shared,
            &senders,
            Load { channel: ch.channel, readers, rate },
            start,
            Duration::from_secs(a.step_secs),
            &mut k,
            &hidden,
        )
        .await;
        let m1 = Mark::now(c.server_pid);
        let sent = shared.sent.load(Relaxed) - sent0;
        tokio::time::sleep(grace).await;
        let answered = shared.acked.load(Relaxed) + shared.refused.load(Relaxed) - answered0;
        let (lat, delivered, expected) = shared.seconds_totals(s0, s0 + a.step_secs);
        let usage = procstat::between(&m0, &m1);
        let ratio = if expected == 0 { 0.0 } else { delivered as f64 / expected as f64 };
        let offered = rate * a.step_secs as f64;
        let ok =
            lat.p99_ms <= a.p99_ms && ratio >= a.min_delivered && answered >= sent && sent as f64 >= 0.95 * offered;
        let step = Step {
            rate,
            deliveries_per_s: delivered as f64 / a.step_secs as f64,
            delivered_ratio: ratio,
            latency: lat,
            server_cores: usage.server_cores,
            generator_cores: usage.generator_cores,
            ok,
        };
        bar.inc(1);
        bar.set_message(format!(
            "{rate:.0} msg/s: {:.0} deliveries/s, p99 {:.1} ms",
            step.deliveries_per_s, step.latency.p99_ms
        ));
        if (sent as f64) < 0.95 * offered {
            r.warnings.push(format!("at {rate:.0} msg/s the generator sent only {sent} of {offered:.0} messages"));
        }
        r.steps.push(step.clone());
        if !ok {
            break;
        }
        r.last_good_step = Some(step);
        rate *= a.factor.max(1.01);
    }
    bar.finish_and_clear();
    fill_counts(&mut r, &shared);
    r.time_to_ready = Some(shared.ready_percentiles());
    ch.fleet.close().await;
    Ok(r)
}
