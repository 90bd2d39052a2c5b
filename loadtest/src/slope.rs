//! The soak's memory verdict, pure: given samples of the server's RSS, the
//! size of its database and the bytes in its storage cache over time, does
//! RSS grow faster than the stored data explains?
//!
//! After the warm-up, each series gets a least-squares slope (MiB per hour).
//! RSS may legitimately grow as fast as the storage cache fills (it is
//! bounded by `--cache-mib`) times `cache_factor` (a cached 4 KiB page costs
//! more than 4 KiB of RSS: the allocator's size classes and the cache's own
//! entries; about 1.25 measured), or as the stored data grows times
//! `store_factor`, whichever is faster; the rest is "unexplained". The run
//! fails when the unexplained slope exceeds `tolerance_mib_per_h` **and**
//! the unexplained growth over the judged window exceeds `min_excess_mib`
//! (so allocator noise in a few-minute run does not fail it, while a leak
//! of a few MiB per hour fails an hour-long one).

use serde::Serialize;

/// One sample of the server.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sample {
    /// Seconds since the load started.
    pub t_s: f64,
    /// Server resident memory, MiB.
    pub rss_mib: f64,
    /// Server CPU over the interval before this sample, fraction of a core.
    pub cpu_cores: f64,
    /// Database file size, MiB (`hearth_store_file_bytes`).
    pub store_mib: f64,
    /// Bytes in the storage cache, MiB (`hearth_store_cache_used_bytes`).
    pub cache_mib: f64,
    /// Replay buffers, MiB (`hearth_replay_bytes`, both states).
    pub replay_mib: f64,
    /// Outbound queues, MiB (`hearth_outbound_bytes`).
    pub outbound_mib: f64,
    /// Live gateway sessions (`hearth_gateway_sessions`).
    pub sessions: f64,
    /// Delivery latency p50 of messages sent in the interval before, ms.
    pub p50_ms: f64,
    /// Delivery latency p99 of messages sent in the interval before, ms.
    pub p99_ms: f64,
    /// History page latency p99 in the interval, ms.
    pub history_p99_ms: f64,
}

/// What the verdict tolerates.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Bounds {
    /// Samples before this many seconds are not judged.
    pub warmup_s: f64,
    /// RSS may grow this many bytes per byte of stored-data growth.
    pub store_factor: f64,
    /// RSS may grow this many bytes per byte the storage cache fills.
    pub cache_factor: f64,
    /// Unexplained RSS growth allowed, MiB per hour.
    pub tolerance_mib_per_h: f64,
    /// Unexplained growth over the judged window needed to fail, MiB.
    pub min_excess_mib: f64,
}

/// The verdict and the numbers behind it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verdict {
    /// Samples judged (after the warm-up).
    pub samples: usize,
    /// Judged window, seconds.
    pub window_s: f64,
    /// RSS at the start and end of the window (fitted line), MiB.
    pub rss_start_mib: f64,
    /// RSS at the end of the window (fitted line), MiB.
    pub rss_end_mib: f64,
    /// RSS slope, MiB/h.
    pub rss_mib_per_h: f64,
    /// Stored data slope, MiB/h.
    pub store_mib_per_h: f64,
    /// Storage cache slope, MiB/h.
    pub cache_mib_per_h: f64,
    /// RSS slope minus what the store and cache explain, MiB/h.
    pub unexplained_mib_per_h: f64,
    /// Unexplained growth over the window, MiB.
    pub unexplained_mib: f64,
    /// Whether RSS stayed within bounds.
    pub ok: bool,
    /// One line saying why.
    pub reason: String,
}

/// Least-squares slope of `y` over `x` (0 for fewer than two distinct x).
pub fn slope(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len()) as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
    }
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

