//! The one voice UDP socket: bound at start, read by one thread that routes
//! each datagram to its participant's room ([`super::demux`]); rooms send
//! from their own threads through the same socket.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use dashmap::DashMap;
use str0m::config::CryptoProvider;

use super::demux::{Demux, Target};
use crate::config::Config;
use crate::metrics;
use crate::model::Id;
use crate::protocol::limits::{DEFAULT_VOICE_PORT, MAX_VOICE_DATAGRAM_BYTES};

/// Kernel socket buffers asked for (best effort): bursts of many rooms fit.
const SOCKET_BUFFER_BYTES: usize = 4 << 20;

/// `--voice-public-addr`: an IP, optionally with a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicAddr {
    /// The IP clients send to.
    pub ip: IpAddr,
    /// The port, if it differs from the bound one (port forwarding).
    pub port: Option<u16>,
}

impl FromStr for PublicAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<PublicAddr, String> {
        let s = s.trim();
        if let Ok(a) = s.parse::<SocketAddr>() {
            return PublicAddr::new(a.ip(), Some(a.port()));
        }
        match s.parse::<IpAddr>() {
            Ok(ip) => PublicAddr::new(ip, None),
            Err(_) => Err(format!("`{s}` is not an IP address or IP:PORT")),
        }
    }
}

impl PublicAddr {
    fn new(ip: IpAddr, port: Option<u16>) -> Result<PublicAddr, String> {
        if ip.is_unspecified() {
            return Err(format!("{ip} cannot be advertised: give the address clients reach"));
        }
        if port == Some(0) {
            return Err("port 0 cannot be advertised".into());
        }
        Ok(PublicAddr { ip, port })
    }
}

impl fmt::Display for PublicAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}", SocketAddr::new(self.ip, p)),
            None => write!(f, "{}", self.ip),
        }
    }
}

impl serde::Serialize for PublicAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PublicAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PublicAddr, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A datagram for a participant of a room.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Datagram {
    /// The participant.
    pub pid: u64,
    /// Where it came from.
    pub source: SocketAddr,
    /// When it arrived.
    pub at: Instant,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// Where the demux sends a participant's datagrams.
#[derive(Clone)]
pub struct RoomTarget {
    /// The participant.
    pub pid: u64,
    /// Its room.
    pub room: Recipient<Datagram>,
}

impl Target for RoomTarget {
    type Key = u64;
    fn key(&self) -> u64 {
        self.pid
    }
}

/// The voice socket and what every room shares.
pub struct VoiceNet {
    socket: UdpSocket,
    /// The bound address.
    pub local: SocketAddr,
    /// The address in our ICE candidate (what clients send to).
    pub advertised: SocketAddr,
    /// Datagram routing.
    pub demux: Demux<RoomTarget>,
    /// DTLS/SRTP crypto for every `Rtc`.
    pub crypto: Arc<CryptoProvider>,
    /// Most participants per room.
    pub max_room: usize,
    /// Most participants on the server.
    pub max_total: usize,
    participants: AtomicUsize,
    /// Which guild each user is in voice in (one voice channel per user).
    pub users: DashMap<Id, Id>,
}

impl VoiceNet {
    /// Bind the voice socket (unless voice is off) and start its reader thread.
    pub fn start(config: &Config) -> std::io::Result<Option<Arc<VoiceNet>>> {
        if config.no_voice {
            return Ok(None);
        }
        let bind = config.voice_bind.unwrap_or_else(|| SocketAddr::new(config.bind.ip(), DEFAULT_VOICE_PORT));
        let socket =
            bind_udp(bind).map_err(|e| std::io::Error::new(e.kind(), format!("voice: cannot bind UDP {bind}: {e}")))?;
        let local = socket.local_addr()?;
        let ip = match config.voice_public_addr {
            Some(p) => p.ip,
            None if local.ip().is_unspecified() => default_route_ip(local.ip()),
            None => local.ip(),
        };
        let port = config.voice_public_addr.and_then(|p| p.port).unwrap_or(local.port());
        let advertised = SocketAddr::new(ip, port);
        let net = Arc::new(VoiceNet {
            socket,
            local,
            advertised,
            demux: Demux::default(),
            crypto: Arc::new(str0m::crypto::from_feature_flags()),
            max_room: config.voice_max_room_participants.max(1),
            max_total: config.voice_max_participants.max(1),
            participants: AtomicUsize::new(0),
            users: DashMap::new(),
        });
        let reader = net.clone();
        std::thread::Builder::new().name("hearth-voice-rx".into()).spawn(move || reader.read_loop())?;
        Ok(Some(net))
    }

