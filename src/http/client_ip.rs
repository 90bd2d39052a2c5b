//! The client's IP address behind trusted reverse proxies: the address every
//! per-IP limit (REST, login, registration, IDENTIFY, gateway connections)
//! is keyed on. Pure logic plus one helper reading it off a request.
//!
//! A proxy appends the address it received the request from to
//! `X-Forwarded-For`, so the header reads `client, proxy1, proxy2` and the TCP
//! peer is the last proxy. Only the entries appended by proxies we trust can
//! be believed: anything to their left may have been sent by the client. So
//! the list is walked from the right while the hop is trusted, and the first
//! untrusted hop is the client.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use actix_web::http::header::HeaderMap;

pub use crate::config::cidr::Cidr;

/// The `X-Forwarded-For` request header.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// One `X-Forwarded-For` entry: an address, possibly with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`); None for anything else
/// (`unknown`, obfuscated identifiers, garbage).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = entry.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    let bracketed = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']'))?;
    bracketed.parse::<Ipv6Addr>().ok().map(|ip| IpAddr::V6(ip).to_canonical())
}

/// The client's address. `peer` is the TCP peer; `forwarded_for` are the
/// values of every `X-Forwarded-For` header in the order received; `trusted`
/// are the proxies whose additions to the header are believed.
///
/// If the peer is not trusted the header is ignored (anyone can send one).
/// Otherwise the entries are walked from the right, skipping trusted proxies;
/// the first untrusted address is the client. If every entry is trusted, the
/// leftmost is. An entry that is not an address stops the walk: the client is
/// then the trusted proxy that passed it on.
pub fn client_ip<'a>(peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>, trusted: &[Cidr]) -> IpAddr {
    let mut hop = peer.to_canonical();
    if !trusted.iter().any(|c| c.contains(hop)) {
        return hop;
    }
    let values: Vec<&str> = forwarded_for.into_iter().collect();
    for entry in values.iter().rev().flat_map(|v| v.rsplit(',')) {
        if entry.trim().is_empty() {
            // `a,,b` or a trailing comma: nothing was added there.
            continue;
        }
        let Some(ip) = parse_hop(entry) else { return hop };
        hop = ip;
        if !trusted.iter().any(|c| c.contains(hop)) {
            return hop;
        }
    }
    hop
}

