//! Payloads (`d`) of the frames the server sends, and the dispatch event names.

use serde::Serialize;

use crate::model::relationships::PrivacySettings;
use crate::model::relationships::RelationshipKind;
use crate::model::{Channel, Guild, Id, Member, Message, Role, Status, User};

/// Declares the dispatch event names, each once with its description: the
/// [`event`] constants, [`EVENT_NAMES`] and [`EVENTS`] (checked against
/// docs/protocol.md by tests/docs_agree.rs).
macro_rules! events {
    ($( $(#[doc = $doc:literal])+ $name:ident; )*) => {
        /// Dispatch event names.
        pub mod event {
            $( $(#[doc = $doc])+ pub const $name: &str = stringify!($name); )*
        }

        /// Every dispatch event name (`t`).
        pub const EVENT_NAMES: &[&str] = &[$(event::$name),*];

        /// Every dispatch event name with its description.
        pub const EVENTS: &[(&str, &str)] = &[$((event::$name, concat!($($doc),+).trim_ascii())),*];
    };
}

events! {
    /// After Identify: everything the client needs to start.
    READY;
    /// After a successful Resume, once the missed events were replayed.
    RESUMED;
    /// The user's own profile changed.
    USER_UPDATE;
    /// The user joined (or created) a guild; full guild state.
    GUILD_CREATE;
    /// A guild's settings changed.
    GUILD_UPDATE;
    /// The guild was deleted or the user left or was removed.
    GUILD_DELETE;
    /// A channel became visible or was created.
    CHANNEL_CREATE;
    /// A visible channel changed.
    CHANNEL_UPDATE;
    /// A channel was deleted or is no longer visible.
    CHANNEL_DELETE;
    /// Someone joined a guild.
    GUILD_MEMBER_ADD;
    /// A member's roles or nickname changed.
    GUILD_MEMBER_UPDATE;
    /// Someone left or was removed from a guild.
    GUILD_MEMBER_REMOVE;
    /// Answer to REQUEST_GUILD_MEMBERS.
    GUILD_MEMBERS_CHUNK;
    /// A role was created.
    GUILD_ROLE_CREATE;
    /// A role changed.
    GUILD_ROLE_UPDATE;
    /// A role was deleted.
    GUILD_ROLE_DELETE;
    /// A message was sent in a channel the user can view.
    MESSAGE_CREATE;
    /// A message was edited, pinned or unpinned (the whole message).
    MESSAGE_UPDATE;
    /// A message was deleted.
    MESSAGE_DELETE;
    /// Several messages of one channel were deleted at once.
    MESSAGE_DELETE_BULK;
    /// Someone reacted to a message.
    MESSAGE_REACTION_ADD;
    /// Someone's reaction was taken back or removed.
    MESSAGE_REACTION_REMOVE;
    /// Every reaction of a message was removed.
    MESSAGE_REACTION_REMOVE_ALL;
    /// Every reaction with one emoji was removed from a message.
    MESSAGE_REACTION_REMOVE_EMOJI;
    /// A channel's pins changed.
    CHANNEL_PINS_UPDATE;
    /// A user's presence changed.
    PRESENCE_UPDATE;
    /// Someone started typing.
    TYPING_START;
    /// Someone joined, left or moved between voice channels, or changed mute/deafen.
    VOICE_STATE_UPDATE;
    /// To one session: the server's SDP offer for its voice connection (answer with op 45).
    VOICE_OFFER;
    /// To a voice room: a participant started or stopped speaking.
    VOICE_SPEAKING;
    /// To the user's own sessions: a relationship was created or changed type.
    RELATIONSHIP_ADD;
    /// To the user's own sessions: a relationship ended.
    RELATIONSHIP_REMOVE;
    /// To the user's own sessions: their privacy settings changed.
    USER_SETTINGS_UPDATE;
}

/// op 10 HELLO.
#[derive(Debug, Serialize)]
pub struct Hello {
    /// Milliseconds between heartbeats the client should send.
    pub heartbeat_interval: u64,
}

/// A guild with everything a member sees of it (READY and GUILD_CREATE).
#[derive(Debug, Clone, Serialize)]
pub struct GuildState {
    /// The guild.
    pub guild: Guild,
    /// Channels the user can view, in position order.
    pub channels: Vec<Channel>,
    /// All roles, @everyone included.
    pub roles: Vec<Role>,
    /// The user's own member record.
    pub member: Member,
    /// Number of members.
    pub member_count: usize,
    /// Presences of online members (only for guilds at or below the large-guild threshold).
    pub presences: Vec<Presence>,
    /// Whether the guild is above the large-guild threshold.
    pub large: bool,
    /// Who is in which of the guild's voice channels.
    pub voice_states: Vec<VoiceState>,
}

/// DISPATCH READY.
#[derive(Debug, Serialize)]
pub struct Ready {
    /// Protocol version.
    pub v: u8,
    /// The identified user.
    pub user: User,
    /// The user's guilds.
    pub guilds: Vec<GuildState>,
    /// The user's most recently active DMs and group DMs, newest first (at
    /// most `MAX_READY_PRIVATE_CHANNELS`).
    pub dm_channels: Vec<Channel>,
    /// Whether the user has more DMs than `dm_channels` holds.
    pub more_dm_channels: bool,
    /// Users referenced by `dm_channels` recipients.
    pub dm_users: Vec<User>,
    /// The user's friends, blocks and pending friend requests.
    pub relationships: Vec<Relationship>,
    /// The user's privacy settings.
    pub settings: PrivacySettings,
    /// Id to Resume this session with.
    pub session_id: String,
}

/// DISPATCH RELATIONSHIP_ADD (and READY's `relationships`, REST's list).
#[derive(Debug, Clone, Serialize)]
pub struct Relationship {
    /// The other user's id.
    pub id: Id,
    /// How the user stands with them.
    #[serde(rename = "type")]
    pub kind: RelationshipKind,
    /// The other user.
    pub user: User,
}

/// DISPATCH RELATIONSHIP_REMOVE.
#[derive(Debug, Clone, Serialize)]
pub struct RelationshipRemove {
    /// The other user's id.
    pub id: Id,
    /// The type the relationship had.
    #[serde(rename = "type")]
    pub kind: RelationshipKind,
}

/// A user's status.
#[derive(Debug, Clone, Serialize)]
pub struct Presence {
    /// The user.
    pub user_id: Id,
    /// Their status.
    pub status: Status,
}

/// DISPATCH PRESENCE_UPDATE.
#[derive(Debug, Clone, Serialize)]
pub struct PresenceEvent {
    /// The guild the update is delivered for.
    pub guild_id: Id,
    /// The user.
    pub user_id: Id,
    /// Their new status.
    pub status: Status,
}

/// DISPATCH GUILD_DELETE.
#[derive(Debug, Clone, Serialize)]
pub struct GuildDelete {
    /// The guild.
    pub id: Id,
}

/// DISPATCH CHANNEL_DELETE.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelDelete {
    /// The channel.
    pub id: Id,
    /// Its guild, if any.
    pub guild_id: Option<Id>,
}

/// DISPATCH GUILD_MEMBER_REMOVE.
#[derive(Debug, Clone, Serialize)]
pub struct MemberRemove {
    /// The guild.
    pub guild_id: Id,
    /// The user who left.
    pub user: User,
}

/// DISPATCH GUILD_ROLE_CREATE / GUILD_ROLE_UPDATE.
#[derive(Debug, Clone, Serialize)]
pub struct RoleEvent {
    /// The guild.
    pub guild_id: Id,
    /// The role.
    pub role: Role,
}

/// DISPATCH GUILD_ROLE_DELETE.
#[derive(Debug, Clone, Serialize)]
pub struct RoleDelete {
    /// The guild.
    pub guild_id: Id,
    /// The deleted role.
    pub role_id: Id,
}

/// DISPATCH GUILD_MEMBERS_CHUNK.
#[derive(Debug, Clone, Serialize)]
pub struct MembersChunk {
    /// The guild.
    pub guild_id: Id,
    /// Members, ordered by user id.
    pub members: Vec<Member>,
    /// Presences of the listed members (if asked for).
    pub presences: Vec<Presence>,
    /// Nonce from the request.
    pub nonce: Option<String>,
}

/// DISPATCH TYPING_START.
#[derive(Debug, Clone, Serialize)]
pub struct TypingStart {
    /// The channel.
    pub channel_id: Id,
    /// Its guild, if any.
    pub guild_id: Option<Id>,
    /// Who is typing.
    pub user_id: Id,
    /// Unix milliseconds.
    pub timestamp: u64,
}

/// op 41 ACK.
#[derive(Debug, Clone, Serialize)]
pub struct Ack {
    /// The op that is acknowledged.
    pub op: u8,
    /// The command's nonce.
    pub nonce: Option<String>,
    /// The durable message (for SEND_MESSAGE).
    pub message: Option<Message>,
}

/// op 43 ERROR.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorFrame {
    /// The op that failed.
    pub op: u8,
    /// The command's nonce, if it had one.
    pub nonce: Option<String>,
    /// A stable machine-readable code (same table as REST errors).
    pub code: &'static str,
    /// A human-readable explanation.
    pub message: String,
    /// For `rate_limited`: milliseconds until a retry may succeed.
    pub retry_after_ms: Option<u64>,
}

/// DISPATCH VOICE_STATE_UPDATE (and READY's `voice_states`): one user's voice state in a guild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoiceState {
    /// The guild.
    pub guild_id: Id,
    /// The voice channel, or null when the user left voice.
    pub channel_id: Option<Id>,
    /// The user.
    pub user_id: Id,
    /// The gateway session that holds the voice connection: the part of its
    /// READY `session_id` before the dot (the rest, the resume secret, is never shared).
    pub session_id: String,
    /// Muted by themselves.
    pub self_mute: bool,
    /// Deafened by themselves.
    pub self_deaf: bool,
    /// Muted by a moderator (mute_members).
    pub mute: bool,
    /// Deafened by a moderator (deafen_members).
    pub deaf: bool,
    /// Lacks the speak permission in this channel (nothing they send is forwarded).
    pub suppress: bool,
}

/// One outgoing audio stream of a VOICE_OFFER: media line `mid` carries `user_id`'s audio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoiceStream {
    /// The SDP media id (`a=mid:`).
    pub mid: String,
    /// Whose audio it carries.
    pub user_id: Id,
}

/// DISPATCH VOICE_OFFER.
#[derive(Debug, Clone, Serialize)]
pub struct VoiceOffer {
    /// The guild.
    pub guild_id: Id,
    /// The voice channel.
    pub channel_id: Id,
    /// Increases with every offer of this voice connection; echo it in VOICE_ANSWER.
    pub revision: u32,
    /// The SDP offer (ICE-lite, one host candidate, DTLS-SRTP, Opus).
    pub sdp: String,
    /// The media line the client sends its microphone on.
    pub send_mid: String,
    /// The media lines that carry the other participants' audio.
    pub streams: Vec<VoiceStream>,
}

/// DISPATCH VOICE_SPEAKING.
#[derive(Debug, Clone, Serialize)]
pub struct VoiceSpeaking {
    /// The guild.
    pub guild_id: Id,
    /// The voice channel.
    pub channel_id: Id,
    /// Who.
    pub user_id: Id,
    /// Started (true) or stopped (false) speaking.
    pub speaking: bool,
}
