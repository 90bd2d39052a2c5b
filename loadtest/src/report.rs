//! The result of a run: a human summary on stdout, JSON for machines
//! (`--json`), an SVG chart (`--svg`), and the progress bars while it runs.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::options::Common;
use crate::procstat::Usage;
use crate::stats::{Percentiles, Second};

/// Generator CPU (fraction of a core) above which the numbers may be the generator's limit.
pub const GENERATOR_BUSY: f64 = 0.85;

/// Deliveries of load messages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Deliveries {
    /// Deliveries received during the measured window.
    pub in_window: u64,
    /// Of those, per second.
    pub per_s: f64,
    /// Messages sent per second during the window (all senders together).
    pub messages_per_s: f64,
    /// All first deliveries over the run (warm-up and drain included).
    pub total: u64,
    /// Deliveries due: confirmed messages × their readers.
    pub expected: u64,
    /// Due but never received (after the drain).
    pub lost: u64,
    /// Received more than once by the same reader.
    pub duplicates: u64,
    /// Received with a message number that was never sent (should be 0).
    pub unknown: u64,
    /// Gaps in a session's sequence numbers (Hearth).
    pub seq_gaps: u64,
}

/// One step of the ramp.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Messages per second offered.
    pub rate: f64,
    /// Deliveries per second received for this step's messages.
    pub deliveries_per_s: f64,
    /// Fraction of due deliveries that arrived by the time the step was judged.
    pub delivered_ratio: f64,
    /// Latency of this step's messages.
    pub latency: Percentiles,
    /// Server CPU over the step, fraction of a core.
    pub server_cores: Option<f64>,
    /// Generator CPU over the step, fraction of a core.
    pub generator_cores: f64,
    /// Whether the step met the bounds.
    pub ok: bool,
}

/// Everything a run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Target server kind.
    pub target: String,
    /// Unix seconds at the start.
    pub started_unix: u64,
    /// The scenario's parameters.
    pub params: serde_json::Value,
    /// Client connections attempted.
    pub connections: u64,
    /// Connections that reached READY.
    pub ready: u64,
    /// Connections that failed to connect or identify.
    pub connect_failures: u64,
    /// Connections that ended before the run closed them.
    pub dropped: u64,
    /// Time from starting to connect to READY.
    pub time_to_ready: Option<Percentiles>,
    /// Connect storm: READYs per second.
    pub identifies_per_s: Option<f64>,
    /// Messages sent / confirmed.
    pub messages_sent: u64,
    /// Messages the server confirmed.
    pub messages_confirmed: u64,
    /// Load-message deliveries.
    pub deliveries: Option<Deliveries>,
    /// End-to-end latency of deliveries of messages sent in the measured window.
    pub latency: Option<Percentiles>,
    /// Other dispatches received (typing, presence, member updates).
    pub other_events: u64,
    /// CPU and memory over the measured window.
    pub usage: Option<Usage>,
    /// Server CPU µs per delivery over the window.
    pub server_cpu_us_per_delivery: Option<f64>,
    /// Server RSS growth per held session, KiB.
    pub server_kib_per_session: Option<f64>,
    /// Ramp steps.
    pub steps: Vec<Step>,
    /// The highest ramp step that met the bounds.
    pub last_good_step: Option<Step>,
    /// Per second of the run.
    pub timeline: Vec<Second>,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// Connection ends by cause.
    pub closes: BTreeMap<String, u64>,
    /// Things to know when reading the numbers.
    pub notes: Vec<String>,
    /// Things that make the numbers doubtful.
    pub warnings: Vec<String>,
    /// The soak's samples and memory verdict.
    pub soak: Option<Soak>,
    /// Set when the run failed a check of its own (the process exits non-zero).
    pub failed: Option<String>,
}

