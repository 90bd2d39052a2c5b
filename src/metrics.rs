//! Prometheus metrics, registered once in a process-wide registry and served
//! at `/metrics`.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The registry every Hearth metric lives in.
pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

fn counter(name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).unwrap_or_else(|_| unreachable_metric(name));
    let _ = REGISTRY.register(Box::new(c.clone()));
    c
}

fn gauge(name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap_or_else(|_| unreachable_metric(name));
    let _ = REGISTRY.register(Box::new(g.clone()));
    g
}

fn histogram(name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        .unwrap_or_else(|_| unreachable_metric(name));
    let _ = REGISTRY.register(Box::new(h.clone()));
    h
}

// Metric names and help texts are constants of this file; they only fail on
// an invalid name, which the unit test below would catch.
fn unreachable_metric(name: &str) -> ! {
    panic!("invalid metric definition {name}")
}

/// Open gateway connections.
pub static CONNECTIONS: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("hearth_gateway_connections", "Open gateway WebSocket connections"));
/// Identified sessions alive (connected or awaiting resume).
pub static SESSIONS: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("hearth_gateway_sessions", "Live identified gateway sessions"));
/// Events encoded for fan-out (each once, whatever the number of readers).
pub static EVENTS: LazyLock<IntCounter> =
    LazyLock::new(|| counter("hearth_events_dispatched_total", "Dispatch events encoded for fan-out"));
/// Frames delivered to sessions.
pub static DELIVERIES: LazyLock<IntCounter> =
    LazyLock::new(|| counter("hearth_deliveries_total", "Dispatch frames queued to sessions"));
/// Bytes of frames written to sockets.
pub static BYTES_SENT: LazyLock<IntCounter> =
    LazyLock::new(|| counter("hearth_gateway_bytes_sent_total", "Gateway frame bytes written"));
/// Sessions closed because they did not read fast enough.
pub static SLOW_READERS: LazyLock<IntCounter> =
    LazyLock::new(|| counter("hearth_slow_reader_disconnects_total", "Sessions closed as slow readers"));
/// Messages created.
pub static MESSAGES: LazyLock<IntCounter> =
    LazyLock::new(|| counter("hearth_messages_created_total", "Messages durably created"));
/// Live channel actors.
pub static CHANNEL_ACTORS: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("hearth_channel_actors", "Running channel actors"));
/// Live guild actors.
pub static GUILD_ACTORS: LazyLock<IntGauge> = LazyLock::new(|| gauge("hearth_guild_actors", "Running guild actors"));
/// Requests per store commit.
pub static COMMIT_BATCH: LazyLock<Histogram> = LazyLock::new(|| {
    histogram(
        "hearth_store_commit_batch_size",
        "Write requests per group commit",
        vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0],
    )
});
/// Commit latency.
pub static COMMIT_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    histogram(
        "hearth_store_commit_seconds",
        "Time to apply and commit one batch",
        prometheus::exponential_buckets(0.0001, 2.0, 16).unwrap_or_default(),
    )
});
/// HTTP requests by route and status.
pub static HTTP_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let c = IntCounterVec::new(
        Opts::new("hearth_http_requests_total", "HTTP requests by route and status"),
        &["route", "status"],
    )
    .unwrap_or_else(|_| unreachable_metric("hearth_http_requests_total"));
    let _ = REGISTRY.register(Box::new(c.clone()));
    c
});

/// Identified sessions and connections by state, set on each scrape (see [`SessionStates`]).
pub static SESSION_STATES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    let g = IntGaugeVec::new(
        Opts::new(
            "hearth_gateway_sessions_by_state",
            "Gateway connections and sessions by state: awaiting_identify, identifying, connected, detached",
        ),
        &["state"],
    )
    .unwrap_or_else(|_| unreachable_metric("hearth_gateway_sessions_by_state"));
    let _ = REGISTRY.register(Box::new(g.clone()));
    g
});
/// Requests and commands refused by a rate-limit rule, by rule name.
pub static RATE_LIMITED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let c = IntCounterVec::new(
        Opts::new("hearth_rate_limited_total", "Requests and commands refused by a rate-limit rule, by rule"),
        &["rule"],
    )
    .unwrap_or_else(|_| unreachable_metric("hearth_rate_limited_total"));
    let _ = REGISTRY.register(Box::new(c.clone()));
    c
});

