//! The embedded web client (`src/web/`): its files are compiled into the
//! binary, so `hearth serve` is all a community needs to chat from a browser.
//!
//! Pages (`/` and the client's own routes such as `/invite/{code}`) all answer
//! with `index.html`; the client reads the path itself. Every answer carries
//! a strict Content-Security-Policy, so even a rendering bug in the client
//! cannot run injected script. Files are revalidated by ETag (their content
//! hash) because their names are not hashed: a new binary must never leave a
//! browser running a mix of old and new modules.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::errors::{AppError, ErrorCode};

/// One embedded file: its path under `src/web/`, Content-Type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $ct:expr) => {
        Asset { path: $path, content_type: $ct, body: include_bytes!(concat!("../web/", $path)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of `src/web/` (a unit test keeps this list complete).
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("js/actions.js", JS),
    asset!("js/api.js", JS),
    asset!("js/app.js", JS),
    asset!("js/auth.js", JS),
    asset!("js/autocomplete.js", JS),
    asset!("js/chat.js", JS),
    asset!("js/dialogs.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/embeds.js", JS),
    asset!("js/emoji.js", JS),
    asset!("js/friends.js", JS),
    asset!("js/gateway.js", JS),
    asset!("js/markdown.js", JS),
    asset!("js/members.js", JS),
    asset!("js/permissions.js", JS),
    asset!("js/settings.js", JS),
    asset!("js/sidebar.js", JS),
    asset!("js/state.js", JS),
    asset!("js/voice.js", JS),
];

/// Strong ETags, one per asset in `ASSETS` order: a hash of the content.
static ETAGS: LazyLock<Vec<String>> =
    LazyLock::new(|| ASSETS.iter().map(|a| format!("\"{}\"", hex::encode(&Sha256::digest(a.body)[..12]))).collect());

/// Mount the client's pages and files at the root.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page))
        .route("/login", web::get().to(page))
        .route("/register", web::get().to(page))
        .route("/invite/{code}", web::get().to(page))
        .route("/channels/{guild}", web::get().to(page))
        .route("/channels/{guild}/{channel}", web::get().to(page))
        // A message link (the client's "Copy message link").
        .route("/channels/{guild}/{channel}/{message}", web::get().to(page))
        .route("/assets/{file}", web::get().to(file))
        .route("/assets/js/{file}", web::get().to(file));
}

/// Any client route: the single page, which routes by `location.pathname`.
async fn page(req: HttpRequest) -> HttpResponse {
    serve(&req, ASSETS.iter().position(|a| a.path == "index.html").unwrap_or_default())
}

/// A file under `/assets/`.
async fn file(req: HttpRequest) -> Result<HttpResponse, AppError> {
    let wanted = req.path().strip_prefix("/assets/").unwrap_or_default();
    // index.html is a page, not an asset: it is only served with page headers.
    match ASSETS.iter().position(|a| a.path == wanted && a.path != "index.html") {
        Some(i) => Ok(serve(&req, i)),
        None => Err(AppError::new(ErrorCode::NotFound, "no such file")),
    }
}

fn serve(req: &HttpRequest, i: usize) -> HttpResponse {
    let (Some(asset), Some(etag)) = (ASSETS.get(i), ETAGS.get(i)) else {
        return HttpResponse::NotFound().finish();
    };
    let unchanged = if_none_match(req, etag);
    let mut res = if unchanged { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    res.insert_header((header::ETAG, etag.as_str()))
        // Revalidate every time (a cheap 304): names are stable across versions.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Invite codes live in page URLs; they must not leak to link targets.
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CONTENT_SECURITY_POLICY, csp(host_of(req))))
        .insert_header(("cross-origin-opener-policy", "same-origin"));
    if unchanged {
        return res.finish();
    }
    res.content_type(asset.content_type).body(asset.body)
}

fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// The Host the page was loaded from, if it is a plain `host[:port]` that
/// is safe to repeat inside a header (the Host header is client-controlled).
fn host_of(req: &HttpRequest) -> Option<&str> {
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    let ok =
        !host.is_empty() && host.len() <= 255 && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    ok.then_some(host)
}

/// The page's Content-Security-Policy: only our own files, no inline script
/// or style, no plugins, no framing; network access only to this server's
/// REST and gateway. `'self'` covers ws/wss of the same host in current
/// browsers; the explicit ws:/wss: sources keep older ones working.
fn csp(host: Option<&str>) -> HeaderValue {
    let ws = host.map(|h| format!(" ws://{h} wss://{h}")).unwrap_or_default();
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
         connect-src 'self'{ws}; manifest-src 'self'; media-src 'self' blob:; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'; object-src 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file added to src/web/ but not to `ASSETS` would 404 in the browser.
    #[test]
    fn every_file_of_src_web_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
        let mut found = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    found.push(p.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/"));
                }
            }
        }
        found.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        listed.sort();
        assert_eq!(found, listed);
    }

    #[test]
    fn the_policy_only_names_a_clean_host() {
        let p = csp(Some("127.0.0.1:8080"));
        let p = p.to_str().unwrap();
        assert!(p.contains("connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080;"));
        for needed in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self';"] {
            assert!(p.contains(needed), "{needed}");
        }
        assert!(!p.contains("unsafe"));
        let req =
            actix_web::test::TestRequest::default().insert_header(("host", "evil; script-src *")).to_http_request();
        assert_eq!(host_of(&req), None);
    }
}
