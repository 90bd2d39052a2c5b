//! History scrolling over REST: readers that page back through a channel
//! (`GET /channels/{id}/messages?before=...`) from the newest message to the
//! first, then start again in another channel. Used by the soak, so that the
//! server reads old pages of its database as people do.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::stats::Percentiles;
use crate::targets::Rng;

/// Messages per page (the server's `MAX_HISTORY_LIMIT` is 100).
pub const PAGE: usize = 50;

/// Pages read, failures and latency, shared by the scrollers.
pub struct HistoryStats {
    /// Pages answered 200.
    pub pages: AtomicU64,
    /// Messages in those pages.
    pub messages: AtomicU64,
    /// Requests that failed (status, transport, bad body).
    pub errors: AtomicU64,
    /// Latency since the last [`HistoryStats::take_interval`], µs.
    interval: Mutex<Histogram<u64>>,
    /// Latency over the whole run, µs.
    total: Mutex<Histogram<u64>>,
}

fn hist() -> Histogram<u64> {
    // Constant, valid bounds.
    Histogram::new_with_bounds(1, 600_000_000, 2).expect("valid histogram bounds")
}

impl HistoryStats {
    /// Empty.
    pub fn new() -> HistoryStats {
        HistoryStats {
            pages: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            interval: Mutex::new(hist()),
            total: Mutex::new(hist()),
        }
    }

    fn record(&self, us: u64) {
        for h in [&self.interval, &self.total] {
            h.lock().unwrap_or_else(|e| e.into_inner()).saturating_record(us.max(1));
        }
    }

    /// Latency since the previous call.
    pub fn take_interval(&self) -> Percentiles {
        let mut h = self.interval.lock().unwrap_or_else(|e| e.into_inner());
        let p = Percentiles::of(&h);
        h.reset();
        p
    }

    /// Latency over the run.
    pub fn total(&self) -> Percentiles {
        Percentiles::of(&self.total.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Who may read which channels: (token, channels) per reader.
pub type Readers = Vec<(String, Vec<u64>)>;

/// Run one scroller until `stop`: `per_s` pages a second, picking a reader
/// and one of their channels, then paging back to the start of it.
pub async fn scroll(
    base: String,
    readers: Arc<Readers>,
    per_s: f64,
    seed: u64,
    stats: Arc<HistoryStats>,
    mut stop: watch::Receiver<bool>,
) {
    let Ok(client) = reqwest::Client::builder().timeout(Duration::from_secs(30)).build() else { return };
    let mut rng = Rng::new(seed);
    let every = Duration::from_secs_f64(1.0 / per_s.max(0.001));
    let mut tick = tokio::time::interval_at(Instant::now() + every.mul_f64(rng.below(1000) as f64 / 1000.0), every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut place: Option<(usize, u64, Option<u64>)> = None; // (reader, channel, before)
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        if readers.is_empty() {
            continue;
        }
        let (reader, channel, before) = match place {
            Some(p) => p,
            None => {
                let r = rng.below(readers.len() as u64) as usize;
                let chans = &readers[r].1;
                if chans.is_empty() {
                    continue;
                }
                (r, chans[rng.below(chans.len() as u64) as usize], None)
            }
        };
        let mut url = format!("{base}/channels/{channel}/messages?limit={PAGE}");
        if let Some(b) = before {
            url.push_str(&format!("&before={b}"));
        }
        let t = Instant::now();
        let page = match client.get(&url).bearer_auth(&readers[reader].0).send().await {
            Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
            _ => None,
        };
        let Some(Value::Array(msgs)) = page else {
            stats.errors.fetch_add(1, Relaxed);
            place = None;
            continue;
        };
        stats.record(t.elapsed().as_micros() as u64);
        stats.pages.fetch_add(1, Relaxed);
        stats.messages.fetch_add(msgs.len() as u64, Relaxed);
        // Oldest first: the next page is before the first message.
        let oldest = msgs.first().and_then(|m| m["id"].as_str()).and_then(|id| id.parse::<u64>().ok());
        place = match oldest {
            Some(id) if msgs.len() == PAGE => Some((reader, channel, Some(id))),
            _ => None,
        };
    }
}
