//! Starting and stopping the server.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix::Actor;
use actix_web::{middleware, web, App, HttpServer};

use crate::actors::hub::{Hub, WorkerHub};
use crate::actors::session::Kick;
use crate::config::Config;
use crate::core::Core;
use crate::model::ids::IdGenerator;
use crate::store::Store;

/// A bind error that names the address (the OS error alone does not).
fn cannot_listen(addr: std::net::SocketAddr, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))
}

/// Say how large the storage cache is and why (docs/operations.md, "Sizing").
fn log_cache(cache: &crate::config::memory::CacheSize) {
    use crate::config::memory::{LimitSource, MIB};
    match cache.derived_from {
        None => tracing::info!(mib = cache.mib, "storage cache set by cache_mib"),
        Some(None) => tracing::info!(mib = cache.mib, "storage cache: memory limit unknown, using the default"),
        Some(Some(limit)) => {
            let of = match limit.source {
                LimitSource::Cgroup => "the cgroup's memory limit",
                LimitSource::Ram => "the machine's RAM",
            };
            tracing::info!(mib = cache.mib, limit_mib = limit.bytes / MIB, "storage cache derived from {of}");
        }
    }
}

/// Run the server until SIGINT/SIGTERM. Prints `listening on ADDR` once bound
/// (after `metrics listening on ADDR` with `--metrics-bind`).
pub async fn run(config: Config) -> io::Result<()> {
    // Unusable certificate files stop the server before the store is opened.
    let tls = crate::tls::Tls::from_config(config.tls_cert.as_deref(), config.tls_key.as_deref())
        .map_err(io::Error::other)?
        .map(Arc::new);
    let ids = Arc::new(IdGenerator::new(0));
    let cache = config.cache_size();
    let store = Store::open_with_cache(&config.data, ids, cache.bytes()).map_err(|e| {
        // Keep the OS error's kind (permission denied, ...) for the startup message's hint.
        let kind = match &e {
            crate::store::StoreError::DataDir { source, .. } => source.kind(),
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e.to_string())
    })?;
    log_cache(&cache);
    crate::metrics::STORE_CACHE_LIMIT.set(i64::try_from(cache.bytes()).unwrap_or(i64::MAX));
    let workers = config.worker_count();
    let mut config = config;
    config.workers = workers;
    let voice = crate::voice::VoiceNet::start(&config)?;
    if let Some(v) = &voice {
        // Printed before `listening on`, so a script that waits for that has seen it.
        println!("voice listening on {} (advertised {})", v.local, v.advertised);
        tracing::info!(bind = %v.local, advertised = %v.advertised, "voice UDP socket");
    }
    let core = Core::with_voice(store.clone(), config.clone(), voice);
    let next_worker = Arc::new(AtomicUsize::new(0));
    let tcp_user_timeout = std::time::Duration::from_secs(config.tcp_user_timeout_secs.max(1));
    let core_for_shutdown = core.clone();
    let core_data = web::Data::new(core);
    let metrics_core = core_data.clone();
    // /metrics, /healthz and /readyz: on their own listener with --metrics-bind, else here.
    let meta_here = config.metrics_bind.is_none();
    let server = HttpServer::new(move || {
        // Runs once per worker thread: one delivery hub per worker.
        let worker = next_worker.fetch_add(1, Ordering::Relaxed);
        let hub = WorkerHub { worker, addr: Hub::new(worker).start() };
        App::new()
            .app_data(core_data.clone())
            .app_data(web::Data::new(hub))
            .wrap(middleware::Compress::default())
            .wrap(middleware::from_fn(crate::http::security_headers))
            // Outermost: every request (REST, gateway upgrade, /metrics) gets an id and an access-log line.
            .wrap(middleware::from_fn(crate::http::request_id::middleware))
            .configure(|cfg| {
                if meta_here {
                    crate::http::meta::routes(cfg);
                }
            })
            .configure(crate::http::configure)
    })
    .on_connect(move |conn, _| {
        type TlsStream = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
        let tcp = conn
            .downcast_ref::<actix_web::rt::net::TcpStream>()
            .or_else(|| conn.downcast_ref::<TlsStream>().map(|tls| (**tls).get_ref().0));
        if let Some(tcp) = tcp {
            // Gateway frames are small and latency-sensitive: no Nagle delay.
            let _ = tcp.set_nodelay(true);
            // A peer that stops reading freezes its session actor (the socket
            // never drains, so the actor is never polled again). The kernel
            // then drops the connection once sent data stays unacknowledged
            // (or the window stays closed) this long, which frees it.
            let _ = socket2::SockRef::from(tcp).set_tcp_user_timeout(Some(tcp_user_timeout));
        }
    })
    .workers(workers)
    // No lingering once a response is complete: after a WebSocket close
    // handshake the server must close TCP first and at once (RFC 6455 §7.1.1),
    // but actix-http would wait up to this timeout for the client to close
    // (which it rightly does not), and a short nonzero timeout can leave that
    // wait without a wake-up (its deadline comes from a clock cached for
    // 500 ms, and an already-expired timer registers no waker).
    .client_disconnect_timeout(std::time::Duration::ZERO)
    .shutdown_timeout(config.shutdown_timeout_secs)
    .disable_signals();
    let server = match &tls {
        Some(tls) => server.bind_rustls_0_23(config.bind, tls.server_config().map_err(io::Error::other)?),
        None => server.bind(config.bind),
    }
    .map_err(|e| cannot_listen(config.bind, e))?;
    let metrics_server = match config.metrics_bind {
        Some(bind) => {
            let s = HttpServer::new(move || {
                App::new()
                    .app_data(metrics_core.clone())
                    .wrap(middleware::from_fn(crate::http::security_headers))
                    .wrap(middleware::from_fn(crate::http::request_id::middleware))
                    .configure(crate::http::meta::routes)
            })
            .workers(1)
            .shutdown_timeout(config.shutdown_timeout_secs)
            .disable_signals()
            .bind(bind)
            .map_err(|e| cannot_listen(bind, e))?;
            for addr in s.addrs() {
                // Printed before `listening on`, so a script that waits for that has seen it.
                println!("metrics listening on {addr}");
                tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
            }
            Some(s)
        }
        None => None,
    };
    let metrics_addrs = metrics_server.as_ref().map(HttpServer::addrs);
    let metrics_server = metrics_server.map(HttpServer::run);
    let addrs = server.addrs();
    for addr in &addrs {
        // Tests and scripts read this line to find an ephemeral port.
        println!("listening on {addr}");
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, scheme, data = %config.data.display(), workers, "listening");
    }
    let server = server.run();
    if let Some(tls) = &tls {
        tls.clone().reload_on_sighup()?;
    }
    // The watchdog checks /readyz where it is served.
    let (probe_addrs, probe_tls) = match (&metrics_addrs, &tls) {
        (Some(m), _) => (m.clone(), None),
        (None, Some(_)) => (addrs.clone(), Some(crate::tls::probe_client_config().map_err(io::Error::other)?)),
        (None, None) => (addrs.clone(), None),
    };
    let metrics_handle = metrics_server.as_ref().map(actix_web::dev::Server::handle);
    if let Some(s) = metrics_server {
        actix_web::rt::spawn(s);
    }
    crate::service::ready(&addrs);
    crate::service::spawn_watchdog(store.clone(), &probe_addrs, probe_tls);
    let prune_core = core_for_shutdown.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            prune_core.limits.prune();
        }
    });
    let handle = server.handle();
    let shutdown_core = core_for_shutdown.clone();
    actix_web::rt::spawn(async move {
        wait_for_signal().await;
        crate::service::stopping();
        // /readyz answers 503 from here on (load balancers drain us first).
        shutdown_core.readiness.stop_accepting();
        tracing::info!("shutting down: telling sessions to reconnect");
        // Sessions get RECONNECT and a close; then the server stops accepting
        // and waits (up to the shutdown timeout) for requests in flight.
        shutdown_core.online.kick_all(Kick::Shutdown);
        handle.stop(true).await;
        if let Some(h) = metrics_handle {
            h.stop(true).await;
        }
    });
    let result = server.await;
    // Everything queued to the writer is committed before it stops.
    store.shutdown();
    store.wait_closed();
    tracing::info!("stopped");
    result
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