/// Make each rate-limit rule show (at 0) before its first hit. The limiter
/// calls this with its rule names, so this module needs none of its own.
pub fn register_rate_limit_rules<'a>(rules: impl IntoIterator<Item = &'a str>) {
    for rule in rules {
        let _ = RATE_LIMITED.with_label_values(&[rule]);
    }
}
/// Voice rooms (voice channels with at least one participant).
pub static VOICE_ROOMS: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("hearth_voice_rooms", "Voice rooms with at least one participant"));
/// Voice participants on the server.
pub static VOICE_PARTICIPANTS: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("hearth_voice_participants", "Participants in voice rooms"));
/// Datagrams received on the voice port and routed to a participant.
pub static VOICE_DATAGRAMS_IN: LazyLock<IntCounter> =
    LazyLock::new(|| counter("hearth_voice_datagrams_received_total", "Datagrams routed to a voice participant"));
/// Audio packets forwarded to participants.
pub static VOICE_PACKETS_FORWARDED: LazyLock<IntCounter> =
    LazyLock::new(|| counter("hearth_voice_packets_forwarded_total", "Audio packets forwarded to voice participants"));
/// Datagrams dropped before reaching a participant, by reason.
pub static VOICE_DATAGRAMS_DROPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let c = IntCounterVec::new(
        Opts::new(
            "hearth_voice_datagrams_dropped_total",
            "Datagrams on the voice port dropped: unroutable (no participant), oversized, room_busy (room queue full)",
        ),
        &["reason"],
    )
    .unwrap_or_else(|_| unreachable_metric("hearth_voice_datagrams_dropped_total"));
    let _ = REGISTRY.register(Box::new(c.clone()));
    for r in ["unroutable", "oversized", "room_busy"] {
        let _ = c.with_label_values(&[r]);
    }
    c
});
/// Size of the database file, set on each scrape.
pub static STORE_BYTES: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("hearth_store_file_bytes", "Size of the database file in bytes"));

/// The storage page cache's bound (`--cache-mib`), set at start.
pub static STORE_CACHE_LIMIT: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge("hearth_store_cache_limit_bytes", "Most bytes the storage page cache may hold (--cache-mib)")
});
/// Bytes in the storage page cache, set on each scrape.
pub static STORE_CACHE_USED: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("hearth_store_cache_used_bytes", "Bytes in the storage page cache"));
/// Replay buffers by session state, set on each scrape.
pub static REPLAY_BYTES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    let g = IntGaugeVec::new(
        Opts::new(
            "hearth_replay_bytes",
            "Encoded bytes of the frames held for Resume, by session state: attached (a connection is open) or detached",
        ),
        &["state"],
    )
    .unwrap_or_else(|_| unreachable_metric("hearth_replay_bytes"));
    let _ = REGISTRY.register(Box::new(g.clone()));
    g
});
/// Frames held in replay buffers, set on each scrape.
pub static REPLAY_FRAMES: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("hearth_replay_frames", "Frames held for Resume in every session's replay buffer"));
/// Bytes queued to connections and not yet written, set on each scrape.
pub static OUTBOUND_BYTES: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("hearth_outbound_bytes", "Bytes queued to gateway connections and not yet written"));
/// Entries of the in-memory indexes keyed by ids or addresses, set on each scrape.
pub static INDEX_ENTRIES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    let g = IntGaugeVec::new(
        Opts::new(
            "hearth_index_entries",
            "Entries of in-memory indexes: online_users, resumable_sessions, connection_ips, rate_limit_keys, channel_actors, guild_actors",
        ),
        &["index"],
    )
    .unwrap_or_else(|_| unreachable_metric("hearth_index_entries"));
    let _ = REGISTRY.register(Box::new(g.clone()));
    g
});

/// What the gateway's sessions hold, for the memory gauges (see [`observe_memory`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GatewayMemory {
    /// Replay bytes of sessions with a connection.
    pub replay_bytes_attached: u64,
    /// Replay bytes of detached (resumable) sessions.
    pub replay_bytes_detached: u64,
    /// Frames in every replay buffer.
    pub replay_frames: u64,
    /// Bytes queued to connections.
    pub outbound_bytes: u64,
    /// Users with at least one live session.
    pub online_users: u64,
    /// Sessions findable by their resume key.
    pub resumable_sessions: u64,
    /// Client addresses holding gateway connections.
    pub connection_ips: u64,
    /// Keys held by the rate limiters (set by the caller, not by `Online`).
    pub rate_limit_keys: u64,
}

