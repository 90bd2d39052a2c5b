//! Gateway op codes. Discord's numbers where the meaning is the same; Hearth's
//! own operations use 40 and up, which Discord does not use.

use serde::{Deserialize, Serialize};

/// An op code of the gateway frame `{op, d, s, t}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    /// Server → client: an event (`t` names it, `s` numbers it).
    Dispatch = 0,
    /// Both ways: keep-alive; the server answers with HeartbeatAck.
    Heartbeat = 1,
    /// Client → server: authenticate the connection.
    Identify = 2,
    /// Client → server: set the user's presence status.
    PresenceUpdate = 3,
    /// Client → server: continue a dropped session.
    Resume = 6,
    /// Server → client: reconnect and resume (e.g. the server is restarting).
    Reconnect = 7,
    /// Client → server: ask for a guild's members (and subscribe to its presences).
    RequestGuildMembers = 8,
    /// Server → client: the session cannot be resumed; identify again.
    InvalidSession = 9,
    /// Server → client: first frame, carries the heartbeat interval.
    Hello = 10,
    /// Server → client: answer to Heartbeat.
    HeartbeatAck = 11,
    /// Client → server: send a message to a channel.
    SendMessage = 40,
    /// Server → client: a command succeeded (e.g. a message is durable).
    Ack = 41,
    /// Client → server: the user is typing in a channel.
    Typing = 42,
    /// Server → client: a command failed; the connection stays open.
    Error = 43,
    /// Client → server: join, leave or switch a voice channel, or set self mute/deafen.
    VoiceStateUpdate = 44,
    /// Client → server: the SDP answer to the server's VOICE_OFFER.
    VoiceAnswer = 45,
}

impl Op {
    /// Every op, for docs checks and decoding.
    pub const ALL: [Op; 16] = [
        Op::Dispatch,
        Op::Heartbeat,
        Op::Identify,
        Op::PresenceUpdate,
        Op::Resume,
        Op::Reconnect,
        Op::RequestGuildMembers,
        Op::InvalidSession,
        Op::Hello,
        Op::HeartbeatAck,
        Op::SendMessage,
        Op::Ack,
        Op::Typing,
        Op::Error,
        Op::VoiceStateUpdate,
        Op::VoiceAnswer,
    ];

    /// The op for a wire number, if it exists.
    pub fn from_u8(n: u8) -> Option<Op> {
        Op::ALL.iter().copied().find(|op| *op as u8 == n)
    }

    /// The documented name (as in docs/protocol.md).
    pub fn name(self) -> &'static str {
        match self {
            Op::Dispatch => "DISPATCH",
            Op::Heartbeat => "HEARTBEAT",
            Op::Identify => "IDENTIFY",
            Op::PresenceUpdate => "PRESENCE_UPDATE",
            Op::Resume => "RESUME",
            Op::Reconnect => "RECONNECT",
            Op::RequestGuildMembers => "REQUEST_GUILD_MEMBERS",
            Op::InvalidSession => "INVALID_SESSION",
            Op::Hello => "HELLO",
            Op::HeartbeatAck => "HEARTBEAT_ACK",
            Op::SendMessage => "SEND_MESSAGE",
            Op::Ack => "ACK",
            Op::Typing => "TYPING",
            Op::Error => "ERROR",
            Op::VoiceStateUpdate => "VOICE_STATE_UPDATE",
            Op::VoiceAnswer => "VOICE_ANSWER",
        }
    }

    /// Whether a client may send this op.
    pub fn client_may_send(self) -> bool {
        matches!(
            self,
            Op::Heartbeat
                | Op::Identify
                | Op::PresenceUpdate
                | Op::Resume
                | Op::RequestGuildMembers
                | Op::SendMessage
                | Op::Typing
                | Op::VoiceStateUpdate
                | Op::VoiceAnswer
        )
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
}
