//! Starting and stopping the server.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix::Actor;
use actix_web::{middleware, web, App, HttpServer};

use crate::actors::hub::{Hub, WorkerHub};
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
    let core_data = web::Data::new(core);
    let server = HttpServer::new(move || {
        // Runs once per worker thread: one delivery hub per worker.
        let worker = next_worker.fetch_add(1, Ordering::Relaxed);
        let hub = WorkerHub {
            worker,
            addr: Hub::new(worker).start(),
        };
        App::new()
            .app_data(core_data.clone())
            .app_data(web::Data::new(hub))
            .wrap(middleware::Compress::default())
            .configure(crate::http::configure)
    })
    .workers(workers)
    .bind(config.bind)?;
    for addr in server.addrs() {
        // Tests and scripts read this line to find an ephemeral port.
        println!("listening on {addr}");
        tracing::info!(%addr, data = %config.data.display(), workers, "listening");
    }
    let result = server.run().await;
    store.shutdown();
    result
}
