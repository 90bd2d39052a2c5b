//! Where the first MessagePack value of a buffer ends, without decoding it.
//!
//! rmp-serde's fast slice deserializer (strings borrowed from the frame)
//! does not report how much it read; this finds the end so that bytes after
//! a frame's value can be refused, as the docs require.

/// Length in bytes of the first MessagePack value in `b`; None if the value
/// is truncated, uses the reserved marker 0xc1, or its length overflows.
/// Iterative (a count of values still to skip), so any nesting is fine.
pub fn value_len(b: &[u8]) -> Option<usize> {
    let mut pos = 0usize;
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        let m = *b.get(pos)?;
        pos += 1;
        // (payload bytes to skip, values that follow inside this one)
        let (skip, inner): (usize, u64) = match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, 2 * u64::from(m & 0x0f)),
            0x90..=0x9f => (0, u64::from(m & 0x0f)),
            0xa0..=0xbf => (usize::from(m & 0x1f), 0),
            0xc1 => return None,
            0xc4 | 0xd9 => (1 + be(b, pos, 1)?, 0),
            0xc5 | 0xda => (2 + be(b, pos, 2)?, 0),
            0xc6 | 0xdb => (4 + be(b, pos, 4)?, 0),
            0xc7 => (1 + 1 + be(b, pos, 1)?, 0),
            0xc8 => (2 + 1 + be(b, pos, 2)?, 0),
            0xc9 => (4 + 1 + be(b, pos, 4)?, 0),
            0xca => (4, 0),
            0xcb => (8, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xce | 0xd2 => (4, 0),
            0xcf | 0xd3 => (8, 0),
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xdc => (2, be(b, pos, 2)? as u64),
            0xdd => (4, be(b, pos, 4)? as u64),
            0xde => (2, 2 * be(b, pos, 2)? as u64),
            0xdf => (4, 2 * be(b, pos, 4)? as u64),
        };
        pos = pos.checked_add(skip)?;
        if pos > b.len() {
            return None;
        }
        pending = pending.checked_add(inner)?;
    }
    Some(pos)
}

/// The big-endian unsigned integer of `n` bytes at `at`.
fn be(b: &[u8], at: usize, n: usize) -> Option<usize> {
    let bytes = b.get(at..at.checked_add(n)?)?;
    Some(bytes.iter().fold(0usize, |acc, x| (acc << 8) | usize::from(*x)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Frame<'a> {
        op: u8,
        d: Inner<'a>,
    }

    #[derive(Serialize)]
    struct Inner<'a> {
        content: &'a str,
        ids: Vec<u64>,
        n: i64,
        f: f64,
        none: Option<u8>,
        yes: bool,
        blob: serde_bytes_like::Bytes<'a>,
    }

    mod serde_bytes_like {
        /// Serializes as MessagePack bin.
        pub struct Bytes<'a>(pub &'a [u8]);
        impl serde::Serialize for Bytes<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
    }

    #[test]
    fn finds_the_end_of_every_kind_of_value() {
        let long = "x".repeat(70_000);
        let blob = vec![7u8; 300];
        for content in ["", "hi", &"y".repeat(40), &"z".repeat(300), long.as_str()] {
            let f = Frame {
                op: 40,
                d: Inner {
                    content,
                    ids: vec![0, 200, 70_000, u64::MAX],
                    n: -5_000_000_000,
                    f: 1.5,
                    none: None,
                    yes: true,
                    blob: serde_bytes_like::Bytes(&blob),
                },
            };
            let mut bytes = rmp_serde::to_vec_named(&f).unwrap();
            assert_eq!(value_len(&bytes), Some(bytes.len()));
            bytes.extend_from_slice(&[0xc0, 0x01]);
            assert_eq!(value_len(&bytes), Some(bytes.len() - 2), "trailing bytes are not part of it");
            bytes.truncate(bytes.len() - 3);
            assert_eq!(value_len(&bytes), None, "truncated");
        }
    }

    #[test]
    fn refuses_reserved_and_overlong_lengths() {
        assert_eq!(value_len(&[0xc1]), None);
        assert_eq!(value_len(&[]), None);
        assert_eq!(value_len(&[0xdb, 0xff, 0xff, 0xff, 0xff]), None, "str32 longer than the buffer");
        assert_eq!(value_len(&[0xdf, 0xff, 0xff, 0xff, 0xff]), None, "map32 with no entries present");
        assert_eq!(value_len(&[0x92, 0x01, 0x02, 0x03]), Some(3));
        // Deep nesting is counted, not recursed.
        let mut deep = vec![0x91; 100_000];
        deep.push(0xc0);
        assert_eq!(value_len(&deep), Some(deep.len()));
    }
}
