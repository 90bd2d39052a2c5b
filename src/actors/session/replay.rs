//! The replay buffer of one session: every dispatch it was sent, by sequence
//! number, so a client that lost its connection can Resume and receive exactly
//! the frames after the last one it saw. Pure bookkeeping, no I/O.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::protocol::limits::{MAX_REPLAY_BYTES, MAX_REPLAY_FRAMES};
use crate::protocol::{Encoding, SharedEvent};

/// Why a resume cannot continue from a sequence number.
#[derive(Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// Frames after that sequence number were already dropped (buffer bound).
    Gone,
    /// The client claims a sequence number the server never sent.
    Ahead,
}

/// Frames sent to a session, oldest first.
#[derive(Debug, Default)]
pub struct Replay {
    frames: VecDeque<(u64, Arc<SharedEvent>)>,
    bytes: usize,
    /// Highest sequence number assigned.
    last: u64,
    /// Highest sequence number known to be received (from heartbeats).
    acked: u64,
}

impl Replay {
    /// Assign the next sequence number to `event` and keep it.
    pub fn push(&mut self, event: Arc<SharedEvent>, enc: Encoding) -> u64 {
        self.last += 1;
        self.bytes += event.len(enc);
        self.frames.push_back((self.last, event));
        while self.frames.len() > MAX_REPLAY_FRAMES || self.bytes > MAX_REPLAY_BYTES {
            let Some((_, ev)) = self.frames.pop_front() else {
                break;
            };
            self.bytes -= ev.len(enc);
        }
        self.last
    }

    /// The client confirmed it received everything up to `seq` (heartbeat `d`).
    pub fn ack(&mut self, seq: u64, enc: Encoding) {
        let seq = seq.min(self.last);
        self.acked = self.acked.max(seq);
        while self.frames.front().is_some_and(|(s, _)| *s <= self.acked) {
            if let Some((_, ev)) = self.frames.pop_front() {
                self.bytes -= ev.len(enc);
            }
        }
    }

    /// The frames after `seq`, for a resume: all of them, or an error. The
    /// held frames are always a contiguous run ending at `last`, so a resume
    /// is possible exactly when the first frame it needs is still held (or
    /// none is needed). Frames freed by an acknowledgement count as gone too:
    /// a client that resumes from before its own heartbeat gets nothing
    /// skipped, it gets refused.
    pub fn after(&self, seq: u64) -> Result<Vec<(u64, Arc<SharedEvent>)>, ReplayError> {
        if seq > self.last {
            return Err(ReplayError::Ahead);
        }
        let first_held = self.frames.front().map_or(self.last + 1, |(s, _)| *s);
        if seq + 1 < first_held {
            return Err(ReplayError::Gone);
        }
        Ok(self.frames.iter().filter(|(s, _)| *s > seq).cloned().collect())
    }

    /// The highest sequence number assigned.
    #[cfg(test)]
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Encoded bytes of the frames held (events shared with other sessions
    /// count in each of them).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether no frames are held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Drop everything (the session ended), and the buffer's memory with it.
    pub fn clear(&mut self) {
        self.frames = VecDeque::new();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: usize) -> Arc<SharedEvent> {
        SharedEvent::new("X", &"x".repeat(n), false)
    }

    #[test]
    fn resume_gets_exactly_the_frames_after_seq() {
        let mut r = Replay::default();
        for _ in 0..5 {
            r.push(ev(1), Encoding::MsgPack);
        }
        let after: Vec<u64> = r.after(2).unwrap().iter().map(|(s, _)| *s).collect();
        assert_eq!(after, [3, 4, 5]);
        assert!(r.after(5).unwrap().is_empty());
        assert_eq!(r.after(6).err(), Some(ReplayError::Ahead));
    }

    #[test]
    fn heartbeat_acks_free_frames_and_keep_resume_possible() {
        let mut r = Replay::default();
        for _ in 0..5 {
            r.push(ev(1), Encoding::MsgPack);
        }
        r.ack(3, Encoding::MsgPack);
        assert_eq!(r.len(), 2);
        assert_eq!(r.after(3).unwrap().len(), 2);
        assert_eq!(r.after(2).err(), Some(ReplayError::Gone), "frame 3 was freed");
        r.ack(99, Encoding::MsgPack);
        assert!(r.is_empty());
        assert!(r.after(5).unwrap().is_empty());
    }

    /// Issue 11's case: everything sent was acknowledged, then the client
    /// resumes from an earlier seq. The frames in between are gone: refuse.
    #[test]
    fn resuming_from_before_the_acknowledged_seq_is_refused_not_skipped() {
        let mut r = Replay::default();
        for _ in 0..12 {
            r.push(ev(1), Encoding::MsgPack);
        }
        r.ack(12, Encoding::MsgPack);
        assert!(r.is_empty());
        assert_eq!(r.after(7).err(), Some(ReplayError::Gone));
        assert_eq!(r.after(11).err(), Some(ReplayError::Gone));
        assert!(r.after(12).unwrap().is_empty());
        r.push(ev(1), Encoding::MsgPack);
        assert_eq!(r.after(7).err(), Some(ReplayError::Gone));
        assert_eq!(r.after(12).unwrap().len(), 1);
        // Acknowledged up to 8 of 13: 9..13 are held, resuming from 8 or later works.
        let mut r = Replay::default();
        for _ in 0..13 {
            r.push(ev(1), Encoding::MsgPack);
        }
        r.ack(8, Encoding::MsgPack);
        assert_eq!(r.after(7).err(), Some(ReplayError::Gone));
        let seqs: Vec<u64> = r.after(8).unwrap().iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [9, 10, 11, 12, 13]);
    }

    #[test]
    fn overflow_makes_older_resumes_impossible() {
        let mut r = Replay::default();
        for _ in 0..(MAX_REPLAY_FRAMES + 10) {
            r.push(ev(1), Encoding::MsgPack);
        }
        assert_eq!(r.len(), MAX_REPLAY_FRAMES);
        assert_eq!(r.after(0).err(), Some(ReplayError::Gone));
        assert_eq!(r.after(5).err(), Some(ReplayError::Gone));
        let last = r.last();
        assert_eq!(r.after(last - 3).unwrap().len(), 3);
    }

    #[test]
    fn bytes_follow_pushes_acks_and_clear() {
        let mut r = Replay::default();
        let one = ev(10).len(Encoding::MsgPack);
        for _ in 0..4 {
            r.push(ev(10), Encoding::MsgPack);
        }
        assert_eq!((r.len(), r.bytes()), (4, 4 * one));
        r.ack(3, Encoding::MsgPack);
        assert_eq!((r.len(), r.bytes()), (1, one));
        r.clear();
        assert_eq!((r.len(), r.bytes()), (0, 0));
        assert_eq!(r.frames.capacity(), 0, "an ended session gives its buffer back");
    }

    #[test]
    fn byte_bound_is_enforced() {
        let mut r = Replay::default();
        let big = MAX_REPLAY_BYTES / 4 + 1;
        for _ in 0..5 {
            r.push(ev(big), Encoding::MsgPack);
        }
        assert!(r.len() <= 3);
        assert_eq!(r.after(0).err(), Some(ReplayError::Gone));
    }
}
