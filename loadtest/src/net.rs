//! Loopback-only networking helpers: source-address spreading and the
//! file-descriptor limit.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{bail, Context};
use tokio::net::{TcpSocket, TcpStream};

/// Raise RLIMIT_NOFILE's soft limit to its hard limit; returns the new soft limit.
pub fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

/// Refuse anything that is not loopback: this tool must never load a real network.
pub fn ensure_loopback(addr: SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!("{addr} is not a loopback address; hearth-loadtest only loads 127.0.0.0/8 or ::1");
    }
    Ok(())
}

/// The source address of client `i`: 127.0.0.2, 127.0.0.3, ... round robin over `sources`.
pub fn source_ip(i: usize, sources: u8) -> IpAddr {
    let n = usize::from(sources.max(1));
    let last = u8::try_from(2 + i % n).unwrap_or(254);
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// Connect to `addr` from `source` (port chosen by the kernel), with Nagle off.
pub async fn connect_from(source: IpAddr, addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let sock = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if addr.is_ipv4() && source.is_ipv4() {
        sock.bind(SocketAddr::new(source, 0)).with_context(|| format!("bind {source}"))?;
    }
    let stream = sock.connect(addr).await.with_context(|| format!("connect {addr} from {source}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// WebSocket settings for load clients: room for a large READY (tungstenite
/// reads in 4 KiB chunks and grows its write buffer only as needed).
pub fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
        max_message_size: Some(64 << 20),
        max_frame_size: Some(64 << 20),
        ..Default::default()
    }
}
