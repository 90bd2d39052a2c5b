//! The hot path: one audio packet from one participant to everyone else who
//! should hear it.

use std::time::Instant;

use str0m::media::MediaData;

use super::{Event, Gone, Removal, Room, RouteKey};
use crate::voice::flags::forwards;

impl Room {
    /// Forward `m`, received from `from`, to every other connected
    /// participant the flags allow (never back to `from`), and update
    /// `from`'s speaking state.
    pub(super) fn forward(&mut self, from: u64, m: &MediaData, now: Instant) {
        let Some(src) = self.parts.get_mut(&from) else { return };
        let src_flags = src.flags;
        let change = if src_flags.silenced() {
            src.speaking.reset()
        } else {
            src.speaking.on_packet(now, m.ext_vals.audio_level, m.ext_vals.voice_activity)
        };
        if let Some(speaking) = change {
            self.events.push_back(Event::Speaking { user_id: src.user_id, speaking });
        }
        if src_flags.silenced() {
            return;
        }
        let mut failed: Vec<(u64, Gone)> = Vec::new();
        for (pid, p) in self.parts.iter_mut() {
            if *pid == from || !p.live.connected || !forwards(&src_flags, &p.flags) {
                continue;
            }
            if p.write_audio(from, m) {
                self.forwarded += 1;
            }
            // Receivers only send here: their drains yield transmits, no audio.
            let mut res = p.drain(now, &mut self.transmits, &mut self.drained);
            // str0m packetizes written media on its next timeout, which the
            // write makes due at once. Feeding it here sends the packet now
            // instead of at the room's next timer (up to a millisecond later).
            if res.is_ok() && p.next_timeout <= now {
                p.timeout(now);
                res = p.drain(now, &mut self.transmits, &mut self.drained);
            }
            self.drained.media.clear();
            // Rare: the Rtc switched paths while sending.
            for (addr, routed) in self.drained.addrs.drain(..) {
                let (pid, key) = (*pid, RouteKey::Addr(addr));
                self.events.push_back(if routed { Event::Route { pid, key } } else { Event::Unroute { pid, key } });
            }
            if let Err(e) = res {
                failed.push((*pid, e));
            }
        }
        if failed.is_empty() {
            return;
        }
        for (pid, e) in failed {
            self.remove(pid, Removal::Failed(e));
        }
        self.renegotiate_all(now);
    }
}
