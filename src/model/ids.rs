//! Snowflake ids: 64-bit, time-sortable, unique under concurrency and across restarts.
//!
//! Layout (most significant first): 42 bits of milliseconds since [`EPOCH_MS`],
//! 10 bits of worker id, 12 bits of per-millisecond sequence. Ids sort by
//! creation time, so "history after id X" is a plain range scan.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The Hearth epoch: 2025-01-01T00:00:00Z in Unix milliseconds.
pub const EPOCH_MS: u64 = 1_735_689_600_000;
const WORKER_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
/// Largest worker id that fits the worker field.
pub const MAX_WORKER: u16 = (1 << WORKER_BITS) - 1;

/// A 64-bit snowflake id. MessagePack carries it as an integer; JSON (and any
/// other human-readable format) as a decimal string, because JavaScript
/// numbers lose precision above 2^53.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id(pub u64);

impl Id {
    /// Milliseconds since the Unix epoch at which this id was made.
    pub fn timestamp_ms(self) -> u64 {
        (self.0 >> (WORKER_BITS + SEQ_BITS)) + EPOCH_MS
    }

    /// The smallest id that could have been made at `unix_ms`.
    pub fn from_timestamp_ms(unix_ms: u64) -> Id {
        Id(unix_ms.saturating_sub(EPOCH_MS) << (WORKER_BITS + SEQ_BITS))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a string is not an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an id must be a decimal unsigned 64-bit integer: digits only, no sign, no leading zero")]
pub struct BadId;

/// Parse a decimal unsigned 64-bit integer written the one way the docs allow:
/// ASCII digits only, no sign, no leading zero (`0` itself is fine), no
/// surrounding space, at most `u64::MAX`. Used for ids and permission bitfields
/// in paths, query strings and bodies.
pub fn parse_decimal_u64(s: &str) -> Option<u64> {
    let canonical = match s.as_bytes() {
        [] => false,
        [b'0'] => true,
        [b'0', ..] => false,
        digits => digits.iter().all(u8::is_ascii_digit),
    };
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

impl FromStr for Id {
    type Err = BadId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_decimal_u64(s).map(Id).ok_or(BadId)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(&self.0)
        } else {
            s.serialize_u64(self.0)
        }
    }
}

/// The newtype name `Id` deserializes under in text formats. A decoder of
/// client documents ([`Strict`](crate::protocol::strict::Strict)) recognizes
/// it and also takes an unsigned integer there, as the docs allow in bodies
/// and frames; everywhere else (paths, query strings) an id is text.
pub const ID_NEWTYPE: &str = "$hearth::Id";

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl<'de> Visitor<'de> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a snowflake id (unsigned integer or decimal string)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                u64::try_from(v).map(Id).map_err(|_| E::custom("id must not be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                v.parse::<Id>().map_err(E::custom)
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Id, D::Error> {
                // Text formats (actix paths parse "+123" as a number when asked for "any").
                d.deserialize_str(self)
            }
        }
        if d.is_human_readable() {
            d.deserialize_newtype_struct(ID_NEWTYPE, IdVisitor)
        } else {
            d.deserialize_any(IdVisitor)
        }
    }
}

/// Generates snowflakes for one worker. Lock-free; safe to share between threads.
///
/// The state packs the last used millisecond and sequence; a clock that goes
/// backwards (or a restart with an earlier clock) keeps counting from the last
/// state, so ids never repeat. [`IdGenerator::advance_past`] seeds the floor
/// from the largest id already stored.
#[derive(Debug)]
pub struct IdGenerator {
    worker: u64,
    // (ms since EPOCH_MS) << SEQ_BITS | seq
    state: AtomicU64,
}

impl IdGenerator {
    /// A generator for `worker` (clamped to [`MAX_WORKER`]).
    pub fn new(worker: u16) -> Self {
        IdGenerator { worker: u64::from(worker.min(MAX_WORKER)), state: AtomicU64::new(0) }
    }

    /// Make sure every future id is larger than `id`.
    pub fn advance_past(&self, id: Id) {
        let ms = id.0 >> (WORKER_BITS + SEQ_BITS);
        let seq = id.0 & SEQ_MASK;
        let floor = (ms << SEQ_BITS) | seq;
        self.state.fetch_max(floor, Ordering::AcqRel);
    }

