//! Cheap parsing for readers: walk a MessagePack frame without building
//! values, and the send stamp every load message carries.
//!
//! A reader needs only `op`, `t`, `s` and, for MESSAGE_CREATE and ACK, the
//! `nonce` inside `d`; everything else is skipped in place.

/// The header of a gateway frame and the bytes of its `d`.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// `op`.
    pub op: u64,
    /// The raw MessagePack bytes of `d`.
    pub d: &'a [u8],
    /// `s`, if not nil.
    pub s: Option<u64>,
    /// `t`, if not nil.
    pub t: Option<&'a [u8]>,
}

/// A forward-only reader over MessagePack bytes.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.i)?;
        self.i += 1;
        Some(v)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.i.checked_add(n)?;
        let s = self.b.get(self.i..end)?;
        self.i = end;
        Some(s)
    }

    fn be(&mut self, n: usize) -> Option<u64> {
        Some(self.take(n)?.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    fn map_len(&mut self) -> Option<usize> {
        let b = self.byte()?;
        match b {
            0x80..=0x8f => Some(usize::from(b & 0x0f)),
            0xde => self.be(2).map(|n| n as usize),
            0xdf => self.be(4).map(|n| n as usize),
            _ => None,
        }
    }

    /// A string, or None for nil or anything else.
    fn str(&mut self) -> Option<&'a [u8]> {
        let b = self.byte()?;
        let n = match b {
            0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return None,
        };
        self.take(n)
    }

    /// An unsigned integer, or None for nil or anything else.
    fn uint(&mut self) -> Option<u64> {
        let b = self.byte()?;
        match b {
            0x00..=0x7f => Some(u64::from(b)),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            _ => None,
        }
    }

    /// Skip one complete value (the server's own length scan: iterative, so
    /// nesting costs no stack).
    fn skip(&mut self) -> Option<()> {
        let n = hearth::protocol::msgpack_len::value_len(self.b.get(self.i..)?)?;
        self.take(n).map(|_| ())
    }
}

/// Read `op`, `d`, `s` and `t` of a MessagePack gateway frame.
pub fn parse_frame(b: &[u8]) -> Option<Frame<'_>> {
    let mut c = Cur { b, i: 0 };
    let n = c.map_len()?;
    let mut f = Frame { op: u64::MAX, d: &[], s: None, t: None };
    for _ in 0..n {
        let key = c.str()?;
        let start = c.i;
        match key {
            b"op" => f.op = c.uint()?,
            b"s" => {
                f.s = c.uint();
                if f.s.is_none() {
                    c.i = start;
                    c.skip()?;
                }
            }
            b"t" => {
                f.t = c.str();
                if f.t.is_none() {
                    c.i = start;
                    c.skip()?;
                }
            }
            b"d" => {
                c.skip()?;
                f.d = &b[start..c.i];
            }
            _ => c.skip()?,
        }
    }
    (f.op != u64::MAX).then_some(f)
}

/// The value of field `key` of the map `map`, if it is a string.
pub fn str_field<'a>(map: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut c = Cur { b: map, i: 0 };
    let n = c.map_len()?;
    for _ in 0..n {
        if c.str()? == key {
            return c.str();
        }
        c.skip()?;
    }
    None
}

/// The value of field `key` of the map `map`, if it is an unsigned integer.
pub fn uint_field(map: &[u8], key: &[u8]) -> Option<u64> {
    let mut c = Cur { b: map, i: 0 };
    let n = c.map_len()?;
    for _ in 0..n {
        if c.str()? == key {
            return c.uint();
        }
        c.skip()?;
    }
    None
}

/// The nonce of load message `k` sent at `t_us` (µs since the run's epoch).
pub fn nonce(k: u64, t_us: u64) -> String {
    format!("{k}:{t_us}")
}

/// Message content of exactly `size` bytes (at least the stamp) carrying `k` and `t_us`.
pub fn content(k: u64, t_us: u64, size: usize) -> String {
    let mut s = format!("lt:{k}:{t_us}:");
    while s.len() < size {
        s.push('x');
    }
    s
}

/// Parse `K:T` at the start of `s` (a nonce) or after `lt:` (a content).
pub fn parse_stamp(s: &[u8]) -> Option<(u64, u64)> {
    let s = s.strip_prefix(b"lt:").unwrap_or(s);
    let mut parts = s.splitn(3, |&b| b == b':');
    let num = |p: &[u8]| -> Option<u64> {
        if p.is_empty() || p.len() > 20 {
            return None;
        }
        p.iter().try_fold(0u64, |acc, &d| d.is_ascii_digit().then(|| acc.wrapping_mul(10) + u64::from(d - b'0')))
    };
    let k = num(parts.next()?)?;
    let t = num(parts.next()?)?;
    Some((k, t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth::protocol::SharedEvent;

    #[derive(serde::Serialize)]
    struct Author {
        id: u64,
        username: String,
    }

    #[derive(serde::Serialize)]
    struct Msg {
        id: u64,
        channel_id: u64,
        author: Author,
        tags: Vec<Option<f64>>,
        content: String,
        nonce: Option<String>,
    }

    #[test]
    fn reads_the_servers_dispatch_frames() {
        let m = Msg {
            id: u64::MAX - 1,
            channel_id: 7,
            author: Author { id: 1 << 40, username: "ü".repeat(40) },
            tags: vec![Some(1.5), None],
            content: content(12, 345, 100),
            nonce: Some(nonce(12, 345)),
        };
        let ev = SharedEvent::new("MESSAGE_CREATE", &m, false);
        let frame = ev.frame(1 << 33, hearth::protocol::Encoding::MsgPack);
        let f = parse_frame(&frame).unwrap();
        assert_eq!((f.op, f.s, f.t), (0, Some(1 << 33), Some(&b"MESSAGE_CREATE"[..])));
        assert_eq!(parse_stamp(str_field(f.d, b"nonce").unwrap()), Some((12, 345)));
        assert_eq!(parse_stamp(str_field(f.d, b"content").unwrap()), Some((12, 345)));
        assert_eq!(uint_field(f.d, b"channel_id"), Some(7));
        assert_eq!(content(1, 2, 100).len(), 100);
    }

    #[test]
    fn non_dispatch_frames_and_garbage() {
        let hello = rmp_serde::to_vec_named(
            &serde_json::json!({"op": 10, "d": {"heartbeat_interval": 41250}, "s": null, "t": null}),
        )
        .unwrap();
        let f = parse_frame(&hello).unwrap();
        assert_eq!((f.op, f.s, f.t), (10, None, None));
        assert_eq!(uint_field(f.d, b"heartbeat_interval"), Some(41250));
        assert!(parse_frame(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(parse_frame(&[0x81, 0xa1, b'd', 0xdf, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(parse_frame(b"").is_none());
        assert!(parse_stamp(b"nope").is_none());
    }
}
