//! Who hears whom: the forwarding rule of the SFU, from each participant's
//! mute and deafen state. Pure.

/// A participant's voice flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// Muted by themselves.
    pub self_mute: bool,
    /// Deafened by themselves.
    pub self_deaf: bool,
    /// Muted by a moderator.
    pub mute: bool,
    /// Deafened by a moderator.
    pub deaf: bool,
    /// Without the speak permission.
    pub suppress: bool,
}

impl Flags {
    /// Nothing this participant sends is forwarded.
    pub fn silenced(&self) -> bool {
        self.self_mute || self.mute || self.suppress
    }

    /// Nothing is forwarded to this participant.
    pub fn deafened(&self) -> bool {
        self.self_deaf || self.deaf
    }
}

/// Whether audio from `from` is forwarded to `to` (never to oneself: the
/// caller passes distinct participants).
pub fn forwards(from: &Flags, to: &Flags) -> bool {
    !from.silenced() && !to.deafened()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mute_stops_sending_and_deafen_stops_receiving() {
        let open = Flags::default();
        assert!(forwards(&open, &open));
        for f in [Flags { self_mute: true, ..open }, Flags { mute: true, ..open }, Flags { suppress: true, ..open }] {
            assert!(!forwards(&f, &open), "{f:?} sending");
            assert!(forwards(&open, &f), "{f:?} still hears");
        }
        for f in [Flags { self_deaf: true, ..open }, Flags { deaf: true, ..open }] {
            assert!(!forwards(&open, &f), "{f:?} receiving");
            assert!(forwards(&f, &open), "{f:?} still heard");
        }
    }
}
