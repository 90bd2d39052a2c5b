//! Voice: an SFU on str0m (sans-IO WebRTC) behind one UDP port.
//!
//! - [`net`]: the UDP socket and its reader thread;
//! - [`demux`]: which participant a datagram belongs to (by ICE ufrag, then by address);
//! - [`participant`]: one participant's `Rtc` and SDP negotiation;
//! - [`flags`]: who hears whom (mute, deafen);
//! - [`speaking`]: speaking indicators from audio levels.
//!
//! The room actor that ties these together is `actors::voice_room`; the
//! guild actor admits participants and keeps voice states (docs/voice.md).

pub mod demux;
pub mod flags;
pub mod net;
pub mod participant;
pub mod speaking;

pub use net::{PublicAddr, VoiceNet};
