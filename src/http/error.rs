//! AppError → HTTP response, and JSON answers for framework-level errors.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::errors::{AppError, ErrorCode};

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        if let Some(ms) = self.retry_after_ms {
            // Retry-After is in whole seconds, rounded up.
            r.insert_header((actix_web::http::header::RETRY_AFTER, ms.div_ceil(1000).to_string()));
        }
        r.json(Body { code: self.code.as_str(), message: &self.message, retry_after_ms: self.retry_after_ms })
    }
}

/// The answer for unknown routes.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::new(ErrorCode::NotFound, "no such route"))
}

/// The answer for a known route with an unsupported method.
pub async fn method_not_allowed() -> Result<HttpResponse, AppError> {
    Err(AppError::new(ErrorCode::MethodNotAllowed, "this route does not support that method"))
}
