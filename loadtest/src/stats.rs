//! What the clients observe, collected in one place: deliveries with their
//! end-to-end latency (HDR histograms), losses, duplicates, time to READY,
//! errors and close codes.
//!
//! Latency is keyed by the second the message was *sent* (so a rate step's
//! latency belongs to that step) and throughput by the second it was
//! *received*.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Longest latency or time to READY a histogram holds (longer ones are clamped), µs.
const MAX_TRACKED_US: u64 = 600_000_000;
/// Seconds of per-second buckets kept (runs are bounded well below this).
const MAX_SECONDS: usize = 6 * 3600;

/// Per send-second: latency, deliveries and the deliveries that were due.
struct SendSecond {
    latency: Histogram<u64>,
    delivered: u64,
    expected: u64,
}

struct Inner {
    window: (u64, u64),
    latency: Histogram<u64>,
    delivered_in_window: u64,
    expected_in_window: u64,
    by_send: Vec<SendSecond>,
    by_recv: Vec<u64>,
    ready: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    closes: BTreeMap<String, u64>,
}

/// Shared by every client task of a run.
pub struct Shared {
    /// Time zero of the run: every stamp is µs since this instant.
    pub epoch: Instant,
    inner: Mutex<Inner>,
    /// Message numbers handed out by the pacer so far (every valid `k` is below this).
    pub numbered: AtomicU64,
    /// Messages handed to the server.
    pub sent: AtomicU64,
    /// Messages the server confirmed (Hearth: op 41 ACK; others: sent).
    pub acked: AtomicU64,
    /// Messages the server refused (op 43 ERROR).
    pub refused: AtomicU64,
    /// Deliveries that were due (acked messages × their readers).
    pub expected: AtomicU64,
    /// First deliveries of a message to a reader.
    pub delivered: AtomicU64,
    /// Repeated deliveries of a message to the same reader.
    pub duplicates: AtomicU64,
    /// Deliveries carrying a message number the pacer never handed out.
    pub unexpected: AtomicU64,
    /// Dispatches other than MESSAGE_CREATE (typing, presence, ...).
    pub other_events: AtomicU64,
    /// Gaps in a session's sequence numbers.
    pub seq_gaps: AtomicU64,
    /// Clients that reached READY (or the reference servers' equivalent).
    pub ready_count: AtomicU64,
    /// Clients that failed to connect or identify.
    pub connect_failures: AtomicU64,
    /// Connections that ended before the run told them to.
    pub dropped: AtomicU64,
}

/// Latency percentiles of a histogram, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    /// Samples in the histogram.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

