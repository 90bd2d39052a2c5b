//! Which participant a datagram on the shared voice port belongs to, in O(1).
//!
//! Every participant's `Rtc` gets its own random ICE username fragment
//! (ufrag). A browser's first packets are STUN binding requests whose
//! USERNAME attribute starts with that ufrag, so they are routed by it; once
//! the participant's `Rtc` answers an address (which it does only for
//! requests carrying the right password), that address is learned and every
//! later packet from it (DTLS, SRTP, consent checks) is routed by address.
//! Nothing an unauthenticated sender does adds an entry: entries are created
//! by gateway joins and by the `Rtc`s themselves, so the tables are bounded by
//! the participant limits times [`MAX_VOICE_ADDRS_PER_PARTICIPANT`].
//!
//! [`MAX_VOICE_ADDRS_PER_PARTICIPANT`]: crate::protocol::limits::MAX_VOICE_ADDRS_PER_PARTICIPANT

use std::hash::Hash;
use std::net::SocketAddr;

use dashmap::DashMap;

/// STUN's magic cookie (RFC 5389), bytes 4..8 of every STUN message.
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
/// The STUN USERNAME attribute.
const ATTR_USERNAME: u16 = 0x0006;
/// STUN header length.
const HEADER: usize = 20;

/// The local (our) ufrag of a STUN message's USERNAME (`ours:theirs`), if
/// `d` is a well-formed STUN message that has one.
pub fn stun_local_ufrag(d: &[u8]) -> Option<&str> {
    // The first two bits of a STUN message are zero (RFC 7983 demultiplexing: 0..3).
    if d.len() < HEADER || d[0] > 3 || d[4..8] != MAGIC_COOKIE {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
    let body = d.get(HEADER..HEADER.checked_add(len)?)?;
    let mut rest = body;
    while rest.len() >= 4 {
        let kind = u16::from_be_bytes([rest[0], rest[1]]);
        let alen = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let value = rest.get(4..4 + alen)?;
        if kind == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next().filter(|u| !u.is_empty());
        }
        // Attributes are padded to a multiple of four bytes.
        let padded = (4 + alen).checked_add(3)? & !3;
        rest = rest.get(padded..)?;
    }
    None
}

/// Routing tables from ufrag and from source address to a participant target.
pub struct Demux<T> {
    by_ufrag: DashMap<String, T>,
    by_addr: DashMap<SocketAddr, T>,
}

impl<T> Default for Demux<T> {
    fn default() -> Self {
        Demux { by_ufrag: DashMap::new(), by_addr: DashMap::new() }
    }
}

/// Something a datagram can be routed to, comparable by participant.
pub trait Target: Clone {
    /// The participant key (unique on the server).
    type Key: Eq + Hash + Copy;
    /// This target's participant.
    fn key(&self) -> Self::Key;
}

impl<T: Target> Demux<T> {
    /// Route `d` from `src`: STUN by its ufrag (a rejoin from the same socket
    /// must reach the new participant), anything else by source address.
    pub fn route(&self, src: SocketAddr, d: &[u8]) -> Option<T> {
        if let Some(ufrag) = stun_local_ufrag(d) {
            if let Some(t) = self.by_ufrag.get(ufrag) {
                return Some(t.clone());
            }
        }
        self.by_addr.get(&src).map(|t| t.clone())
    }

    /// A participant joined with this ufrag.
    pub fn add_ufrag(&self, ufrag: String, t: T) {
        self.by_ufrag.insert(ufrag, t);
    }

    /// The participant's `Rtc` talks to `addr`: later packets from it go there.
    pub fn learn_addr(&self, addr: SocketAddr, t: T) {
        self.by_addr.insert(addr, t);
    }

    /// Forget an address, if it still points at `key`.
    pub fn forget_addr(&self, addr: SocketAddr, key: T::Key) {
        self.by_addr.remove_if(&addr, |_, t| t.key() == key);
    }

    /// Forget a ufrag, if it still points at `key`.
    pub fn forget_ufrag(&self, ufrag: &str, key: T::Key) {
        self.by_ufrag.remove_if(ufrag, |_, t| t.key() == key);
    }

