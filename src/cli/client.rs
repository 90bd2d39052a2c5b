//! A minimal HTTP/1.1 client for the admin endpoint: one POST, body read to
//! its Content-Length. `http://` is plain TCP; `https://` (a server run with
//! `--tls-cert`) is TLS that does not check the server's certificate, like
//! the watchdog's probe: the admin endpoint answers only connections from
//! the server's own machine, so the peer is this machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use hearth::store::backup::{BackupError, HashingFile};

/// Longest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// A response whose body has not been read yet.
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    body: BufReader<Conn>,
    url: String,
}

impl Response {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn err(&self, detail: impl Into<String>) -> BackupError {
        BackupError::Server { url: self.url.clone(), detail: detail.into() }
    }

    fn content_length(&self) -> Result<u64, BackupError> {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| self.err("the response has no Content-Length"))
    }

    /// Read a short body (an error answer) as text.
    pub fn text(mut self) -> String {
        let limit = self.content_length().unwrap_or(MAX_HEAD as u64).min(MAX_HEAD as u64);
        let mut s = String::new();
        let _ = (&mut self.body).take(limit).read_to_string(&mut s);
        s
    }

    /// Stream the body into `out`; it must be exactly Content-Length bytes.
    pub fn copy_body(mut self, out: &mut HashingFile) -> Result<(), BackupError> {
        let expected = self.content_length()?;
        let mut buf = vec![0u8; 1 << 20];
        let mut left = expected;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match self.body.read(&mut buf[..want]) {
                Ok(0) => {
                    return Err(self.err(format!("the connection closed after {} of {expected} bytes", expected - left)))
                }
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.err(format!("reading the snapshot after {} bytes: {e}", expected - left))),
            };
            out.write(&buf[..n])?;
            left -= n as u64;
        }
        Ok(())
    }
}

/// A plain or TLS connection.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// Whether the URL is https, and its `host:port`, of `http[s]://host[:port][/]`.
pub fn authority(url: &str) -> Result<(bool, String), BackupError> {
    let err = |detail: &str| BackupError::Server { url: url.to_string(), detail: detail.to_string() };
    let (tls, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(rest), _) => (false, rest),
        (_, Some(rest)) => (true, rest),
        _ => return Err(err("expected http://HOST:PORT or https://HOST:PORT")),
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err(err("expected http://HOST:PORT or https://HOST:PORT"));
    }
    let has_port = match host.rfind(']') {
        Some(end) => host[end..].contains(':'),
        None => host.contains(':'),
    };
    let default_port = if tls { 443 } else { 80 };
    Ok((tls, if has_port { host.to_string() } else { format!("{host}:{default_port}") }))
}

/// The host part of `host:port` (without IPv6 brackets).
fn host_of(authority: &str) -> &str {
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// `POST url+path` with a bearer token and an empty body.
pub fn post(url: &str, path: &str, token: &str, timeout: Duration) -> Result<Response, BackupError> {
    let err = |detail: String| BackupError::Server { url: url.to_string(), detail };
    let (tls, authority) = authority(url)?;
    let addrs: Vec<_> =
        authority.to_socket_addrs().map_err(|e| err(format!("cannot resolve {authority}: {e}")))?.collect();
    let mut last = None;
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, Duration::from_secs(10)) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let stream = stream.ok_or_else(|| {
        err(format!(
            "cannot connect: {}; is the server running there?",
            last.map_or_else(|| "no address".to_string(), |e| e.to_string())
        ))
    })?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| err(e.to_string()))?;
    let mut stream = if tls {
        let config = hearth::tls::probe_client_config().map_err(|e| err(format!("TLS: {e}")))?;
        let name = rustls::pki_types::ServerName::try_from(host_of(&authority).to_string())
            .map_err(|e| err(format!("TLS server name: {e}")))?;
        let conn = rustls::ClientConnection::new(config, name).map_err(|e| err(format!("TLS: {e}")))?;
        Conn::Tls(Box::new(rustls::StreamOwned::new(conn, stream)))
    } else {
        Conn::Plain(stream)
    };
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\n\
         Accept-Encoding: identity\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).and_then(|()| stream.flush()).map_err(|e| {
        let hint = if tls { "" } else { " (if the server serves HTTPS, use --server https://...)" };
        err(format!("sending the request: {e}{hint}"))
    })?;
    let mut body = BufReader::with_capacity(1 << 16, stream);
    let (status, headers) = read_head(&mut body).map_err(|e| {
        let hint =
            if tls { "" } else { "; if the server serves HTTPS (--tls-cert), use --server https://... or --tls" };
        err(format!("{e}{hint}"))
    })?;
    Ok(Response { status, headers, body, url: url.to_string() })
}

fn read_head(r: &mut impl BufRead) -> Result<(u16, Vec<(String, String)>), String> {
    let mut total = 0usize;
    let mut line = String::new();
    let mut read_line = |line: &mut String| -> Result<(), String> {
        line.clear();
        let n = r.read_line(line).map_err(|e| format!("reading the response: {e}"))?;
        total += n;
        if n == 0 {
            return Err("the server closed the connection without a response".to_string());
        }
        if total > MAX_HEAD {
            return Err("the response head is too large".to_string());
        }
        Ok(())
    };
    read_line(&mut line)?;
    let status = line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP response: {:?}", line.trim_end()))?;
    let mut headers = Vec::new();
    loop {
        read_line(&mut line)?;
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    Ok((status, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_of_urls() {
        let a = |u| authority(u).unwrap();
        assert_eq!(a("http://127.0.0.1:8080"), (false, "127.0.0.1:8080".to_string()));
        assert_eq!(a("http://127.0.0.1:8080/"), (false, "127.0.0.1:8080".to_string()));
        assert_eq!(a("http://localhost"), (false, "localhost:80".to_string()));
        assert_eq!(a("http://[::1]:9000/x"), (false, "[::1]:9000".to_string()));
        assert_eq!(a("https://[::1]"), (true, "[::1]:443".to_string()));
        assert_eq!(a("https://127.0.0.1:8443"), (true, "127.0.0.1:8443".to_string()));
        assert!(authority("ftp://127.0.0.1").is_err());
        assert!(authority("127.0.0.1:8080").is_err());
        assert!(authority("http://").is_err());
        assert_eq!(host_of("[::1]:443"), "::1");
        assert_eq!(host_of("localhost:80"), "localhost");
    }

    #[test]
    fn response_heads_parse() {
        let raw = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 5\r\nX-Hearth-Manifest: {\"a\":1}\r\n\r\nhello";
        let mut r = std::io::Cursor::new(&raw[..]);
        let (status, headers) = read_head(&mut r).unwrap();
        assert_eq!(status, 401);
        assert!(headers.contains(&("x-hearth-manifest".to_string(), "{\"a\":1}".to_string())));
        assert!(read_head(&mut std::io::Cursor::new(&b"SSH-2.0\r\n\r\n"[..])).is_err());
        assert!(read_head(&mut std::io::Cursor::new(&b"HTTP/1.1 200 OK\r\n"[..])).is_err());
    }
}