impl Percentiles {
    /// Summarize a histogram of µs.
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Percentiles {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// One second of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Second {
    /// Seconds since the epoch.
    pub t_s: u64,
    /// Deliveries received during this second.
    pub received: u64,
    /// Deliveries of messages sent during this second.
    pub delivered: u64,
    /// Deliveries due for messages sent during this second.
    pub expected: u64,
    /// Latency of messages sent during this second.
    pub latency: Percentiles,
}

fn hist(sigfig: u8) -> Histogram<u64> {
    // Constant, valid bounds: this cannot fail.
    Histogram::new_with_bounds(1, MAX_TRACKED_US, sigfig).expect("valid histogram bounds")
}

impl Shared {
    /// A fresh collector whose epoch is now.
    pub fn new() -> Shared {
        Shared {
            epoch: Instant::now(),
            inner: Mutex::new(Inner {
                window: (0, u64::MAX),
                latency: hist(3),
                delivered_in_window: 0,
                expected_in_window: 0,
                by_send: Vec::new(),
                by_recv: Vec::new(),
                ready: hist(3),
                errors: BTreeMap::new(),
                closes: BTreeMap::new(),
            }),
            numbered: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            unexpected: AtomicU64::new(0),
            other_events: AtomicU64::new(0),
            seq_gaps: AtomicU64::new(0),
            ready_count: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// µs since the epoch.
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// Only messages sent within `[from_us, to_us)` count for the latency and rate totals.
    pub fn set_window(&self, from_us: u64, to_us: u64) {
        self.lock().window = (from_us, to_us);
    }

    /// A first delivery of a message stamped `sent_us`.
    pub fn delivery(&self, sent_us: u64) {
        let now = self.now_us();
        let lat = now.saturating_sub(sent_us).max(1);
        self.delivered.fetch_add(1, Relaxed);
        let mut g = self.lock();
        if sent_us >= g.window.0 && sent_us < g.window.1 {
            g.latency.saturating_record(lat);
            g.delivered_in_window += 1;
        }
        let s = sec(sent_us);
        if let Some(b) = bucket(&mut g.by_send, s) {
            b.latency.saturating_record(lat);
            b.delivered += 1;
        }
        let r = sec(now);
        if r < MAX_SECONDS {
            if g.by_recv.len() <= r {
                g.by_recv.resize(r + 1, 0);
            }
            g.by_recv[r] += 1;
        }
    }

    /// A message stamped `sent_us` was confirmed; `readers` deliveries are now due.
    pub fn confirmed(&self, sent_us: u64, readers: u64) {
        self.acked.fetch_add(1, Relaxed);
        self.expected.fetch_add(readers, Relaxed);
        let mut g = self.lock();
        if sent_us >= g.window.0 && sent_us < g.window.1 {
            g.expected_in_window += readers;
        }
        if let Some(b) = bucket(&mut g.by_send, sec(sent_us)) {
            b.expected += readers;
        }
    }

    /// Time from starting to connect to READY.
    pub fn ready(&self, us: u64) {
        self.ready_count.fetch_add(1, Relaxed);
        self.lock().ready.saturating_record(us.max(1));
    }

    /// Count an error by its kind (an op 43 code, an I/O error, ...).
    pub fn error(&self, kind: impl Into<String>) {
        *self.lock().errors.entry(kind.into()).or_default() += 1;
    }

    /// Count a connection close by its code or cause.
    pub fn closed(&self, why: impl Into<String>) {
        *self.lock().closes.entry(why.into()).or_default() += 1;
    }

    /// The deliveries section of a report: `window` deliveries counted inside
    /// the measured window, `sent` messages sent in it, over `wall_s` seconds.
    pub fn deliveries(&self, window: u64, sent: u64, wall_s: f64) -> crate::report::Deliveries {
        let (expected, total) = (self.expected.load(Relaxed), self.delivered.load(Relaxed));
        crate::report::Deliveries {
            in_window: window,
            per_s: window as f64 / wall_s,
            messages_per_s: sent as f64 / wall_s,
            total,
            expected,
            lost: expected.saturating_sub(total),
            duplicates: self.duplicates.load(Relaxed),
            unknown: self.unexpected.load(Relaxed),
            seq_gaps: self.seq_gaps.load(Relaxed),
        }
    }

    /// Latency over the window, and deliveries received and due for messages sent in it.
    pub fn window_totals(&self) -> (Percentiles, u64, u64) {
        let g = self.lock();
        (Percentiles::of(&g.latency), g.delivered_in_window, g.expected_in_window)
    }

    /// Latency, deliveries and due deliveries of messages sent during seconds `[from, to)`.
    pub fn seconds_totals(&self, from: u64, to: u64) -> (Percentiles, u64, u64) {
        let g = self.lock();
        let mut h = hist(2);
        let (mut d, mut e) = (0, 0);
        for b in g.by_send.iter().take(to as usize).skip(from as usize) {
            let _ = h.add(&b.latency);
            d += b.delivered;
            e += b.expected;
        }
        (Percentiles::of(&h), d, e)
    }

    /// Time to READY.
    pub fn ready_percentiles(&self) -> Percentiles {
        Percentiles::of(&self.lock().ready)
    }

    /// Errors and closes seen.
    pub fn tallies(&self) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
        let g = self.lock();
        (g.errors.clone(), g.closes.clone())
    }

    /// Every second of the run so far.
    pub fn timeline(&self) -> Vec<Second> {
        let g = self.lock();
        let n = g.by_send.len().max(g.by_recv.len());
        (0..n)
            .map(|i| {
                let b = g.by_send.get(i);
                Second {
                    t_s: i as u64,
                    received: g.by_recv.get(i).copied().unwrap_or(0),
                    delivered: b.map_or(0, |b| b.delivered),
                    expected: b.map_or(0, |b| b.expected),
                    latency: b.map(|b| Percentiles::of(&b.latency)).unwrap_or_default(),
                }
            })
            .collect()
    }
}

fn sec(us: u64) -> usize {
    (us / 1_000_000) as usize
}

fn bucket(v: &mut Vec<SendSecond>, s: usize) -> Option<&mut SendSecond> {
    if s >= MAX_SECONDS {
        return None;
    }
    while v.len() <= s {
        v.push(SendSecond { latency: hist(2), delivered: 0, expected: 0 });
    }
    v.get_mut(s)
}

/// Which messages one reader has seen, to tell first deliveries from repeats.
#[derive(Default)]
pub struct Seen {
    bits: Vec<u64>,
}

impl Seen {
    /// Mark message `k`; true if it was new. Message numbers are dense from 0.
    pub fn insert(&mut self, k: u64) -> bool {
        let (w, b) = ((k / 64) as usize, k % 64);
        if w >= self.bits.len() {
            // Bounded by the run's message count (the pacer numbers messages densely).
            self.bits.resize(w + 1, 0);
        }
        let m = 1u64 << b;
        let new = self.bits[w] & m == 0;
        self.bits[w] |= m;
        new
    }
}
