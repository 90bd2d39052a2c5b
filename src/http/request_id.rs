//! Request ids and the access log.
//!
//! Every HTTP request (REST, the gateway upgrade, operational endpoints) gets
//! a short id: the client's `X-Request-Id` if it is at most
//! [`MAX_INCOMING_LEN`] letters, digits and dashes (a proxy's `$request_id` or
//! a UUID), else a process-unique base-36 counter. The handler runs inside a
//! `request{id method route}` span, so every line it logs carries the id; one
//! line per request (target `hearth::access`: status and duration) is logged
//! when the response head is ready, and the id is returned in `X-Request-Id`.
//!
//! Only the route pattern (`/api/v1/invites/{code}`) is logged, never the
//! path itself, the query string, headers or bodies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use tracing::Instrument;

/// The request and response header carrying the id.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied id accepted (a UUID with dashes).
pub const MAX_INCOMING_LEN: usize = 36;

/// The id of the current request, also in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// `n` in base 36 (digits and lowercase letters).
fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(13);
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A client-supplied id, if it is short and safe to log.
fn incoming(v: &HeaderValue) -> Option<String> {
    let b = v.as_bytes();
    let ok = (1..=MAX_INCOMING_LEN).contains(&b.len()) && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-');
    ok.then(|| String::from_utf8_lossy(b).into_owned())
}

/// The middleware (mounted with `middleware::from_fn` on the App).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(incoming)
        .unwrap_or_else(|| base36(NEXT_ID.fetch_add(1, Ordering::Relaxed)));
    let method = req.method().clone();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    req.extensions_mut().insert(RequestId(id.clone()));
    // (No clone of the request may be held across the call: routing needs it unshared.)
    let res = next.call(req).instrument(span.clone()).await;
    let status = match &res {
        Ok(res) => res.status(),
        // Handlers' errors are already responses; this is an inner middleware's
        // error, which actix turns into a response (without the header) later.
        Err(e) => e.as_response_error().status_code(),
    };
    access_log(&span, status.as_u16(), started);
    let mut res = res?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, v);
    }
    Ok(res)
}

/// The one line per request.
fn access_log(span: &tracing::Span, status: u16, started: Instant) {
    let ms = started.elapsed().as_micros() as f64 / 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(target: "hearth::access", status, ms, "request failed");
        } else {
            tracing::info!(target: "hearth::access", status, ms, "finished");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_base36_and_incoming_ids_are_checked() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(u64::MAX), "3w5e11264sgsf");
        let hv = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(incoming(&hv("abc123")).as_deref(), Some("abc123"));
        assert_eq!(
            incoming(&hv("123e4567-e89b-12d3-a456-426614174000")).as_deref(),
            Some("123e4567-e89b-12d3-a456-426614174000")
        );
        assert_eq!(incoming(&hv("")), None);
        assert_eq!(incoming(&hv("a b")), None);
        assert_eq!(incoming(&hv("x\"}{")), None);
        assert_eq!(incoming(&hv("0123456789012345678901234567890123456")), None);
    }
}
