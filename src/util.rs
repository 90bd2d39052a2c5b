//! Small helpers shared across modules.

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// A Unix-millisecond time as UTC calendar parts: (year, month, day, hour, minute, second).
pub fn utc_parts(ms: u64) -> (i64, i64, i64, u64, u64, u64) {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    // Past time's range (year 9999) the last representable second stands in.
    let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::PrimitiveDateTime::MAX.assume_utc());
    let (h, mi, s) = t.to_hms();
    (i64::from(t.year()), i64::from(u8::from(t.month())), i64::from(t.day()), h.into(), mi.into(), s.into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_parts_of_known_instants() {
        assert_eq!(super::utc_parts(0), (1970, 1, 1, 0, 0, 0));
        // 2026-11-23T10:52:05Z
        assert_eq!(super::utc_parts(1_795_431_125_000), (2026, 11, 23, 10, 52, 5));
        // 2024-02-29T23:59:59Z (leap day)
        assert_eq!(super::utc_parts(1_709_251_199_000), (2024, 2, 29, 23, 59, 59));
        // 2000-03-01T00:00:00.999Z: milliseconds are cut, not rounded.
        assert_eq!(super::utc_parts(951_868_800_999), (2000, 3, 1, 0, 0, 0));
        // Beyond year 9999: the last second of it, not a panic.
        assert_eq!(super::utc_parts(u64::MAX), (9999, 12, 31, 23, 59, 59));
    }
}
