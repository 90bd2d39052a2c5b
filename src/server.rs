//! Starting and stopping the server.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix::Actor;
use actix_web::{middleware, web, App, HttpServer};

use crate::actors::hub::{Hub, WorkerHub};
use crate::actors::session::Kick;
use crate::actors::Core;
use crate::config::Config;
use crate::model::ids::IdGenerator;
use crate::store::Store;

/// Run the server until SIGINT/SIGTERM. Prints `listening on ADDR` once bound.
pub async fn run(config: Config) -> io::Result<()> {
    let ids = Arc::new(IdGenerator::new(0));
    let store = Store::open(&config.data, ids).map_err(|e| io::Error::other(e.to_string()))?;
    let workers = config.worker_count();
    let mut config = config;
    config.workers = workers;
    let core = Core::new(store.clone(), config.clone());
    let next_worker = Arc::new(AtomicUsize::new(0));
    let tcp_user_timeout = std::time::Duration::from_secs(config.tcp_user_timeout_secs.max(1));
    let core_for_shutdown = core.clone();
    let core_data = web::Data::new(core);
    let server = HttpServer::new(move || {
        // Runs once per worker thread: one delivery hub per worker.
        let worker = next_worker.fetch_add(1, Ordering::Relaxed);
        let hub = WorkerHub { worker, addr: Hub::new(worker).start() };
        App::new()
            .app_data(core_data.clone())
            .app_data(web::Data::new(hub))
            .wrap(middleware::Compress::default())
            .configure(crate::http::configure)
    })
    .on_connect(move |conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
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
    .shutdown_timeout(config.shutdown_timeout_secs)
    .disable_signals()
    .bind(config.bind)?;
    let addrs = server.addrs();
    for addr in &addrs {
        // Tests and scripts read this line to find an ephemeral port.
        println!("listening on {addr}");
        tracing::info!(%addr, data = %config.data.display(), workers, "listening");
    }
    let server = server.run();
    crate::service::ready(&addrs);
    crate::service::spawn_watchdog(store.clone(), &addrs);
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
        tracing::info!("shutting down: telling sessions to reconnect");
        // Sessions get RECONNECT and a close; then the server stops accepting
        // and waits (up to the shutdown timeout) for requests in flight.
        shutdown_core.online.kick_all(Kick::Shutdown);
        handle.stop(true).await;
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
