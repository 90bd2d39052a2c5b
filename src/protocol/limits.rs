//! Every limit Hearth enforces, in one place. `docs/protocol.md` and
//! `docs/api.md` list each of these by name; a test keeps them in step.

use std::time::Duration;

/// Largest WebSocket frame (message) a client may send, in bytes.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Deepest nesting of arrays/maps accepted in a MessagePack frame or body
/// (JSON: serde_json's own limit of 128).
pub const MAX_DECODE_DEPTH: usize = 32;
/// Default gateway connections one IP address may hold open (`--max-connections-per-ip`).
pub const MAX_CONNECTIONS_PER_IP: usize = 100;
/// Largest REST request body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Interval the server asks clients to heartbeat at (sent in Hello).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(41_250);
/// A session is closed (4009) after this many heartbeat intervals without a
/// heartbeat (61 875 ms at the default interval).
pub const HEARTBEAT_TIMEOUT_FACTOR: f64 = 1.5;
/// A connection must Identify within this time after Hello or is closed (4003).
pub const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(30);
/// Frames a session may have queued for sending before it counts as a slow reader.
pub const MAX_OUTBOUND_FRAMES: usize = 4096;
/// Default bytes a session may have queued for sending before it counts as a
/// slow reader (4021); configurable with `--max-outbound-bytes`.
pub const MAX_OUTBOUND_BYTES: usize = 4 * 1024 * 1024;

/// Message content length after trimming, in characters (Unicode scalar values).
pub const MIN_MESSAGE_CHARS: usize = 1;
/// Maximum message content length after trimming, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Largest page of message history.
pub const MAX_HISTORY_LIMIT: u32 = 100;
/// Page size when the client gives none.
pub const DEFAULT_HISTORY_LIMIT: u32 = 50;
/// Longest client nonce (echoed back on acknowledgement), in bytes.
pub const MAX_NONCE_BYTES: usize = 64;

/// Username length bounds, in characters.
pub const MIN_USERNAME_CHARS: usize = 2;
/// Maximum username length, in characters.
pub const MAX_USERNAME_CHARS: usize = 32;
/// Password length bounds, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Maximum password length, in characters.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Maximum display name / nickname length, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 32;
/// Maximum guild, channel and role name length, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Maximum channel topic length, in characters.
pub const MAX_TOPIC_CHARS: usize = 1024;

/// Longest slow-mode interval (`rate_limit_per_user`), in seconds (6 hours).
pub const MAX_SLOWMODE_SECS: u32 = 21_600;
/// Channels (including categories) per guild.
pub const MAX_CHANNELS_PER_GUILD: usize = 500;
/// Roles per guild, including @everyone.
pub const MAX_ROLES_PER_GUILD: usize = 250;
/// Guilds a user may be a member of.
pub const MAX_GUILDS_PER_USER: usize = 200;
/// People in a group DM, including its owner.
pub const MAX_GROUP_DM_MEMBERS: usize = 10;
/// Permission overwrites per channel.
pub const MAX_OVERWRITES_PER_CHANNEL: usize = 100;
/// Largest page of members.
pub const MAX_MEMBERS_PAGE: u32 = 1000;
/// Invites per guild.
pub const MAX_INVITES_PER_GUILD: usize = 1000;
/// Longest invite lifetime a client may ask for (7 days), in seconds.
pub const MAX_INVITE_AGE_SECS: u64 = 7 * 24 * 3600;
/// Largest max_uses on an invite.
pub const MAX_INVITE_USES: u32 = 100_000;

/// Above this many members, presence updates go only to sessions that asked
/// for the guild's member list (op 8), not to every member.
pub const LARGE_GUILD_THRESHOLD: usize = 250;
/// Live login sessions (tokens) per user; the oldest is revoked past this.
pub const MAX_TOKENS_PER_USER: usize = 100;

/// Requests the store writer drains into one commit at most.
pub const MAX_COMMIT_BATCH: usize = 1024;
/// Default idle time after which a channel or guild actor with no readers
/// stops (configurable with `--actor-idle-secs`).
pub const ACTOR_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Mailbox capacity of internal actors (hubs, channels, guilds). Deliveries
/// use `do_send`, which is not bounded by it; it only bounds awaited requests.
pub const INTERNAL_MAILBOX_CAPACITY: usize = 1 << 20;
/// Dispatch frames a session keeps for Resume (frames the client acknowledged
/// with a heartbeat `d` are freed earlier).
pub const MAX_REPLAY_FRAMES: usize = 8192;
/// Payload bytes a session keeps for Resume (payloads are shared between
/// sessions, so this bounds what one session can pin).
pub const MAX_REPLAY_BYTES: usize = 8 * 1024 * 1024;
/// Default time a disconnected session stays resumable (`--resume-grace-secs`).
pub const RESUME_GRACE: Duration = Duration::from_secs(120);

/// Default UDP port of the voice socket (`--voice-bind`; the IP defaults to `--bind`'s).
pub const DEFAULT_VOICE_PORT: u16 = 50_000;
/// Default most participants in one voice channel (`--voice-max-room-participants`).
pub const MAX_VOICE_ROOM_PARTICIPANTS: usize = 25;
/// Default most voice participants on the whole server (`--voice-max-participants`).
pub const MAX_VOICE_PARTICIPANTS: usize = 1000;
/// Largest SDP answer accepted in VOICE_ANSWER (bytes).
pub const MAX_SDP_BYTES: usize = 32 * 1024;
/// Largest UDP datagram read from the voice socket; longer ones are dropped (they
/// cannot be WebRTC traffic, which stays under the path MTU).
pub const MAX_VOICE_DATAGRAM_BYTES: usize = 2048;
/// A participant that has not completed ICE and DTLS this long after an offer is removed.
pub const VOICE_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A participant with no datagram at all for this long (browsers send STUN
/// consent checks every few seconds even when muted) is removed.
pub const VOICE_PEER_TIMEOUT: Duration = Duration::from_secs(10);
/// An offer not answered this long removes the participant.
pub const VOICE_ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// Source addresses remembered per participant (ICE may switch paths; the
/// oldest is forgotten first).
pub const MAX_VOICE_ADDRS_PER_PARTICIPANT: usize = 4;
/// Datagrams queued to one voice room before more are dropped (UDP: a late
/// packet is worth less than a fresh one).
pub const VOICE_ROOM_MAILBOX: usize = 4096;
/// RFC 6464 audio level (−dBov) at or above which a packet counts as speech.
pub const SPEAKING_LEVEL_DBOV: i8 = -50;
/// Silence after which a speaker is reported as stopped.
pub const SPEAKING_HOLD: Duration = Duration::from_millis(400);

/// Relationships (friends, blocks, pending requests either way) one user may have.
pub const MAX_RELATIONSHIPS: usize = 1000;
/// Group DMs one user may be in; creating or adding to one past this is refused
/// for the creator and for whoever would be added.
pub const MAX_GROUP_DMS_PER_USER: usize = 100;
/// DMs and group DMs in READY's `dm_channels` (the most recently active first);
/// the rest are listed by `GET /api/v1/users/@me/channels`.
pub const MAX_READY_PRIVATE_CHANNELS: usize = 100;
/// Largest (and default) page of `GET /api/v1/users/@me/channels`.
pub const MAX_PRIVATE_CHANNELS_PAGE: u32 = 200;