/// [`client_ip`] of a request, from its peer address and headers. A request
/// without a peer address (not over TCP) counts as from 127.0.0.1.
pub fn of_request(peer: Option<SocketAddr>, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let peer = peer.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |a| a.ip());
    if trusted.is_empty() {
        return peer.to_canonical();
    }
    let values = headers.get_all(X_FORWARDED_FOR).filter_map(|v| v.to_str().ok());
    client_ip(peer, values, trusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a str, &'a str);

    #[test]
    fn client_ip_walks_from_the_right_through_trusted_proxies() {
        let cases: &[Case] = &[
            // (peer, X-Forwarded-For values, trusted, expected client, why)
            ("203.0.113.9", &[], &[], "203.0.113.9", "no proxies trusted, no header"),
            ("203.0.113.9", &["198.51.100.1"], &[], "203.0.113.9", "header ignored when nobody is trusted"),
            ("203.0.113.9", &["198.51.100.1"], &["127.0.0.1/32"], "203.0.113.9", "untrusted peer: header ignored"),
            ("127.0.0.1", &[], &["127.0.0.1/32"], "127.0.0.1", "trusted peer without header: the peer"),
            ("127.0.0.1", &["198.51.100.1"], &["127.0.0.1/32"], "198.51.100.1", "one trusted proxy"),
            ("127.0.0.1", &[" 198.51.100.1 "], &["127.0.0.1"], "198.51.100.1", "whitespace; bare address as a /32"),
            (
                "127.0.0.1",
                &["6.6.6.6, 198.51.100.1"],
                &["127.0.0.1/32"],
                "198.51.100.1",
                "a spoofed entry left of the real client is not believed",
            ),
            (
                "10.0.0.2",
                &["198.51.100.1, 10.0.0.1"],
                &["10.0.0.0/8"],
                "198.51.100.1",
                "a chain of two trusted proxies",
            ),
            (
                "10.0.0.2",
                &["6.6.6.6, 198.51.100.1", "10.0.0.1"],
                &["10.0.0.0/8"],
                "198.51.100.1",
                "several header lines read as one list, in order",
            ),
            ("10.0.0.2", &["10.0.0.7, 10.0.0.1"], &["10.0.0.0/8"], "10.0.0.7", "every hop trusted: the leftmost"),
            ("127.0.0.1", &["unknown"], &["127.0.0.1/32"], "127.0.0.1", "garbage: the proxy that sent it"),
            (
                "10.0.0.2",
                &["198.51.100.1, unknown, 10.0.0.1"],
                &["10.0.0.0/8"],
                "10.0.0.1",
                "garbage in the middle stops the walk at the last trusted hop",
            ),
            ("127.0.0.1", &["198.51.100.1,"], &["127.0.0.1/32"], "198.51.100.1", "empty entries are skipped"),
            ("127.0.0.1", &["198.51.100.1:4711"], &["127.0.0.1/32"], "198.51.100.1", "IPv4 with a port"),
            ("127.0.0.1", &["[2001:db8::1]:4711"], &["127.0.0.1/32"], "2001:db8::1", "IPv6 with a port"),
            ("127.0.0.1", &["[2001:db8::1]"], &["127.0.0.1/32"], "2001:db8::1", "bracketed IPv6"),
            ("::1", &["2001:db8::1"], &["::1/128"], "2001:db8::1", "IPv6 proxy"),
            ("::ffff:127.0.0.1", &["198.51.100.1"], &["127.0.0.0/8"], "198.51.100.1", "IPv4-mapped peer"),
            (
                "127.0.0.1",
                &["::ffff:198.51.100.1"],
                &["127.0.0.1/32"],
                "198.51.100.1",
                "IPv4-mapped entry becomes IPv4",
            ),
            ("2001:db8:1::5", &["198.51.100.1"], &["2001:db8:1::/48"], "198.51.100.1", "IPv6 network of proxies"),
            ("2001:db8:2::5", &["198.51.100.1"], &["2001:db8:1::/48"], "2001:db8:2::5", "outside the IPv6 network"),
            ("192.0.2.200", &["198.51.100.1"], &["0.0.0.0/0"], "198.51.100.1", "trust everyone (/0)"),
        ];
        for (peer, xff, trusted, want, why) in cases {
            let got = client_ip(ip(peer), xff.iter().copied(), &nets(trusted));
            assert_eq!(got, ip(want), "{why}: peer {peer}, X-Forwarded-For {xff:?}, trusted {trusted:?}");
        }
    }

    #[test]
    fn cidr_parsing_and_matching() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains(ip("10.1.255.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(!c.contains(ip("::1")));
        assert_eq!(c.to_string(), "10.1.0.0/16");
        let host: Cidr = "192.0.2.1".parse().unwrap();
        assert_eq!(host.to_string(), "192.0.2.1/32");
        let v6: Cidr = " fd00::/8 ".parse().unwrap();
        assert!(v6.contains(ip("fdab::1")));
        assert!(!v6.contains(ip("fe80::1")));
        let mapped: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(mapped.to_string(), "10.0.0.0/8");
        assert!(mapped.contains(ip("10.9.9.9")) && mapped.contains(ip("::ffff:10.9.9.9")));
        let mapped_host: Cidr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(mapped_host.to_string(), "127.0.0.1/32");
        for bad in ["", "10.0.0.0/33", "::/129", "10.0.0/8", "localhost", "10.0.0.0/x", "10.0.0.0/-1"] {
            let e = bad.parse::<Cidr>().unwrap_err();
            assert!(e.contains(bad.trim()), "error for {bad:?} should name it: {e}");
        }
        let json: Cidr = serde_json::from_str("\"127.0.0.1/32\"").unwrap();
        assert_eq!(json, "127.0.0.1".parse().unwrap());
        assert!(serde_json::from_str::<Cidr>("\"nope\"").is_err());
    }

    #[test]
    fn of_request_reads_every_header_line() {
        let mut headers = HeaderMap::new();
        let name = actix_web::http::header::HeaderName::from_static(X_FORWARDED_FOR);
        headers.append(name.clone(), "6.6.6.6, 198.51.100.1".parse().unwrap());
        headers.append(name, "10.0.0.1".parse().unwrap());
        let peer = Some("10.0.0.2:5555".parse().unwrap());
        assert_eq!(of_request(peer, &headers, &nets(&["10.0.0.0/8"])), ip("198.51.100.1"));
        assert_eq!(of_request(peer, &headers, &[]), ip("10.0.0.2"));
        assert_eq!(of_request(None, &headers, &[]), ip("127.0.0.1"));
    }
}
