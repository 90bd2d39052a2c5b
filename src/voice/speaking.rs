//! Speaking indicators from the RFC 6464 audio level of each packet, debounced.
//!
//! A speaker starts when two loud packets arrive less than
//! [`START_GAP`] apart (one click is not speech) and stops after
//! [`SPEAKING_HOLD`] without a loud packet (pauses between words are not
//! silence). Pure: the caller passes `now`.

use std::time::{Duration, Instant};

use crate::protocol::limits::{SPEAKING_HOLD, SPEAKING_LEVEL_DBOV};

/// Longest gap between two loud packets that still starts speaking.
pub const START_GAP: Duration = Duration::from_millis(100);

/// One participant's speaking state.
#[derive(Debug, Default)]
pub struct Speaking {
    speaking: bool,
    last_loud: Option<Instant>,
}

impl Speaking {
    /// Whether the participant is speaking now.
    pub fn is_speaking(&self) -> bool {
        self.speaking
    }

    /// An audio packet arrived with this level (−dBov, 0 loudest; `None`
    /// without the extension) and voice-activity flag. Returns the new state
    /// if it changed.
    pub fn on_packet(&mut self, now: Instant, level: Option<i8>, voice_activity: Option<bool>) -> Option<bool> {
        let loud = match (level, voice_activity) {
            (Some(l), _) => l >= SPEAKING_LEVEL_DBOV,
            // No level: trust the sender's voice-activity flag.
            (None, Some(v)) => v,
            (None, None) => false,
        };
        if !loud {
            return self.on_timeout(now);
        }
        let prev = self.last_loud.replace(now);
        if !self.speaking && prev.is_some_and(|p| now.saturating_duration_since(p) <= START_GAP) {
            self.speaking = true;
            return Some(true);
        }
        None
    }

    /// When [`Speaking::on_timeout`] should next be called (while speaking).
    pub fn deadline(&self) -> Option<Instant> {
        if self.speaking {
            self.last_loud.map(|t| t + SPEAKING_HOLD)
        } else {
            None
        }
    }

    /// Time passed: stop after the hold time. Returns `Some(false)` when it stops.
    pub fn on_timeout(&mut self, now: Instant) -> Option<bool> {
        if self.speaking && self.last_loud.is_none_or(|t| now.saturating_duration_since(t) >= SPEAKING_HOLD) {
            self.speaking = false;
            return Some(false);
        }
        None
    }

    /// Forget everything (muted, left): `Some(false)` if it was speaking.
    pub fn reset(&mut self) -> Option<bool> {
        self.last_loud = None;
        std::mem::take(&mut self.speaking).then_some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOUD: Option<i8> = Some(-30);
    const QUIET: Option<i8> = Some(-90);

    #[test]
    fn starts_after_two_close_loud_packets_and_stops_after_the_hold() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut s = Speaking::default();
        assert_eq!(s.on_packet(ms(0), LOUD, None), None);
        assert_eq!(s.on_packet(ms(20), LOUD, None), Some(true));
        assert_eq!(s.on_packet(ms(40), LOUD, None), None);
        assert_eq!(s.deadline(), Some(ms(40) + SPEAKING_HOLD));
        // Quiet packets within the hold keep it on.
        assert_eq!(s.on_packet(ms(200), QUIET, None), None);
        assert!(s.is_speaking());
        assert_eq!(s.on_timeout(ms(40) + SPEAKING_HOLD), Some(false));
        assert_eq!(s.deadline(), None);
        assert_eq!(s.on_timeout(ms(5000)), None);
    }

    #[test]
    fn a_single_click_is_not_speech() {
        let t0 = Instant::now();
        let mut s = Speaking::default();
        assert_eq!(s.on_packet(t0, LOUD, None), None);
        assert_eq!(s.on_packet(t0 + Duration::from_millis(500), LOUD, None), None);
        assert!(!s.is_speaking());
    }

    #[test]
    fn level_wins_over_the_flag_and_the_flag_is_used_without_level() {
        let t0 = Instant::now();
        let mut s = Speaking::default();
        s.on_packet(t0, QUIET, Some(true));
        assert_eq!(s.on_packet(t0 + Duration::from_millis(20), QUIET, Some(true)), None);
        s.on_packet(t0, None, Some(true));
        assert_eq!(s.on_packet(t0 + Duration::from_millis(20), None, Some(true)), Some(true));
        assert_eq!(s.reset(), Some(false));
        assert_eq!(s.reset(), None);
    }
}