/// Judge `samples` against `b`.
pub fn judge(samples: &[Sample], b: &Bounds) -> Verdict {
    let judged: Vec<&Sample> = samples.iter().filter(|s| s.t_s >= b.warmup_s).collect();
    let mut v = Verdict { samples: judged.len(), ..Verdict::default() };
    if judged.len() < 3 {
        v.reason = format!("only {} samples after the warm-up: cannot judge (run longer)", judged.len());
        return v;
    }
    let hours: Vec<f64> = judged.iter().map(|s| s.t_s / 3600.0).collect();
    let series = |f: fn(&Sample) -> f64| judged.iter().map(|s| f(s)).collect::<Vec<f64>>();
    let rss = series(|s| s.rss_mib);
    v.rss_mib_per_h = slope(&hours, &rss);
    v.store_mib_per_h = slope(&hours, &series(|s| s.store_mib));
    v.cache_mib_per_h = slope(&hours, &series(|s| s.cache_mib));
    let (t0, t1) = (hours[0], hours[hours.len() - 1]);
    v.window_s = (t1 - t0) * 3600.0;
    let mean_t = hours.iter().sum::<f64>() / hours.len() as f64;
    let mean_rss = rss.iter().sum::<f64>() / rss.len() as f64;
    v.rss_start_mib = mean_rss + v.rss_mib_per_h * (t0 - mean_t);
    v.rss_end_mib = mean_rss + v.rss_mib_per_h * (t1 - mean_t);
    let explained = (b.cache_factor * v.cache_mib_per_h.max(0.0)).max(b.store_factor * v.store_mib_per_h.max(0.0));
    v.unexplained_mib_per_h = v.rss_mib_per_h - explained;
    v.unexplained_mib = v.unexplained_mib_per_h * (t1 - t0);
    v.ok = v.unexplained_mib_per_h <= b.tolerance_mib_per_h || v.unexplained_mib <= b.min_excess_mib;
    v.reason = format!(
        "RSS {:+.2} MiB/h, store {:+.2} MiB/h, cache {:+.2} MiB/h: unexplained {:+.2} MiB/h ({:+.2} MiB over {:.0} s); {}",
        v.rss_mib_per_h,
        v.store_mib_per_h,
        v.cache_mib_per_h,
        v.unexplained_mib_per_h,
        v.unexplained_mib,
        v.window_s,
        if v.ok {
            "within bounds".to_string()
        } else {
            format!(
                "RSS grows without matching stored data (more than {} MiB/h and {} MiB)",
                b.tolerance_mib_per_h, b.min_excess_mib
            )
        }
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Bounds = Bounds {
        warmup_s: 600.0,
        store_factor: 0.25,
        cache_factor: 1.3,
        tolerance_mib_per_h: 2.0,
        min_excess_mib: 4.0,
    };

    /// An hour of samples every 10 s; RSS, store and cache as functions of hours.
    fn run(rss: impl Fn(f64) -> f64, store: impl Fn(f64) -> f64, cache: impl Fn(f64) -> f64) -> Vec<Sample> {
        (0..=360)
            .map(|i| {
                let t_s = f64::from(i) * 10.0;
                let h = t_s / 3600.0;
                // Deterministic noise of ±1.5 MiB, as an allocator gives.
                let noise = ((i * 7919) % 31) as f64 / 10.0 - 1.5;
                Sample { t_s, rss_mib: rss(h) + noise, store_mib: store(h), cache_mib: cache(h), ..Sample::default() }
            })
            .collect()
    }

    #[test]
    fn flat_rss_passes() {
        let v = judge(&run(|_| 120.0, |h| 20.0 + 5.0 * h, |_| 10.0), &B);
        assert!(v.ok, "{}", v.reason);
        assert!(v.rss_mib_per_h.abs() < 1.0, "{}", v.reason);
        assert_eq!(v.samples, 301);
    }

    #[test]
    fn growth_matched_by_store_growth_passes() {
        // RSS follows the stored data (a cache filling with new pages, each
        // costing a little more than its bytes).
        let v = judge(&run(|h| 100.0 + 36.0 * h, |h| 20.0 + 30.0 * h, |h| 5.0 + 30.0 * h), &B);
        assert!(v.ok, "{}", v.reason);
        assert!((v.store_mib_per_h - 30.0).abs() < 0.5, "{}", v.reason);
        // Without a cache gauge, a share of the stored data's growth is allowed.
        let v = judge(&run(|h| 100.0 + 6.0 * h, |h| 20.0 + 40.0 * h, |_| 0.0), &B);
        assert!(v.ok, "{}", v.reason);
        // The cache warming up on old data explains growth without store growth.
        let v = judge(&run(|h| 100.0 + 20.0 * h, |_| 50.0, |h| 20.0 * h), &B);
        assert!(v.ok, "{}", v.reason);
    }

    #[test]
    fn growth_without_store_growth_fails() {
        let v = judge(&run(|h| 100.0 + 12.0 * h, |_| 20.0, |_| 8.0), &B);
        assert!(!v.ok, "{}", v.reason);
        assert!((v.unexplained_mib_per_h - 12.0).abs() < 1.0, "{}", v.reason);
        assert!(v.reason.contains("without matching stored data"), "{}", v.reason);
        // Store growth that explains only part of it fails too.
        let v = judge(&run(|h| 100.0 + 40.0 * h, |h| 20.0 + 10.0 * h, |h| 10.0 * h), &B);
        assert!(!v.ok, "{}", v.reason);
        assert!((v.unexplained_mib_per_h - 27.0).abs() < 1.0, "{}", v.reason);
        // A full cache explains nothing: RSS that keeps pace with a fast-growing
        // database after the cache stopped growing is a leak.
        let v = judge(&run(|h| 100.0 + 40.0 * h, |h| 20.0 + 100.0 * h, |_| 16.0), &B);
        assert!(!v.ok, "{}", v.reason);
    }

    #[test]
    fn warmup_growth_is_not_judged_and_short_runs_need_a_real_excess() {
        // Steep growth in the first ten minutes, flat afterwards.
        let v = judge(&run(|h| 60.0 + 60.0 * h.min(1.0 / 6.0), |_| 10.0, |_| 5.0), &B);
        assert!(v.ok, "{}", v.reason);
        // Two minutes of a 30 MiB/h slope is 1 MiB: below min_excess_mib.
        let short: Vec<Sample> = (0..=24)
            .map(|i| Sample {
                t_s: f64::from(i) * 5.0,
                rss_mib: 80.0 + 30.0 * f64::from(i) * 5.0 / 3600.0,
                ..Sample::default()
            })
            .collect();
        let v = judge(&short, &Bounds { warmup_s: 0.0, ..B });
        assert!(v.ok, "{}", v.reason);
        assert!(v.rss_mib_per_h > 25.0, "{}", v.reason);
        let v = judge(&short[..2], &Bounds { warmup_s: 0.0, ..B });
        assert!(!v.ok && v.reason.contains("cannot judge"), "{}", v.reason);
    }

    #[test]
    fn slope_of_a_line() {
        assert!((slope(&[0.0, 1.0, 2.0, 3.0], &[1.0, 3.0, 5.0, 7.0]) - 2.0).abs() < 1e-9);
        assert_eq!(slope(&[1.0], &[1.0]), 0.0);
        assert_eq!(slope(&[2.0, 2.0], &[1.0, 5.0]), 0.0);
    }
}