/// Set the memory gauges (storage cache, replay, outbound, indexes); called
/// before rendering a scrape. `actors` is (channel actors, guild actors) in the registry.
pub fn observe_memory(m: GatewayMemory, cache_used: u64, actors: (usize, usize)) {
    let r = &*REPLAY_BYTES;
    r.with_label_values(&["attached"]).set(clamp(m.replay_bytes_attached));
    r.with_label_values(&["detached"]).set(clamp(m.replay_bytes_detached));
    REPLAY_FRAMES.set(clamp(m.replay_frames));
    OUTBOUND_BYTES.set(clamp(m.outbound_bytes));
    STORE_CACHE_USED.set(clamp(cache_used));
    let i = &*INDEX_ENTRIES;
    i.with_label_values(&["online_users"]).set(clamp(m.online_users));
    i.with_label_values(&["resumable_sessions"]).set(clamp(m.resumable_sessions));
    i.with_label_values(&["connection_ips"]).set(clamp(m.connection_ips));
    i.with_label_values(&["rate_limit_keys"]).set(clamp(m.rate_limit_keys));
    i.with_label_values(&["channel_actors"]).set(clamp(actors.0 as u64));
    i.with_label_values(&["guild_actors"]).set(clamp(actors.1 as u64));
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The process_* metrics (CPU, memory, file descriptors, threads, start time)
/// of this process, read from /proc on each scrape (Linux only).
static PROCESS: LazyLock<()> = LazyLock::new(|| {
    #[cfg(target_os = "linux")]
    {
        let _ = REGISTRY.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()));
    }
});

/// Counts for [`SESSION_STATES`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStates {
    /// Connections open and not (yet) identified or resumed.
    pub awaiting_identify: i64,
    /// Sessions whose IDENTIFY was accepted and whose READY is being assembled.
    pub identifying: i64,
    /// Identified sessions with a live connection.
    pub connected: i64,
    /// Identified sessions without a connection, resumable until the grace period ends.
    pub detached: i64,
}

/// Set [`SESSION_STATES`] and [`STORE_BYTES`]; called before rendering a scrape.
pub fn observe_state(states: SessionStates, store_bytes: Option<u64>) {
    let g = &*SESSION_STATES;
    g.with_label_values(&["awaiting_identify"]).set(states.awaiting_identify);
    g.with_label_values(&["identifying"]).set(states.identifying);
    g.with_label_values(&["connected"]).set(states.connected);
    g.with_label_values(&["detached"]).set(states.detached);
    if let Some(bytes) = store_bytes {
        STORE_BYTES.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
}

/// Record one group commit.
pub fn observe_commit(batch: u64, took: Duration) {
    COMMIT_BATCH.observe(batch as f64);
    COMMIT_SECONDS.observe(took.as_secs_f64());
}

/// Render every metric in the Prometheus text format.
pub fn render() -> String {
    // Touch the lazies so every metric appears even before first use.
    let _ = (&*CONNECTIONS, &*SESSIONS, &*EVENTS, &*DELIVERIES, &*BYTES_SENT, &*SLOW_READERS);
    let _ = (&*MESSAGES, &*CHANNEL_ACTORS, &*GUILD_ACTORS, &*COMMIT_BATCH, &*COMMIT_SECONDS);
    let _ = (&*HTTP_REQUESTS, &*SESSION_STATES, &*RATE_LIMITED, &*STORE_BYTES, &*PROCESS);
    let _ = (&*VOICE_ROOMS, &*VOICE_PARTICIPANTS, &*VOICE_DATAGRAMS_IN, &*VOICE_PACKETS_FORWARDED);
    let _ = &*VOICE_DATAGRAMS_DROPPED;
    let _ = (&*STORE_CACHE_LIMIT, &*STORE_CACHE_USED, &*REPLAY_BYTES, &*REPLAY_FRAMES, &*OUTBOUND_BYTES);
    let _ = &*INDEX_ENTRIES;
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&REGISTRY.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn all_metrics_register_and_render() {
        let out = super::render();
        for name in [
            "hearth_gateway_sessions",
            "hearth_store_commit_batch_size",
            "hearth_deliveries_total",
            "hearth_rate_limited_total{rule=\"login_per_ip\"} ",
            "hearth_store_file_bytes",
            "hearth_store_cache_limit_bytes",
            "hearth_store_cache_used_bytes",
            "hearth_replay_frames",
            "hearth_outbound_bytes",
        ] {
            assert!(out.contains(name), "{name} missing");
        }
        #[cfg(target_os = "linux")]
        for name in ["process_resident_memory_bytes", "process_open_fds", "process_cpu_seconds_total"] {
            assert!(out.contains(name), "{name} missing");
        }
    }
}
