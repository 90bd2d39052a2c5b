//! Request extractors: the bearer-token caller, and bodies in JSON or MessagePack.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::auth::token_hash;
use crate::core::Core;
use crate::errors::{AppError, ErrorCode};
use crate::logging::Redacted;
use crate::model::{TokenRecord, User};
use crate::protocol::codec::{decode_strict, Encoding};
use crate::protocol::limits::MAX_BODY_BYTES;
use crate::store::Read;

/// The authenticated caller.
pub struct Caller {
    /// Their user record.
    pub user: User,
    /// The login session the token belongs to.
    pub token: TokenRecord,
}

/// The token of an `Authorization: Bearer <token>` header, kept [`Redacted`]
/// so that it cannot end up in a log line by accident. The one reader of the
/// header: authentication, the per-token rate limit and the admin endpoint.
pub fn bearer_token(headers: &actix_web::http::header::HeaderMap) -> Option<Redacted<&str>> {
    let header = headers.get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?;
    bearer(header).map(Redacted::new)
}

/// The token of an `Authorization` value `Bearer <token>` (docs/api.md: the
/// scheme `Bearer` or `bearer`), trimmed; None for anything else or no token.
fn bearer(value: &str) -> Option<&str> {
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
    (!token.is_empty()).then_some(token)
}

fn core(req: &HttpRequest) -> Result<Arc<Core>, AppError> {
    req.app_data::<web::Data<Arc<Core>>>().map(|d| d.get_ref().clone()).ok_or_else(AppError::internal)
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = std::future::Ready<Result<Caller, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready((|| {
            let token = bearer_token(req.headers()).ok_or_else(AppError::unauthorized)?;
            let core = core(req)?;
            let r = core.store.read()?;
            let token = r.token(&token_hash(token.expose()))?.ok_or_else(AppError::unauthorized)?;
            let rec = r.user_record(token.user_id)?.ok_or_else(AppError::unauthorized)?;
            if rec.disabled {
                return Err(AppError::account_disabled());
            }
            Ok(Caller { user: rec.user, token })
        })())
    }
}

/// A request body: JSON (`application/json`, also the default without a
/// Content-Type) or MessagePack (`application/msgpack`), at most
/// `MAX_BODY_BYTES`, decoded strictly (see [`decode_strict`]). Unknown fields
/// are ignored.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Body<T>, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let ct = req.content_type().to_ascii_lowercase();
        let msgpack = match ct.as_str() {
            "" | "application/json" => false,
            "application/msgpack" | "application/x-msgpack" | "application/vnd.msgpack" => true,
            _ => {
                // The header is not quoted back: error messages never echo request headers.
                let e = AppError::new(
                    ErrorCode::UnsupportedMediaType,
                    "this Content-Type is not supported; use application/json or application/msgpack",
                );
                return Box::pin(async move { Err(e) });
            }
        };
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            let too_large =
                || AppError::new(ErrorCode::PayloadTooLarge, format!("body larger than {MAX_BODY_BYTES} bytes"));
            if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
                return Err(too_large());
            }
            let mut buf = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| AppError::invalid(format!("could not read body: {e}")))?;
                if buf.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(too_large());
                }
                buf.extend_from_slice(&chunk);
            }
            let enc = if msgpack { Encoding::MsgPack } else { Encoding::Json };
            // An empty JSON body counts as `{}`.
            let bytes: &[u8] = if !msgpack && buf.is_empty() { b"{}" } else { &buf };
            decode_strict(bytes, enc).map(Body).map_err(|e| AppError::invalid(format!("invalid body: {e}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_values() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("Bearer  abc "), Some("abc"));
        assert_eq!(bearer("BEARER abc"), None, "only the two documented spellings");
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Basic YWxhZGRpbjpvcGVu"), None);
        assert_eq!(bearer("Bearerabc"), None);
        assert_eq!(bearer(""), None);
    }
}
