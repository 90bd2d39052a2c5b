//! Telling the service manager (systemd, `Type=notify`) how the server is doing,
//! through the `sd_notify` datagram protocol:
//!
//! - `READY=1` (with `STATUS=listening on ADDR`) once the store is open and the
//!   listener is bound: [`ready`];
//! - `STOPPING=1` as soon as the shutdown signal arrives: [`stopping`];
//! - `WATCHDOG=1` every half watchdog interval while the HTTP server answers
//!   `/readyz` (accepting, and a store write commits) and the store writer commits: [`spawn_watchdog`].
//!
//! Everything here does nothing when `NOTIFY_SOCKET` is unset (the watchdog
//! also needs `WATCHDOG_USEC`, and `WATCHDOG_PID` unset or equal to our pid).
//! A failed notification is logged and otherwise ignored: the server never
//! stops because the service manager cannot be told something.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sd_notify::NotifyState;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::store::{Store, StoreError};

/// Set by [`stopping`]; the watchdog sends no ping after it.
static STOPPING: AtomicBool = AtomicBool::new(false);

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "could not notify the service manager");
    }
}

/// `READY=1` and `STATUS=listening on ADDR[, ADDR...]`.
pub fn ready(addrs: &[SocketAddr]) {
    let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    let status = format!("listening on {}", list.join(", "));
    notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// `STOPPING=1`; also ends the watchdog pings.
pub fn stopping() {
    STOPPING.store(true, Ordering::SeqCst);
    notify(&[NotifyState::Stopping, NotifyState::Status("shutting down: telling sessions to reconnect")]);
}

/// If the service manager asked for a watchdog, ping it every half interval
/// while the server is healthy. `addrs` is the listener that serves
/// `/readyz`, over TLS with `tls` (which need not verify our certificate).
/// Must run on the server's actix runtime.
pub fn spawn_watchdog(store: Store, addrs: &[SocketAddr], tls: Option<Arc<rustls::ClientConfig>>) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    let Some(interval) = sd_notify::watchdog_enabled().filter(|d| !d.is_zero()) else {
        return;
    };
    let Some(probe_addr) = addrs.first().map(|a| loopback_for(*a)) else {
        return;
    };
    // Pings go out every half interval; each health check may take a quarter,
    // so two pings are never more than three quarters of the interval apart.
    let period = interval / 2;
    let check_timeout = interval / 4;
    tracing::info!(?interval, %probe_addr, "service manager watchdog enabled");
    actix_web::rt::spawn(async move {
        let mut committed = successful_commits(&store);
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if STOPPING.load(Ordering::SeqCst) {
                return;
            }
            let (http, writer) = tokio::join!(
                tokio::time::timeout(check_timeout, http_ready(probe_addr, tls.clone())),
                tokio::time::timeout(check_timeout, writer_alive(&store, &mut committed)),
            );
            // Nothing awaits between this check and the ping, and `stopping`
            // runs on this same thread: no ping ever follows STOPPING=1.
            if STOPPING.load(Ordering::SeqCst) {
                return;
            }
            match (http, writer) {
                (Ok(Ok(())), Ok(Ok(()))) => notify(&[NotifyState::Watchdog]),
                (http, writer) => {
                    let why = |r: Result<Result<(), String>, _>| match r {
                        Ok(Ok(())) => "ok".to_string(),
                        Ok(Err(e)) => e,
                        Err(_) => "timed out".to_string(),
                    };
                    let (http, writer) = (why(http), why(writer));
                    tracing::warn!(http, writer, "unhealthy: skipping the watchdog ping");
                }
            }
        }
    });
}

/// Where to reach our own listener: its address, or loopback for a wildcard bind.
fn loopback_for(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    }
}

/// `GET /readyz` on our own listener answers 200: a worker accepted, routed
/// and answered the request, and its store read succeeded.
async fn http_ready(addr: SocketAddr, tls: Option<Arc<rustls::ClientConfig>>) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    match tls {
        None => readyz(stream).await,
        Some(config) => {
            let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS handshake: {e}"))?;
            readyz(stream).await
        }
    }
}

async fn readyz(mut stream: impl AsyncRead + AsyncWrite + Unpin) -> Result<(), String> {
    let request = b"GET /readyz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";
    stream.write_all(request).await.map_err(|e| format!("write: {e}"))?;
    stream.flush().await.map_err(|e| format!("write: {e}"))?;
    const OK: &[u8] = b"HTTP/1.1 200";
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        match stream.read(&mut head[got..]).await {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    if &head[..got] == OK {
        Ok(())
    } else {
        Err(format!("answered {:?}", String::from_utf8_lossy(&head[..got])))
    }
}

fn successful_commits(store: &Store) -> u64 {
    let stats = store.commit_stats();
    stats.batches.load(Ordering::Relaxed).saturating_sub(stats.failures.load(Ordering::Relaxed))
}

/// The writer thread committed something since the last check, or commits an
/// empty probe now (one small commit per half interval on an idle server).
async fn writer_alive(store: &Store, committed: &mut u64) -> Result<(), String> {
    let now = successful_commits(store);
    if now != std::mem::replace(committed, now) {
        return Ok(());
    }
    store.write(|_| Ok::<(), StoreError>(())).await.map_err(|e| e.to_string())?;
    *committed = successful_commits(store);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_binds_are_probed_on_loopback() {
        let v4: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let v6: SocketAddr = "[::]:8080".parse().unwrap();
        let ip: SocketAddr = "192.0.2.7:9000".parse().unwrap();
        assert_eq!(loopback_for(v4), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(loopback_for(v6), "[::1]:8080".parse().unwrap());
        assert_eq!(loopback_for(ip), ip);
    }
}
