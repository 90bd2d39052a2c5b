//! The HTTP client of the tests: reqwest without TLS features. With no TLS
//! stack of its own it cannot clash with the rustls provider the server and
//! tests/tls.rs use, so every test binary can share it for plain HTTP.

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use super::WAIT;

/// A client for one server, addressed by `http://HOST:PORT`.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    base: String,
}

/// A response read whole: status, headers and body (JSON when it parses, the
/// text as a JSON string when not, Null when empty).
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body as JSON (see above).
    pub body: Value,
}

impl Reply {
    /// The first value of header `name`, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `code` of an error body.
    pub fn code(&self) -> Option<&str> {
        self.body["code"].as_str()
    }
}

/// A reqwest client whose every request gives up after [`WAIT`].
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(WAIT).build().expect("reqwest client without TLS builds")
}

impl Http {
    /// A client for `base` (`http://HOST:PORT`, no trailing slash).
    pub fn new(base: impl Into<String>) -> Http {
        Http { client: client(), base: base.into() }
    }

    /// A request to `base + path` for callers that set more than [`Http::call`] does.
    pub fn request(&self, method: &str, path: &str) -> RequestBuilder {
        let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// `method base+path` with an optional bearer token and JSON body.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        let mut r = self.request(method, path);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        send(r).await
    }

    /// `GET base+path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None, None).await
    }
}

/// Send a prepared request and read the whole response.
pub async fn send(r: RequestBuilder) -> Reply {
    let resp = r.send().await.expect("HTTP request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("HTTP response body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Reply { status, headers, body }
}
