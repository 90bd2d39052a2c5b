//! Operational endpoints: health and metrics.

use std::sync::Arc;

use actix_web::{web, HttpResponse};

use crate::core::Core;

/// Routes of this module (outside /api/v1): on the main listener, or alone
/// on `--metrics-bind`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// 200 `ready` while the server accepts work and the store commits writes;
/// 503 with a one-line reason (`shutting down`, `storage not writable: ...`) otherwise.
async fn readyz(core: web::Data<Arc<Core>>) -> HttpResponse {
    match core.readiness.check(&core.store).await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ready\n"),
        Err(why) => HttpResponse::ServiceUnavailable().content_type("text/plain").body(format!("{why}\n")),
    }
}

async fn metrics(core: web::Data<Arc<Core>>) -> HttpResponse {
    // Gauges that are cheaper to compute on a scrape than to keep current.
    let states = core.online.session_states(crate::metrics::CONNECTIONS.get());
    let db = core.config.data.join(crate::store::DB_FILE);
    crate::metrics::observe_state(states, std::fs::metadata(db).ok().map(|m| m.len()));
    let memory = crate::metrics::GatewayMemory { rate_limit_keys: core.limits.keys() as u64, ..core.online.memory() };
    crate::metrics::observe_memory(memory, core.store.cache_used_bytes(), core.registry.sizes());
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(crate::metrics::render())
}
