//! Payloads (`d`) of the frames a client sends.

use serde::Deserialize;

use crate::logging::Secret;
use crate::model::embed::Embed;
use crate::model::mentions::AllowedMentions;
use crate::model::{Id, ReplyTo, Status};

/// op 2 IDENTIFY.
#[derive(Debug, Clone, Deserialize)]
pub struct Identify {
    /// A bearer token from `POST /api/v1/auth/login` (never logged).
    pub token: Secret,
    /// Initial presence (defaults to online).
    #[serde(default)]
    pub presence: Option<Status>,
}

/// op 6 RESUME.
#[derive(Debug, Clone, Deserialize)]
pub struct Resume {
    /// The same token the session identified with (never logged).
    pub token: Secret,
    /// `session_id` from READY.
    pub session_id: String,
    /// The last sequence number the client received.
    pub seq: u64,
}

/// op 3 PRESENCE_UPDATE.
#[derive(Debug, Clone, Deserialize)]
pub struct PresenceUpdate {
    /// The new status.
    pub status: Status,
}

/// op 8 REQUEST_GUILD_MEMBERS.
#[derive(Debug, Clone, Deserialize)]
pub struct RequestGuildMembers {
    /// The guild whose members to send.
    pub guild_id: Id,
    /// Page size (1–1000, default 1000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Return members with user ids greater than this.
    #[serde(default)]
    pub after: Option<Id>,
    /// Also send presences and subscribe this session to the guild's presence updates.
    #[serde(default)]
    pub presences: bool,
    /// Echoed in the chunk so the client can match it.
    #[serde(default)]
    pub nonce: Option<String>,
}

/// op 40 SEND_MESSAGE.
#[derive(Debug, Clone, Deserialize)]
pub struct SendMessage {
    /// Target channel.
    pub channel_id: Id,
    /// Text, 1–4000 characters after trimming (may be empty with embeds).
    #[serde(default)]
    pub content: String,
    /// Echoed back in the ACK (op 41) and in MESSAGE_CREATE.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Rich embeds (needs `embed_links`).
    #[serde(default)]
    pub embeds: Vec<Embed>,
    /// The message this one replies to.
    #[serde(default)]
    pub message_reference: Option<ReplyTo>,
    /// Which written mentions may ping.
    #[serde(default)]
    pub allowed_mentions: Option<AllowedMentions>,
}

/// op 42 TYPING.
#[derive(Debug, Clone, Deserialize)]
pub struct Typing {
    /// The channel the user types in.
    pub channel_id: Id,
}

/// op 44 VOICE_STATE_UPDATE: join (`channel_id` set), switch (another
/// channel), leave (`channel_id` null) or change self mute/deafen.
#[derive(Debug, Clone, Deserialize)]
pub struct VoiceStateUpdate {
    /// The guild of the voice channel.
    pub guild_id: Id,
    /// The voice channel to be in; null to leave.
    #[serde(default)]
    pub channel_id: Option<Id>,
    /// The user muted their own microphone (nothing they send is forwarded).
    #[serde(default)]
    pub self_mute: bool,
    /// The user deafened themselves (nothing is forwarded to them).
    #[serde(default)]
    pub self_deaf: bool,
}

/// op 45 VOICE_ANSWER: the SDP answer to the latest VOICE_OFFER.
#[derive(Debug, Clone, Deserialize)]
pub struct VoiceAnswer {
    /// The guild of the voice channel.
    pub guild_id: Id,
    /// The voice channel the offer was for.
    pub channel_id: Id,
    /// `revision` of the VOICE_OFFER this answers.
    pub revision: u32,
    /// The SDP answer.
    pub sdp: String,
}
