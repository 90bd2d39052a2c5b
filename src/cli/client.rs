//! The HTTP client of `hearth backup`: one POST to the admin endpoint, the
//! body streamed to a file. `http://` is plain TCP; `https://` (a server run
//! with `--tls-cert`) is TLS that does not check the server's certificate,
//! like the watchdog's probe: the admin endpoint answers only connections
//! from the server's own machine, so the peer is this machine.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use hearth::store::backup::{BackupError, HashingFile};
use ureq::tls::{TlsConfig, TlsProvider};

/// Longest error body read for a message.
const MAX_ERROR_BODY: u64 = 64 * 1024;
/// Time to connect to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A response whose body has not been read yet.
pub struct Response {
    /// HTTP status.
    pub status: u16,
    inner: ureq::http::Response<ureq::Body>,
    url: String,
}

impl Response {
    /// The first value of header `name`, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.headers().get(name).and_then(|v| v.to_str().ok())
    }

    fn err(&self, detail: impl Into<String>) -> BackupError {
        BackupError::Server { url: self.url.clone(), detail: detail.into() }
    }

    /// Read a short body (an error answer) as text.
    pub fn text(self) -> String {
        let mut s = String::new();
        let _ = self.inner.into_body().into_reader().take(MAX_ERROR_BODY).read_to_string(&mut s);
        s
    }

    /// Stream the body into `out`; it must be exactly Content-Length bytes.
    pub fn copy_body(self, out: &mut HashingFile) -> Result<(), BackupError> {
        let expected: u64 = self
            .header("content-length")
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| self.err("the response has no Content-Length"))?;
        let url = self.url.clone();
        let err = |detail: String| BackupError::Server { url: url.clone(), detail };
        let mut body = self.inner.into_body().into_reader();
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0u64;
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(err(format!("reading the snapshot after {got} bytes: {e}"))),
            };
            out.write(&buf[..n])?;
            got += n as u64;
        }
        if got != expected {
            return Err(err(format!("the connection closed after {got} of {expected} bytes")));
        }
        Ok(())
    }
}

/// `POST url+path` with a bearer token and an empty body; `timeout` bounds
/// the wait for the answer and the download of its body.
pub fn post(url: &str, path: &str, token: &str, timeout: Duration) -> Result<Response, BackupError> {
    let err = |detail: String| BackupError::Server { url: url.to_string(), detail };
    let base = url.trim_end_matches('/');
    let tls = match (base.strip_prefix("http://"), base.strip_prefix("https://")) {
        (Some(host), _) | (_, Some(host)) if !host.is_empty() && !host.contains(['/', '@']) => {
            base.starts_with("https")
        }
        _ => return Err(err("expected http://HOST:PORT or https://HOST:PORT".to_string())),
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(timeout))
        .timeout_recv_body(Some(timeout))
        .tls_config(
            TlsConfig::builder()
                .provider(TlsProvider::Rustls)
                .unversioned_rustls_crypto_provider(provider)
                .disable_verification(true)
                .build(),
        )
        .build()
        .into();
    let inner = agent
        .post(format!("{base}{path}"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Accept-Encoding", "identity")
        .send_empty()
        .map_err(|e| {
            let hint = match &e {
                _ if tls => "",
                ureq::Error::ConnectionFailed | ureq::Error::Io(_) | ureq::Error::HostNotFound => {
                    "; is the server running there? (if it serves HTTPS, use --server https://... or --tls)"
                }
                _ => "; if the server serves HTTPS (--tls-cert), use --server https://... or --tls",
            };
            err(format!("{e}{hint}"))
        })?;
    Ok(Response { status: inner.status().as_u16(), inner, url: url.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_of_a_host() {
        let refused = |u: &str| match post(u, "/admin/backup", "t", Duration::from_secs(1)) {
            Err(BackupError::Server { detail, .. }) => detail.starts_with("expected http://HOST:PORT"),
            _ => false,
        };
        for url in ["ftp://127.0.0.1", "127.0.0.1:8080", "http://", "https://", "http://u@127.0.0.1", "http://a/b"] {
            assert!(refused(url), "{url} was accepted");
        }
    }

    #[test]
    fn a_closed_port_is_a_clear_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let url = format!("http://127.0.0.1:{}", port.unwrap_or(9));
        match post(&url, "/admin/backup", "t", Duration::from_secs(1)) {
            Err(BackupError::Server { detail, .. }) => {
                assert!(detail.contains("is the server running there"), "{detail}")
            }
            Ok(r) => panic!("answered {}", r.status),
            Err(e) => panic!("{e}"),
        }
    }
}
