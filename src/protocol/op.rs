//! Gateway op codes. Discord's numbers where the meaning is the same; Hearth's
//! own operations use 40 and up, which Discord does not use.
//!
//! Each op is declared once, in the [`ops!`] list below: its number, its
//! documented name, its direction and its description. `Op`, `Op::ALL`,
//! `Op::from_u8`, `Op::name` and `Op::description` are generated from that
//! list, and tests/docs_agree.rs checks docs/protocol.md against them.

use serde::{Deserialize, Serialize};

/// Who sends an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server.
    ToServer,
    /// Server → client.
    ToClient,
}

impl Direction {
    /// As the ops table of docs/protocol.md writes it.
    pub fn as_doc(self) -> &'static str {
        match self {
            Direction::ToServer => "client → server",
            Direction::ToClient => "server → client",
        }
    }
}

/// Declares `Op` and everything derived from its one list of ops.
macro_rules! ops {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $num:literal, $name:literal, $dir:ident; )*) => {
        /// An op code of the gateway frame `{op, d, s, t}`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Op {
            $( $(#[doc = $doc])+ $variant = $num, )*
        }

        impl Op {
            /// Every op, in number order.
            pub const ALL: [Op; [$(Op::$variant),*].len()] = [$(Op::$variant),*];

            /// The op for a wire number, if it exists.
            pub fn from_u8(n: u8) -> Option<Op> {
                match n {
                    $( $num => Some(Op::$variant), )*
                    _ => None,
                }
            }

            /// The documented name (as in docs/protocol.md).
            pub fn name(self) -> &'static str {
                match self {
                    $( Op::$variant => $name, )*
                }
            }

            /// Who sends it.
            pub fn direction(self) -> Direction {
                match self {
                    $( Op::$variant => Direction::$dir, )*
                }
            }

            /// What it means (its doc comment).
            pub fn description(self) -> &'static str {
                match self {
                    $( Op::$variant => concat!($($doc),+).trim_ascii(), )*
                }
            }
        }
    };
}

ops! {
    /// An event (`t` names it, `s` numbers it).
    Dispatch = 0, "DISPATCH", ToClient;
    /// Keep-alive; the server answers with HEARTBEAT_ACK.
    Heartbeat = 1, "HEARTBEAT", ToServer;
    /// Authenticate the connection.
    Identify = 2, "IDENTIFY", ToServer;
    /// Set the user's presence status.
    PresenceUpdate = 3, "PRESENCE_UPDATE", ToServer;
    /// Continue a dropped session.
    Resume = 6, "RESUME", ToServer;
    /// Reconnect and resume (e.g. the server is restarting).
    Reconnect = 7, "RECONNECT", ToClient;
    /// Ask for a guild's members (and subscribe to its presences).
    RequestGuildMembers = 8, "REQUEST_GUILD_MEMBERS", ToServer;
    /// The session cannot be resumed; identify again.
    InvalidSession = 9, "INVALID_SESSION", ToClient;
    /// First frame, carries the heartbeat interval.
    Hello = 10, "HELLO", ToClient;
    /// Answer to HEARTBEAT.
    HeartbeatAck = 11, "HEARTBEAT_ACK", ToClient;
    /// Send a message to a channel.
    SendMessage = 40, "SEND_MESSAGE", ToServer;
    /// A command succeeded (e.g. a message is durable).
    Ack = 41, "ACK", ToClient;
    /// The user is typing in a channel.
    Typing = 42, "TYPING", ToServer;
    /// A command failed; the connection stays open.
    Error = 43, "ERROR", ToClient;
    /// Join, leave or switch a voice channel, or set self mute/deafen.
    VoiceStateUpdate = 44, "VOICE_STATE_UPDATE", ToServer;
    /// The SDP answer to the server's VOICE_OFFER.
    VoiceAnswer = 45, "VOICE_ANSWER", ToServer;
}

impl Op {
    /// Whether a client may send this op.
    pub fn client_may_send(self) -> bool {
        self.direction() == Direction::ToServer
    }
}

impl Serialize for Op {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(*self as u8)
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u8::deserialize(d)?;
        Op::from_u8(n).ok_or_else(|| serde::de::Error::custom(format!("unknown op {n}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_are_unique() {
        for op in Op::ALL {
            assert_eq!(Op::from_u8(op as u8), Some(op));
        }
        let mut nums: Vec<u8> = Op::ALL.iter().map(|o| *o as u8).collect();
        nums.dedup();
        assert_eq!(nums.len(), Op::ALL.len());
        assert_eq!(Op::from_u8(5), None);
        assert_eq!(Op::from_u8(255), None);
    }

    #[test]
    fn names_and_descriptions_come_from_the_one_list() {
        assert_eq!(Op::ALL.len(), 16);
        assert_eq!((Op::Hello.name(), Op::Hello as u8), ("HELLO", 10));
        assert_eq!(Op::Error.description(), "A command failed; the connection stays open.");
        assert!(Op::Heartbeat.client_may_send() && !Op::HeartbeatAck.client_may_send());
        assert!(Op::ALL.windows(2).all(|w| (w[0] as u8) < (w[1] as u8)), "ALL is in number order");
    }
}
