//! The one error type clients see, for REST (`{code, message}` with an HTTP
//! status) and the gateway (op 43 ERROR frames). Module errors convert into it
//! here, in one place.

use std::fmt;

use crate::model::validate::Invalid;
use crate::model::Permissions;
use crate::store::StoreError;

/// Declares [`ErrorCode`] from one table: variant, wire code, HTTP status,
/// meaning. docs/api.md lists every row; tests/docs_agree.rs checks it.
macro_rules! error_codes {
    ($($variant:ident = ($code:literal, $status:literal, $meaning:literal),)*) => {
        /// Every error code a client can receive.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = $meaning]
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every code, in the documented order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The stable machine-readable code sent to clients.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status that goes with it.
            pub const fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// What it means, as docs/api.md says.
            pub const fn meaning(self) -> &'static str {
                match self { $(ErrorCode::$variant => $meaning,)* }
            }
        }
    };
}

error_codes! {
    InvalidBody = ("invalid_body", 400, "The body or a field is malformed or out of range"),
    InvalidQuery = ("invalid_query", 400, "A query parameter is malformed or out of range"),
    CannotTargetSelf = ("cannot_target_self", 400, "Befriending or blocking yourself"),
    InvalidReference = ("invalid_reference", 400, "A reply names a message that is not in this channel"),
    UnknownMention = ("unknown_mention", 400, "A mention names a user, role or channel that does not exist here"),
    UnknownEmoji = ("unknown_emoji", 400, "Not a Unicode emoji, nor a custom emoji of this guild"),
    MessageTooOld = ("message_too_old", 400, "A bulk delete names a message older than MAX_BULK_DELETE_AGE_SECS"),
    Unauthorized = ("unauthorized", 401, "Missing, malformed, unknown or revoked bearer token"),
    InvalidCredentials = ("invalid_credentials", 401, "Wrong username or password"),
    AccountDisabled = ("account_disabled", 403, "The account was disabled by the server's operator (`hearth admin disable`)"),
    MissingPermissions = ("missing_permissions", 403, "You can see the resource but may not do this"),
    CannotEditMessage = ("cannot_edit_message", 403, "Only its author can edit a message, and system messages cannot be edited"),
    Hierarchy = ("hierarchy", 403, "The target role or member is at or above your highest role"),
    CannotMessageUser = ("cannot_message_user", 403, "A block or the user's DM privacy settings refuse this DM or group DM"),
    CannotBefriendUser = ("cannot_befriend_user", 403, "The user does not accept friend requests from you, or you blocked them"),
    ForbiddenOrigin = ("forbidden_origin", 403, "The WebSocket upgrade came from a web page whose Origin is not allowed"),
    NotFound = ("not_found", 404, "No such route"),
    UnknownUser = ("unknown_user", 404, "No such user"),
    UnknownGuild = ("unknown_guild", 404, "No such guild, or you are not a member"),
    UnknownChannel = ("unknown_channel", 404, "No such channel, or you may not view it"),
    UnknownMessage = ("unknown_message", 404, "No such message in this channel"),
    UnknownRole = ("unknown_role", 404, "No such role in this guild"),
    UnknownMember = ("unknown_member", 404, "No such member in this guild"),
    UnknownInvite = ("unknown_invite", 404, "No such invite, or it expired or was used up"),
    UnknownSession = ("unknown_session", 404, "No such login session"),
    UnknownRelationship = ("unknown_relationship", 404, "No such relationship, or no friend request to accept"),
    MethodNotAllowed = ("method_not_allowed", 405, "The route does not support this method"),
    UsernameTaken = ("username_taken", 409, "The username is in use (case-insensitively)"),
    AlreadyFriends = ("already_friends", 409, "A friend request to someone who is already a friend"),
    AlreadyRequested = ("already_requested", 409, "A friend request while yours to the same user is pending"),
    Conflict = ("conflict", 409, "The request conflicts with the current state (e.g. already a member)"),
    PayloadTooLarge = ("payload_too_large", 413, "The body is larger than MAX_BODY_BYTES"),
    UnsupportedMediaType = ("unsupported_media_type", 415, "Content-Type is neither application/json nor application/msgpack"),
    LimitReached = ("limit_reached", 422, "A documented count limit was reached (channels, roles, guilds, ...)"),
    NotVoiceChannel = ("not_voice_channel", 400, "The channel is not a voice channel"),
    InvalidSdp = ("invalid_sdp", 400, "The SDP answer cannot be parsed or does not fit the offer; a new offer follows"),
    VoiceChannelFull = ("voice_channel_full", 422, "The voice channel has `voice_max_room_participants` participants"),
    VoiceServerFull = ("voice_server_full", 503, "The server has `voice_max_participants` voice participants"),
    VoiceUnavailable = ("voice_unavailable", 503, "Voice is turned off on this server (`--no-voice`)"),
    RateLimited = ("rate_limited", 429, "Too many requests; retry after the given time"),
    TooManyConnections = ("too_many_connections", 429, "This address has MAX_CONNECTIONS_PER_IP gateway connections open"),
    Overloaded = ("overloaded", 503, "Too many password checks are waiting; retry after the given time"),
    Internal = ("internal", 500, "Something went wrong on the server; nothing was changed"),
    Unavailable = ("unavailable", 503, "The server is shutting down"),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An error with a stable code, an HTTP status and a message for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// HTTP status (the code's, see [`ErrorCode::status`]).
    pub status: u16,
    /// Human-readable explanation.
    pub message: String,
    /// For `rate_limited`: milliseconds until a retry may succeed.
    pub retry_after_ms: Option<u64>,
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AppError {}

impl AppError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError { code, status: code.status(), message: message.into(), retry_after_ms: None }
    }

    /// 400 invalid_body.
    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::InvalidBody, message)
    }
    /// 401 unauthorized.
    pub fn unauthorized() -> AppError {
        AppError::new(ErrorCode::Unauthorized, "a valid bearer token is required")
    }
    /// 403 account_disabled.
    pub fn account_disabled() -> AppError {
        AppError::new(ErrorCode::AccountDisabled, "this account is disabled; ask the server's operator")
    }
    /// 403 missing_permissions, naming what is missing.
    pub fn missing_permissions(needed: Permissions) -> AppError {
        AppError::missing_permissions_msg(format!("missing permission: {}", needed.names().join(", ")))
    }
    /// 403 missing_permissions with a message of its own.
    pub fn missing_permissions_msg(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::MissingPermissions, message)
    }
    /// 403 hierarchy.
    pub fn hierarchy(what: &str) -> AppError {
        AppError::new(ErrorCode::Hierarchy, format!("{what} is at or above your highest role"))
    }
    /// 404 unknown_guild.
    pub fn unknown_guild() -> AppError {
        AppError::new(ErrorCode::UnknownGuild, "unknown guild")
    }
    /// 404 unknown_channel.
    pub fn unknown_channel() -> AppError {
        AppError::new(ErrorCode::UnknownChannel, "unknown channel")
    }
    /// 404 unknown_user.
    pub fn unknown_user() -> AppError {
        AppError::new(ErrorCode::UnknownUser, "unknown user")
    }
    /// 404 unknown_role.
    pub fn unknown_role() -> AppError {
        AppError::new(ErrorCode::UnknownRole, "unknown role")
    }
    /// 404 unknown_member.
    pub fn unknown_member() -> AppError {
        AppError::new(ErrorCode::UnknownMember, "unknown member")
    }
    /// 404 unknown_message.
    pub fn unknown_message() -> AppError {
        AppError::new(ErrorCode::UnknownMessage, "unknown message")
    }
    /// 404 unknown_invite.
    pub fn unknown_invite() -> AppError {
        AppError::new(ErrorCode::UnknownInvite, "unknown, expired or used-up invite")
    }
    /// 409 conflict.
    pub fn conflict(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::Conflict, message)
    }
    /// 422 limit_reached.
    pub fn limit(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::LimitReached, message)
    }
    /// 500 internal (details go to the log, not the client).
    pub fn internal() -> AppError {
        AppError::new(ErrorCode::Internal, "internal error")
    }
}

