//! GET /gateway: the WebSocket upgrade into a session actor.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws;

use crate::actors::hub::WorkerHub;
use crate::actors::session::Session;
use crate::core::Core;
use crate::errors::{AppError, ErrorCode};
use crate::protocol::limits::MAX_FRAME_BYTES;
use crate::protocol::{CloseCode, Encoding, PROTOCOL_VERSION};

/// Upgrade to a gateway session. `?v=1` (default 1) and `?encoding=msgpack|json`
/// (default msgpack). A bad value upgrades and then closes with 4012 / 4023,
/// because browsers cannot read an HTTP error on a failed upgrade.
pub async fn upgrade(
    req: HttpRequest,
    stream: web::Payload,
    core: web::Data<Arc<Core>>,
    hub: web::Data<WorkerHub>,
) -> Result<HttpResponse, actix_web::Error> {
    let q: HashMap<String, String> = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let encoding = q.get("encoding").map(|e| Encoding::from_query(e));
    let version_ok = q.get("v").is_none_or(|v| v.parse::<u8>().ok() == Some(PROTOCOL_VERSION));
    let ip = super::client_ip::of_request(req.peer_addr(), req.headers(), &core.config.trusted_proxies);
    let header = |name| req.headers().get(name).and_then(|v: &actix_web::http::header::HeaderValue| v.to_str().ok());
    if !super::origin::allowed(header(header::ORIGIN), header(header::HOST), &core.config.allowed_origins) {
        return Err(
            AppError::new(ErrorCode::ForbiddenOrigin, "this web origin may not open gateway connections").into()
        );
    }
    let Some(slot) = core.online.connection_slot(ip, core.config.max_connections_per_ip) else {
        return Err(
            AppError::new(ErrorCode::TooManyConnections, "too many gateway connections from this address").into()
        );
    };
    let mut session = Session::new(
        core.get_ref().clone(),
        hub.get_ref().clone(),
        encoding.flatten().unwrap_or(Encoding::MsgPack),
        ip,
    );
    if !version_ok {
        session = session.refused(CloseCode::InvalidApiVersion, "unsupported protocol version; use v=1");
    } else if matches!(encoding, Some(None)) {
        session = session.refused(CloseCode::InvalidEncoding, "encoding must be msgpack or json");
    }
    let session = session.holding(slot);
    ws::WsResponseBuilder::new(session, &req, stream).frame_size(MAX_FRAME_BYTES).start()
}