/// What a soak measured besides the common numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Soak {
    /// What the memory verdict tolerated.
    pub bounds: crate::slope::Bounds,
    /// The memory verdict.
    pub verdict: crate::slope::Verdict,
    /// History pages read.
    pub history_pages: u64,
    /// Messages in them.
    pub history_messages: u64,
    /// History requests that failed.
    pub history_errors: u64,
    /// History page latency.
    pub history_latency: Percentiles,
    /// Reconnects asked for.
    pub reconnects: u64,
    /// Slow readers.
    pub slow_readers: usize,
    /// Every sample, in time order.
    pub samples: Vec<crate::slope::Sample>,
}

impl Report {
    /// Warn when the generator itself was near one core (per runtime thread).
    pub fn check_generator(&mut self, threads: usize) {
        if let Some(u) = &self.usage {
            if u.generator_cores > GENERATOR_BUSY * threads.max(1) as f64 {
                self.warnings.push(format!(
                    "the load generator used {:.0}% of a core: the numbers may be its limit, not the server's",
                    u.generator_cores * 100.0
                ));
            }
        }
    }
}

impl Report {
    /// Warn when other processes used the machine's cores during the window.
    pub fn check_contention(&mut self) {
        let Some(u) = &self.usage else { return };
        let busy: f64 = u.core_busy.iter().sum();
        let ours = u.generator_cores + u.server_cores.unwrap_or(0.0);
        let others = busy - ours;
        if u.server_cores.is_some() && others > 0.15 {
            self.warnings.push(format!(
                "other processes used about {:.0}% of a core during the window (cores busy: {}; interrupts: {}); the numbers may be CPU-starved",
                others * 100.0,
                u.core_busy.iter().map(|b| format!("{:.0}%", b * 100.0)).collect::<Vec<_>>().join(" "),
                u.core_irq.iter().map(|b| format!("{:.0}%", b * 100.0)).collect::<Vec<_>>().join(" ")
            ));
        }
    }
}

/// A progress bar (hidden with --quiet).
pub fn bar(c: &Common, len: u64, what: &str) -> ProgressBar {
    if c.quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template("{prefix:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b.set_prefix(what.to_string());
    b.enable_steady_tick(Duration::from_millis(250));
    b
}

fn pct(p: &Percentiles) -> String {
    format!(
        "p50 {:.2} ms  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  (n={})",
        p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms, p.count
    )
}

/// The human summary.
pub fn summary(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "== {} against {} ==", r.scenario, r.target);
    let _ = writeln!(s, "params: {}", r.params);
    let _ = writeln!(
        s,
        "connections: {} ready, {} failed, {} dropped (of {})",
        r.ready, r.connect_failures, r.dropped, r.connections
    );
    if let Some(p) = &r.time_to_ready {
        let _ = writeln!(s, "time to READY: {}", pct(p));
    }
    if let Some(x) = r.identifies_per_s {
        let _ = writeln!(s, "identifies/s: {x:.0}");
    }
    if let Some(d) = &r.deliveries {
        let _ = writeln!(
            s,
            "deliveries: {:.0}/s over the window ({} received; {:.1} messages/s sent)",
            d.per_s, d.in_window, d.messages_per_s
        );
        let _ = writeln!(
            s,
            "            {} of {} due; lost {}, duplicated {}, unknown {}, sequence gaps {}",
            d.total, d.expected, d.lost, d.duplicates, d.unknown, d.seq_gaps
        );
        let _ = writeln!(s, "messages: {} sent, {} confirmed", r.messages_sent, r.messages_confirmed);
    }
    if let Some(p) = &r.latency {
        let _ = writeln!(s, "latency: {}", pct(p));
    }
    if r.other_events > 0 {
        let _ = writeln!(s, "other dispatches: {}", r.other_events);
    }
    for st in &r.steps {
        let _ = writeln!(
            s,
            "step {:>8.0} msg/s: {:>9.0} deliveries/s  delivered {:>6.2}%  p99 {:>8.2} ms  server {}  {}",
            st.rate,
            st.deliveries_per_s,
            st.delivered_ratio * 100.0,
            st.latency.p99_ms,
            st.server_cores.map_or("-".into(), |c| format!("{:.0}%", c * 100.0)),
            if st.ok { "ok" } else { "FAIL" }
        );
    }
    if let Some(st) = &r.last_good_step {
        let _ = writeln!(s, "last good step: {:.0} msg/s → {:.0} deliveries/s", st.rate, st.deliveries_per_s);
    }
    if let Some(u) = &r.usage {
        let _ = writeln!(
            s,
            "window: {:.1} s; generator CPU {:.2} s ({:.0}% of a core)",
            u.wall_s,
            u.generator_cpu_s,
            u.generator_cores * 100.0
        );
        if let (Some(c), Some(f)) = (u.server_cpu_s, u.server_cores) {
            let _ = writeln!(
                s,
                "server: CPU {c:.2} s ({:.0}% of a core), RSS {} → {} KiB",
                f * 100.0,
                u.server_rss_start_kib.unwrap_or(0),
                u.server_rss_end_kib.unwrap_or(0)
            );
        }
    }
    if let Some(x) = r.server_cpu_us_per_delivery {
        let _ = writeln!(s, "server CPU per delivery: {x:.2} µs");
    }
    if let Some(x) = r.server_kib_per_session {
        let _ = writeln!(s, "server memory per session: {x:.1} KiB");
    }
    if let Some(k) = &r.soak {
        soak_summary(&mut s, k);
    }
    for (k, v) in &r.errors {
        let _ = writeln!(s, "error {k}: {v}");
    }
    for (k, v) in &r.closes {
        let _ = writeln!(s, "connection end {k}: {v}");
    }
    for n in &r.notes {
        let _ = writeln!(s, "note: {n}");
    }
    for w in &r.warnings {
        let _ = writeln!(s, "WARNING: {w}");
    }
    s
}