    /// A participant left: forget its ufrag and addresses (those still its own).
    pub fn remove(&self, ufrag: &str, addrs: impl IntoIterator<Item = SocketAddr>, key: T::Key) {
        self.forget_ufrag(ufrag, key);
        for a in addrs {
            self.forget_addr(a, key);
        }
    }

    /// (ufrag entries, address entries), for metrics and tests.
    pub fn sizes(&self) -> (usize, usize) {
        (self.by_ufrag.len(), self.by_addr.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct P(u64);
    impl Target for P {
        type Key = u64;
        fn key(&self) -> u64 {
            self.0
        }
    }

    /// A STUN binding request with the given USERNAME (and a trailing attribute).
    fn stun(username: &str) -> Vec<u8> {
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username.as_bytes());
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        attrs.extend_from_slice(&[0x80, 0x29, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]); // ICE-CONTROLLING
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&attrs);
        m
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn parses_the_local_ufrag() {
        assert_eq!(stun_local_ufrag(&stun("abcd1234:xyz")), Some("abcd1234"));
        assert_eq!(stun_local_ufrag(&stun("odd:x")), Some("odd"));
        assert_eq!(stun_local_ufrag(&stun(":x")), None);
    }

    #[test]
    fn rejects_what_is_not_stun() {
        let good = stun("abc:def");
        let mut bad_cookie = good.clone();
        bad_cookie[5] ^= 1;
        assert_eq!(stun_local_ufrag(&bad_cookie), None);
        let mut dtls = good.clone();
        dtls[0] = 22;
        assert_eq!(stun_local_ufrag(&dtls), None);
        // Declared length past the end, truncated attribute, empty input.
        let mut long = good.clone();
        long[3] = 0xff;
        assert_eq!(stun_local_ufrag(&long), None);
        assert_eq!(stun_local_ufrag(&good[..HEADER + 6]), None);
        assert_eq!(stun_local_ufrag(&[]), None);
        assert_eq!(stun_local_ufrag(&good[..HEADER]), None);
    }

    #[test]
    fn never_panics_on_any_prefix_or_mutation() {
        let good = stun("someufrag:theirs");
        for n in 0..=good.len() {
            let _ = stun_local_ufrag(&good[..n]);
        }
        for i in 0..good.len() {
            for b in [0u8, 0xff, 0x7f] {
                let mut m = good.clone();
                m[i] = b;
                let _ = stun_local_ufrag(&m);
            }
        }
    }

    #[test]
    fn routes_stun_by_ufrag_and_the_rest_by_address() {
        let d = Demux::default();
        d.add_ufrag("u1".into(), P(1));
        assert_eq!(d.route(addr(9), &stun("u1:c")), Some(P(1)));
        // Unknown address, not STUN: dropped.
        assert_eq!(d.route(addr(9), &[0x80, 0, 0, 0]), None);
        d.learn_addr(addr(9), P(1));
        assert_eq!(d.route(addr(9), &[0x80, 0, 0, 0]), Some(P(1)));
        // A rejoin from the same socket: STUN with the new ufrag reaches the new participant.
        d.add_ufrag("u2".into(), P(2));
        assert_eq!(d.route(addr(9), &stun("u2:c")), Some(P(2)));
        // Unknown ufrag from a known address falls back to the address.
        assert_eq!(d.route(addr(9), &stun("nobody:c")), Some(P(1)));
    }

    #[test]
    fn removal_only_forgets_own_entries() {
        let d = Demux::default();
        d.add_ufrag("u1".into(), P(1));
        d.learn_addr(addr(1), P(1));
        d.learn_addr(addr(2), P(1));
        // Address 2 moved to participant 2 (rejoin): removing 1 keeps it.
        d.learn_addr(addr(2), P(2));
        d.remove("u1", [addr(1), addr(2)], 1);
        assert_eq!(d.sizes(), (0, 1));
        assert_eq!(d.route(addr(2), &[0x80]), Some(P(2)));
    }
}