impl From<Invalid> for AppError {
    fn from(e: Invalid) -> Self {
        AppError::invalid(e.to_string())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Closed => AppError::new(ErrorCode::Unavailable, "the server is shutting down"),
            other => {
                tracing::error!(error = %other, "store error");
                AppError::internal()
            }
        }
    }
}

impl From<crate::auth::pool::PoolError> for AppError {
    fn from(e: crate::auth::pool::PoolError) -> Self {
        use crate::auth::pool::PoolError;
        match e {
            PoolError::Busy => {
                let retry = crate::protocol::limits::OVERLOADED_RETRY_AFTER;
                let mut e = AppError::new(ErrorCode::Overloaded, "too many password checks are waiting; retry shortly");
                e.retry_after_ms = Some(u64::try_from(retry.as_millis()).unwrap_or(1000));
                e
            }
            PoolError::Failed => {
                tracing::error!("password hashing failed");
                AppError::internal()
            }
        }
    }
}

impl From<actix::MailboxError> for AppError {
    fn from(e: actix::MailboxError) -> Self {
        tracing::warn!(error = %e, "actor mailbox error");
        AppError::new(ErrorCode::Unavailable, "the target is restarting; retry")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_statuses_sane() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate {c}");
            assert!(c.as_str().chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'), "{c}");
            assert!((400..600).contains(&c.status()));
            assert!(!c.meaning().is_empty());
        }
        assert_eq!(AppError::unknown_channel().status, 404);
        assert_eq!(serde_json::to_string(&ErrorCode::RateLimited).unwrap(), "\"rate_limited\"");
    }
}
