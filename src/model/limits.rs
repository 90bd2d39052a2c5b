//! Limits of the records Hearth keeps: lengths of names and content, counts
//! per guild and per user, page sizes. The domain enforces them for REST and
//! the gateway alike; `docs/api.md` and `docs/protocol.md` list each by name
//! (a test keeps them in step).

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
/// Combining marks in a row allowed in names, nicknames and topics (more is
/// "Zalgo" text that spills over the lines around it).
pub const MAX_COMBINING_MARKS: usize = 8;
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
/// Live login sessions (tokens) per user; the oldest is revoked past this.
pub const MAX_TOKENS_PER_USER: usize = 100;
/// Relationships (friends, blocks, pending requests either way) one user may have.
pub const MAX_RELATIONSHIPS: usize = 1000;
/// Group DMs one user may be in; creating or adding to one past this is refused
/// for the creator and for whoever would be added.
pub const MAX_GROUP_DMS_PER_USER: usize = 100;
/// Largest (and default) page of `GET /api/v1/users/@me/channels`.
pub const MAX_PRIVATE_CHANNELS_PAGE: u32 = 200;
/// Characters of the original a reply carries in `referenced_message.content`.
pub const MAX_REPLY_EXCERPT_CHARS: usize = 100;
/// Earlier versions kept per edited message (the oldest is dropped past this).
pub const MAX_MESSAGE_VERSIONS: usize = 20;
/// Fewest messages a bulk delete takes.
pub const MIN_BULK_DELETE: usize = 2;
/// Most messages a bulk delete takes.
pub const MAX_BULK_DELETE: usize = 100;
/// Oldest message a bulk delete may remove (14 days), in seconds.
pub const MAX_BULK_DELETE_AGE_SECS: u64 = 14 * 24 * 3600;
/// Distinct emoji reacted with on one message.
pub const MAX_REACTION_EMOJIS_PER_MESSAGE: usize = 20;
/// Largest page of users who reacted with an emoji.
pub const MAX_REACTION_USERS_PAGE: u32 = 100;
/// Page of users who reacted when the client gives no limit.
pub const DEFAULT_REACTION_USERS_PAGE: u32 = 25;
/// Pinned messages per channel.
pub const MAX_PINS_PER_CHANNEL: usize = 50;
/// Distinct users, roles and channels one message may mention, together.
pub const MAX_MENTIONS_PER_MESSAGE: usize = 50;
/// Ids in `allowed_mentions.users` or `allowed_mentions.roles`.
pub const MAX_ALLOWED_MENTIONS_IDS: usize = 100;
/// Longest custom emoji name, in characters.
pub const MAX_EMOJI_NAME_CHARS: usize = 32;
/// Embeds per message.
pub const MAX_EMBEDS_PER_MESSAGE: usize = 10;
/// Embed title, in characters.
pub const MAX_EMBED_TITLE_CHARS: usize = 256;
/// Embed description, in characters.
pub const MAX_EMBED_DESCRIPTION_CHARS: usize = 4096;
/// Fields per embed.
pub const MAX_EMBED_FIELDS: usize = 25;
/// Embed field name, in characters.
pub const MAX_EMBED_FIELD_NAME_CHARS: usize = 256;
/// Embed field value, in characters.
pub const MAX_EMBED_FIELD_VALUE_CHARS: usize = 1024;
/// Embed footer text, in characters.
pub const MAX_EMBED_FOOTER_CHARS: usize = 2048;
/// Embed author name, in characters.
pub const MAX_EMBED_AUTHOR_CHARS: usize = 256;
/// All text of a message's embeds together, in characters.
pub const MAX_EMBED_TOTAL_CHARS: usize = 6000;
/// Longest URL in an embed, in bytes.
pub const MAX_EMBED_URL_BYTES: usize = 2048;
