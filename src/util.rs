//! Small helpers shared across modules.

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// A Unix-millisecond time as UTC calendar parts: (year, month, day, hour, minute, second).
pub fn utc_parts(ms: u64) -> (i64, i64, i64, u64, u64, u64) {
    let secs = ms / 1000;
    let (days, rem) = (i64::try_from(secs / 86_400).unwrap_or(i64::MAX), secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem / 60 % 60, rem % 60)
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
    }
}
