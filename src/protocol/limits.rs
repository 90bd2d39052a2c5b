//! Limits of the wire protocol: frame and body sizes, timing of the gateway
//! (heartbeats, identify, resume), outbound queues and voice signalling.
//! `docs/protocol.md` and `docs/api.md` list each of these by name; a test
//! keeps them in step. Limits of the records themselves (names, counts,
//! lengths) are in [`crate::model::limits`]; internal tuning stays with the
//! module it tunes.

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
/// Above this many members, presence updates go only to sessions that asked
/// for the guild's member list (op 8), not to every member.
pub const LARGE_GUILD_THRESHOLD: usize = 250;
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
/// Default idle time after which a channel or guild actor with no readers
/// stops (configurable with `--actor-idle-secs`).
pub const ACTOR_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Password hashes waiting for a hashing thread (`--argon2-threads`) beyond
/// those running; a login, registration or password change past them is
/// answered 503 `overloaded` at once.
pub const MAX_QUEUED_PASSWORD_HASHES: usize = 32;
/// What a refused password hash (`overloaded`) tells the client to wait.
pub const OVERLOADED_RETRY_AFTER: Duration = Duration::from_secs(1);
/// DMs and group DMs in READY's `dm_channels` (the most recently active first);
/// the rest are listed by `GET /api/v1/users/@me/channels`.
pub const MAX_READY_PRIVATE_CHANNELS: usize = 100;
