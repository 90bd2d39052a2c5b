//! HTTP: the REST API under /api/v1 (one module per resource), the gateway
//! upgrade at /gateway, operational endpoints, and the embedded web client.

pub mod accounts;
pub mod admin;
pub mod channels;
pub mod client_ip;
pub mod dms;
pub mod error;
pub mod extract;
pub mod gateway;
pub mod guilds;
pub mod invites;
pub mod members;
pub mod messages;
pub mod meta;
pub mod origin;
pub mod reactions;
pub mod relationships;
pub mod request_id;
pub mod roles;
pub mod web_client;

use actix_web::web;

use crate::errors::{AppError, ErrorCode};

/// Collects the REST routes so that a known path with an unsupported method
/// answers 405 method_not_allowed (not 404).
pub struct Routes<'a> {
    cfg: &'a mut web::ServiceConfig,
    paths: Vec<&'static str>,
}

impl Routes<'_> {
    /// Register `route` at `path` (relative to /api/v1).
    pub fn route(&mut self, path: &'static str, route: actix_web::Route) -> &mut Self {
        self.cfg.route(path, route);
        if !self.paths.contains(&path) {
            self.paths.push(path);
        }
        self
    }

    /// After every real route: a method-less fallback per path.
    fn finish(self) {
        for p in self.paths {
            self.cfg.route(p, web::route().to(error::method_not_allowed));
        }
    }
}

/// REST requests per IP and per token (`REST_PER_IP`, `REST_PER_TOKEN`): 429 past them.
async fn rate_limit(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let core = req.app_data::<web::Data<std::sync::Arc<crate::core::Core>>>().cloned();
    if let (Some(core), Some(peer)) = (core, req.peer_addr()) {
        let ip = client_ip::of_request(Some(peer), req.headers(), &core.config.trusted_proxies);
        let token = extract::bearer_token(req.headers());
        if let Err(e) = core.limits.rest(ip, token.map(|t| *t.expose())) {
            return Ok(req.error_response(e));
        }
    }
    let res = next.call(req).await?;
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    crate::metrics::HTTP_REQUESTS.with_label_values(&[route.as_str(), res.status().as_str()]).inc();
    Ok(res.map_into_boxed_body())
}

/// Headers every response carries (docs/api.md, "Responses"), set where a
/// handler did not set its own (the web client's pages and files choose their
/// caching and Content-Security-Policy):
///
/// * `X-Content-Type-Options: nosniff`: a JSON error quoting client input is
///   never sniffed into HTML or script;
/// * `Cache-Control: no-store`: tokens and private data stay out of browser
///   and proxy caches;
/// * `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY` and a
///   `Content-Security-Policy` of `default-src 'none'; frame-ancestors 'none'`:
///   nothing the API answers can be framed, run scripts or leak its URL.
pub async fn security_headers(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::header::{self, HeaderValue};
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    Ok(res)
}

/// Mount every route except the operational ones ([`meta::routes`]), which
/// the server mounts here or on `--metrics-bind`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::PathConfig::default().error_handler(|_, _| AppError::new(ErrorCode::NotFound, "no such resource").into()),
    )
    .app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| AppError::new(ErrorCode::InvalidQuery, format!("invalid query: {e}")).into()),
    )
    .route("/gateway", web::get().to(gateway::upgrade))
    .route("/admin/backup", web::post().to(admin::backup))
    .service(web::scope("/api/v1").wrap(actix_web::middleware::from_fn(rate_limit)).configure(|cfg| {
        let mut r = Routes { cfg, paths: Vec::new() };
        accounts::routes(&mut r);
        guilds::routes(&mut r);
        members::routes(&mut r);
        roles::routes(&mut r);
        channels::routes(&mut r);
        messages::routes(&mut r);
        reactions::routes(&mut r);
        invites::routes(&mut r);
        dms::routes(&mut r);
        relationships::routes(&mut r);
        r.finish();
    }))
    .configure(web_client::routes)
    .default_service(web::to(error::not_found));
}
