//! Voice: an SFU on str0m (sans-IO WebRTC) behind one UDP port.
//!
//! - [`net`]: the UDP socket and its reader thread;
//! - [`demux`]: which participant a datagram belongs to (by ICE ufrag, then by address);
//! - [`room`]: one voice channel's SFU, sans-IO: forwarding, speaking,
//!   negotiation and time-outs, driven by inputs that carry `now`;
//! - [`participant`]: one participant's `Rtc` and SDP negotiation;
//! - [`flags`]: who hears whom (mute, deafen);
//! - [`speaking`]: speaking indicators from audio levels;
//! - [`liveness`]: when a participant has waited too long.
//!
//! The room actor (`actors::voice_room`) is the shell that feeds a [`room::Room`]
//! the socket, the gateway and a timer; the guild actor admits participants
//! and keeps voice states (docs/voice.md).

pub mod demux;
pub mod flags;
pub mod liveness;
pub mod net;
pub mod participant;
pub mod room;
pub mod speaking;

pub use net::{PublicAddr, VoiceNet};