    /// Send one datagram (dropped if the kernel buffer is full: it is UDP).
    pub fn send(&self, to: SocketAddr, data: &[u8]) {
        if let Err(e) = self.socket.send_to(data, to) {
            tracing::debug!(error = %e, "voice send failed");
        }
    }

    /// Count a new participant, if the server-wide limit allows.
    pub fn try_admit(&self) -> bool {
        self.participants
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max_total).then_some(n + 1))
            .is_ok()
    }

    /// A participant is gone.
    pub fn release(&self) {
        let _ = self.participants.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Participants on the server.
    pub fn participants(&self) -> usize {
        self.participants.load(Ordering::Acquire)
    }

    fn read_loop(&self) {
        // One byte more than allowed, to tell an oversized datagram from one that fits.
        let mut buf = vec![0u8; MAX_VOICE_DATAGRAM_BYTES + 1];
        loop {
            let (n, source) = match self.socket.recv_from(&mut buf) {
                Ok(x) => x,
                Err(e) => {
                    // ICMP port-unreachable from a vanished peer shows up here on
                    // Linux (ConnectionRefused); anything else may repeat, so do
                    // not spin on it.
                    tracing::debug!(error = %e, "voice recv");
                    if !matches!(e.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset)
                    {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    continue;
                }
            };
            if n > MAX_VOICE_DATAGRAM_BYTES {
                metrics::VOICE_DATAGRAMS_DROPPED.with_label_values(&["oversized"]).inc();
                continue;
            }
            let data = &buf[..n];
            let Some(target) = self.demux.route(source, data) else {
                metrics::VOICE_DATAGRAMS_DROPPED.with_label_values(&["unroutable"]).inc();
                continue;
            };
            let msg = Datagram { pid: target.pid, source, at: Instant::now(), data: data.to_vec() };
            match target.room.try_send(msg) {
                Ok(()) => metrics::VOICE_DATAGRAMS_IN.inc(),
                Err(_) => metrics::VOICE_DATAGRAMS_DROPPED.with_label_values(&["room_busy"]).inc(),
            }
        }
    }
}

fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER_BYTES);
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// The local IP of the default route (what a 0.0.0.0 bind is reached on),
/// found by connecting a UDP socket, which sends nothing.
fn default_route_ip(unspecified: IpAddr) -> IpAddr {
    let probe: SocketAddr = if unspecified.is_ipv4() {
        SocketAddr::from(([192, 0, 2, 1], 9)) // TEST-NET-1: never contacted
    } else {
        SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 9))
    };
    // connect() without bind(): the kernel picks the source address (and an
    // ephemeral port) itself, which a unit's SocketBindDeny= does not refuse.
    let found = socket2::Socket::new(socket2::Domain::for_address(probe), socket2::Type::DGRAM, None)
        .and_then(|s| s.connect(&probe.into()).and_then(|()| s.local_addr()))
        .ok()
        .and_then(|a| a.as_socket())
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified());
    found.unwrap_or_else(|| {
        tracing::warn!("voice: no default route; advertising 127.0.0.1 (set --voice-public-addr)");
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addr_parses_ip_or_ip_port_and_refuses_the_unusable() {
        assert_eq!("203.0.113.7".parse::<PublicAddr>(), Ok(PublicAddr { ip: [203, 0, 113, 7].into(), port: None }));
        assert_eq!(
            "203.0.113.7:40000".parse::<PublicAddr>(),
            Ok(PublicAddr { ip: [203, 0, 113, 7].into(), port: Some(40000) })
        );
        assert!("[2001:db8::5]:1".parse::<PublicAddr>().is_ok());
        assert!("0.0.0.0".parse::<PublicAddr>().is_err());
        assert!("1.2.3.4:0".parse::<PublicAddr>().is_err());
        assert!("example.com".parse::<PublicAddr>().is_err());
        let p: PublicAddr = "10.0.0.1:5".parse().unwrap();
        assert_eq!(p.to_string().parse::<PublicAddr>(), Ok(p));
    }
}
