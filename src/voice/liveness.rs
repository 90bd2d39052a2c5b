//! When a participant has waited too long: for ICE and DTLS, for an answer,
//! for any datagram, or to come back from an ICE disconnection. Pure: each
//! participant keeps these instants and the room turns the earliest into a
//! deadline, so a participant is removed exactly when its time is up.

use std::time::Instant;

use crate::protocol::limits::{VOICE_ANSWER_TIMEOUT, VOICE_CONNECT_TIMEOUT, VOICE_PEER_TIMEOUT};

/// Why the room removes a participant on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Expired {
    /// ICE and DTLS did not complete within `VOICE_CONNECT_TIMEOUT` of joining.
    #[error("ICE/DTLS did not complete in time")]
    Connect,
    /// An offer waited `VOICE_ANSWER_TIMEOUT` for its answer.
    #[error("no answer to the offer")]
    Answer,
    /// No datagram at all for `VOICE_PEER_TIMEOUT`.
    #[error("no packets from the peer")]
    Peer,
    /// ICE stayed disconnected for `VOICE_PEER_TIMEOUT`.
    #[error("ICE disconnected")]
    Disconnected,
}

/// The instants a participant's time-outs count from.
#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    /// When it joined.
    pub joined_at: Instant,
    /// ICE and DTLS are up.
    pub connected: bool,
    /// When the last datagram arrived.
    pub last_recv: Option<Instant>,
    /// Since when ICE reports disconnected.
    pub disconnected_since: Option<Instant>,
    /// Since when the current offer waits for an answer.
    pub offer_since: Option<Instant>,
}

impl Liveness {
    /// A participant that joins at `now` with an offer out.
    pub fn joined(now: Instant) -> Liveness {
        Liveness { joined_at: now, connected: false, last_recv: None, disconnected_since: None, offer_since: Some(now) }
    }

    /// The earliest instant at which the participant expires, and why. On a
    /// tie the reason listed first in [`Expired`] wins.
    pub fn expiry(&self) -> Option<(Instant, Expired)> {
        let connect = (!self.connected).then_some((self.joined_at + VOICE_CONNECT_TIMEOUT, Expired::Connect));
        let answer = self.offer_since.map(|t| (t + VOICE_ANSWER_TIMEOUT, Expired::Answer));
        let peer = self.last_recv.filter(|_| self.connected).map(|t| (t + VOICE_PEER_TIMEOUT, Expired::Peer));
        let disconnected = self.disconnected_since.map(|t| (t + VOICE_PEER_TIMEOUT, Expired::Disconnected));
        // `min_by_key` keeps the first of equal keys: the order above is the priority.
        [connect, answer, peer, disconnected].into_iter().flatten().min_by_key(|(t, _)| *t)
    }

    /// Why the participant has expired at `now`, if it has.
    pub fn expired(&self, now: Instant) -> Option<Expired> {
        self.expiry().filter(|(t, _)| *t <= now).map(|(_, why)| why)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_new_participant_must_connect_and_answer_in_time() {
        let t0 = Instant::now();
        let mut l = Liveness::joined(t0);
        // Both run out together; the connect time-out names it.
        assert_eq!(l.expiry(), Some((t0 + VOICE_CONNECT_TIMEOUT, Expired::Connect)));
        assert_eq!(l.expired(t0 + VOICE_CONNECT_TIMEOUT - MS), None);
        assert_eq!(l.expired(t0 + VOICE_CONNECT_TIMEOUT), Some(Expired::Connect));
        // Answered but never connected.
        l.offer_since = None;
        assert_eq!(l.expiry(), Some((t0 + VOICE_CONNECT_TIMEOUT, Expired::Connect)));
    }

    #[test]
    fn a_connected_participant_expires_on_silence_or_an_unanswered_offer() {
        let t0 = Instant::now();
        let mut l = Liveness::joined(t0);
        l.offer_since = None;
        l.connected = true;
        assert_eq!(l.expiry(), None, "connected and nothing received yet: no deadline");
        l.last_recv = Some(t0 + 100 * MS);
        assert_eq!(l.expiry(), Some((t0 + 100 * MS + VOICE_PEER_TIMEOUT, Expired::Peer)));
        // An unanswered offer and silence: whichever runs out first.
        l.offer_since = Some(t0);
        assert_eq!(l.expiry(), Some((t0 + 100 * MS + VOICE_PEER_TIMEOUT, Expired::Peer)));
        l.last_recv = Some(t0 + VOICE_ANSWER_TIMEOUT);
        assert_eq!(l.expiry(), Some((t0 + VOICE_ANSWER_TIMEOUT, Expired::Answer)));
    }

    #[test]
    fn ice_disconnection_counts_from_when_it_began() {
        let t0 = Instant::now();
        let mut l = Liveness::joined(t0);
        l.offer_since = None;
        l.connected = true;
        l.last_recv = Some(t0 + VOICE_PEER_TIMEOUT);
        l.disconnected_since = Some(t0 + MS);
        assert_eq!(l.expiry(), Some((t0 + MS + VOICE_PEER_TIMEOUT, Expired::Disconnected)));
        assert_eq!(l.expired(t0 + VOICE_PEER_TIMEOUT), None);
    }
}