    /// An id at least as large as every id this generator has handed out.
    pub fn high_water(&self) -> Id {
        let state = self.state.load(Ordering::Acquire);
        let ms = state >> SEQ_BITS;
        let seq = state & SEQ_MASK;
        Id((ms << (WORKER_BITS + SEQ_BITS)) | (u64::from(MAX_WORKER) << SEQ_BITS) | seq)
    }

    /// The next id at wall-clock time `now_unix_ms`.
    pub fn next_at(&self, now_unix_ms: u64) -> Id {
        let now = now_unix_ms.saturating_sub(EPOCH_MS) << SEQ_BITS;
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            // Same or earlier millisecond: bump the sequence (which carries
            // into the millisecond field when it overflows).
            let next = if now > cur { now } else { cur + 1 };
            match self.state.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    let ms = next >> SEQ_BITS;
                    let seq = next & SEQ_MASK;
                    return Id((ms << (WORKER_BITS + SEQ_BITS)) | (self.worker << SEQ_BITS) | seq);
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// The next id now.
    pub fn next(&self) -> Id {
        self.next_at(crate::util::now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_increase_and_carry_time() {
        let g = IdGenerator::new(3);
        let t = EPOCH_MS + 1_000_000;
        let a = g.next_at(t);
        let b = g.next_at(t);
        let c = g.next_at(t + 1);
        assert!(a < b && b < c);
        assert_eq!(a.timestamp_ms(), t);
        assert_eq!(c.timestamp_ms(), t + 1);
        assert_eq!((a.0 >> SEQ_BITS) & u64::from(MAX_WORKER), 3);
    }

    #[test]
    fn clock_going_backwards_still_increases() {
        let g = IdGenerator::new(0);
        let a = g.next_at(EPOCH_MS + 5000);
        let b = g.next_at(EPOCH_MS + 10);
        assert!(b > a);
    }

    #[test]
    fn sequence_overflow_carries_into_time() {
        let g = IdGenerator::new(0);
        let t = EPOCH_MS + 77;
        let mut last = Id(0);
        for _ in 0..(SEQ_MASK + 10) {
            let id = g.next_at(t);
            assert!(id > last);
            last = id;
        }
        assert_eq!(last.timestamp_ms(), t + 1);
    }

    #[test]
    fn advance_past_seeds_floor_after_restart() {
        let before = IdGenerator::new(1);
        let stored = before.next_at(EPOCH_MS + 1_000_000);
        let after = IdGenerator::new(1);
        after.advance_past(stored);
        assert!(after.next_at(EPOCH_MS + 5) > stored);
    }

    #[test]
    fn unique_under_concurrency() {
        let g = std::sync::Arc::new(IdGenerator::new(2));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let g = g.clone();
                std::thread::spawn(move || (0..20_000).map(|_| g.next()).collect::<Vec<_>>())
            })
            .collect();
        let mut all = HashSet::new();
        for h in handles {
            for id in h.join().unwrap() {
                assert!(all.insert(id), "duplicate id {id}");
            }
        }
        assert_eq!(all.len(), 80_000);
    }

    #[test]
    fn id_is_string_in_json_and_integer_in_msgpack() {
        let id = Id(1234567890123456789);
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"1234567890123456789\"");
        let back: Id = serde_json::from_str("\"1234567890123456789\"").unwrap();
        assert_eq!(back, id);
        let mp = rmp_serde::to_vec(&id).unwrap();
        assert_eq!(mp[0], 0xcf); // uint 64
        let back: Id = rmp_serde::from_slice(&mp).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<Id>("\"12x\"").is_err());
        assert!(serde_json::from_str::<Id>("-5").is_err());
    }

    #[test]
    fn id_strings_are_strictly_decimal() {
        for good in ["0", "7", "1234567890123456789", "18446744073709551615"] {
            assert_eq!(good.parse::<Id>().map(|i| i.0.to_string()).as_deref(), Ok(good));
            assert!(serde_json::from_value::<Id>(serde_json::json!(good)).is_ok(), "{good}");
        }
        let bad = ["", "+123", "-1", "0123", "00", " 12", "12 ", "1_000", "12a", "0x1f", "1e3", "18446744073709551616"];
        for b in bad {
            assert_eq!(b.parse::<Id>(), Err(BadId), "{b:?}");
            let e = serde_json::from_value::<Id>(serde_json::json!(b)).unwrap_err().to_string();
            assert!(e.contains("decimal"), "{b:?}: {e}");
        }
    }
}
