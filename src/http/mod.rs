//! HTTP: the REST API under /api/v1 (one module per resource), the gateway
//! upgrade at /gateway, and operational endpoints.

pub mod access;
pub mod accounts;
pub mod channels;
pub mod dms;
pub mod error;
pub mod extract;
pub mod gateway;
pub mod guilds;
pub mod invites;
pub mod members;
pub mod messages;
pub mod meta;
pub mod roles;

use actix_web::web;

use crate::errors::AppError;

/// Mount every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::PathConfig::default()
            .error_handler(|_, _| AppError::new("not_found", "no such resource").into()),
    )
    .app_data(
        web::QueryConfig::default().error_handler(|e, _| {
            AppError::new("invalid_query", format!("invalid query: {e}")).into()
        }),
    )
    .route("/gateway", web::get().to(gateway::upgrade))
    .configure(meta::routes)
    .service(
        web::scope("/api/v1")
            .configure(accounts::routes)
            .configure(guilds::routes)
            .configure(members::routes)
            .configure(roles::routes)
            .configure(channels::routes)
            .configure(messages::routes)
            .configure(invites::routes)
            .configure(dms::routes),
    )
    .default_service(web::to(error::not_found));
}