fn soak_summary(s: &mut String, k: &Soak) {
    use std::fmt::Write;
    let _ = writeln!(
        s,
        "history: {} pages ({} messages), {} failed; {}",
        k.history_pages,
        k.history_messages,
        k.history_errors,
        pct(&k.history_latency)
    );
    let _ = writeln!(s, "reconnects: {}; slow readers: {}", k.reconnects, k.slow_readers);
    let _ = writeln!(
        s,
        "{:>7} {:>8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "t s", "RSS MiB", "CPU %", "store", "cache", "replay", "outbnd", "p99 ms", "hist p99"
    );
    // At most about 40 rows: every n-th sample.
    let n = k.samples.len().div_ceil(40).max(1);
    for x in k.samples.iter().step_by(n) {
        let _ = writeln!(
            s,
            "{:>7.0} {:>8.1} {:>6.1} {:>8.2} {:>8.2} {:>8.3} {:>8.3} {:>8.2} {:>8.2}",
            x.t_s,
            x.rss_mib,
            x.cpu_cores * 100.0,
            x.store_mib,
            x.cache_mib,
            x.replay_mib,
            x.outbound_mib,
            x.p99_ms,
            x.history_p99_ms
        );
    }
    let v = &k.verdict;
    let _ = writeln!(
        s,
        "memory after the warm-up ({} samples, {:.0} s): RSS {:.1} → {:.1} MiB (fitted); {}",
        v.samples, v.window_s, v.rss_start_mib, v.rss_end_mib, v.reason
    );
}

/// Print the summary and write the requested files.
pub fn finish(c: &Common, r: &Report) -> anyhow::Result<()> {
    if r.scenario == "compare" {
        return Ok(()); // the chart is already drawn
    }
    print!("{}", summary(r));
    if let Some(p) = &c.json {
        std::fs::write(p, serde_json::to_vec_pretty(r)?).with_context(|| format!("write {}", p.display()))?;
    }
    if let Some(p) = &c.svg {
        match &r.soak {
            Some(k) => crate::svg::draw_soak(p, r, k)?,
            None => crate::svg::draw(p, r)?,
        }
    }
    if let Some(why) = &r.failed {
        anyhow::bail!("{why}");
    }
    Ok(())
}
