//! The one error type clients see, for REST (`{code, message}` with an HTTP
//! status) and the gateway (op 43 ERROR frames). Module errors convert into it
//! here, in one place.

use std::fmt;

use crate::model::validate::Invalid;
use crate::model::Permissions;
use crate::store::StoreError;

/// Every error code, with its HTTP status and meaning (docs/api.md lists them;
/// a test keeps the two in step).
pub const ERROR_CODES: &[(&str, u16, &str)] = &[
    ("invalid_body", 400, "The body or a field is malformed or out of range"),
    ("invalid_query", 400, "A query parameter is malformed or out of range"),
    ("unauthorized", 401, "Missing, malformed, unknown or revoked bearer token"),
    ("invalid_credentials", 401, "Wrong username or password"),
    ("account_disabled", 403, "The account was disabled by the server's operator (`hearth admin disable`)"),
    ("missing_permissions", 403, "You can see the resource but may not do this"),
    ("hierarchy", 403, "The target role or member is at or above your highest role"),
    ("cannot_message_user", 403, "A block or the user's DM privacy settings refuse this DM or group DM"),
    ("cannot_befriend_user", 403, "The user does not accept friend requests from you, or you blocked them"),
    ("forbidden_origin", 403, "The WebSocket upgrade came from a web page whose Origin is not allowed"),
    ("not_found", 404, "No such route"),
    ("unknown_user", 404, "No such user"),
    ("unknown_guild", 404, "No such guild, or you are not a member"),
    ("unknown_channel", 404, "No such channel, or you may not view it"),
    ("unknown_message", 404, "No such message in this channel"),
    ("unknown_role", 404, "No such role in this guild"),
    ("unknown_member", 404, "No such member in this guild"),
    ("unknown_invite", 404, "No such invite, or it expired or was used up"),
    ("unknown_session", 404, "No such login session"),
    ("unknown_relationship", 404, "No such relationship, or no friend request to accept"),
    ("method_not_allowed", 405, "The route does not support this method"),
    ("username_taken", 409, "The username is in use (case-insensitively)"),
    ("already_friends", 409, "A friend request to someone who is already a friend"),
    ("already_requested", 409, "A friend request while yours to the same user is pending"),
    ("conflict", 409, "The request conflicts with the current state (e.g. already a member)"),
    ("payload_too_large", 413, "The body is larger than MAX_BODY_BYTES"),
    ("unsupported_media_type", 415, "Content-Type is neither application/json nor application/msgpack"),
    ("limit_reached", 422, "A documented count limit was reached (channels, roles, guilds, ...)"),
    ("cannot_target_self", 400, "Befriending or blocking yourself"),
    ("not_voice_channel", 400, "The channel is not a voice channel"),
    ("invalid_sdp", 400, "The SDP answer cannot be parsed or does not fit the offer; a new offer follows"),
    ("voice_channel_full", 422, "The voice channel has `voice_max_room_participants` participants"),
    ("voice_server_full", 503, "The server has `voice_max_participants` voice participants"),
    ("voice_unavailable", 503, "Voice is turned off on this server (`--no-voice`)"),
    ("rate_limited", 429, "Too many requests; retry after the given time"),
    ("too_many_connections", 429, "This address has MAX_CONNECTIONS_PER_IP gateway connections open"),
    ("internal", 500, "Something went wrong on the server; nothing was changed"),
    ("unavailable", 503, "The server is shutting down"),
];

/// An error with a stable code, an HTTP status and a message for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    /// Stable machine-readable code (see [`ERROR_CODES`]).
    pub code: &'static str,
    /// HTTP status.
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
    /// An error with a code from [`ERROR_CODES`].
    pub fn new(code: &'static str, message: impl Into<String>) -> AppError {
        let status = ERROR_CODES.iter().find(|(c, _, _)| *c == code).map_or(500, |(_, s, _)| *s);
        AppError { code, status, message: message.into(), retry_after_ms: None }
    }

    /// 400 invalid_body.
    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::new("invalid_body", message)
    }
    /// 401 unauthorized.
    pub fn unauthorized() -> AppError {
        AppError::new("unauthorized", "a valid bearer token is required")
    }
    /// 403 account_disabled.
    pub fn account_disabled() -> AppError {
        AppError::new("account_disabled", "this account is disabled; ask the server's operator")
    }
    /// 403 missing_permissions, naming what is missing.
    pub fn missing_permissions(needed: Permissions) -> AppError {
        AppError::new("missing_permissions", format!("missing permission: {}", needed.names().join(", ")))
    }
    /// 403 hierarchy.
    pub fn hierarchy(what: &str) -> AppError {
        AppError::new("hierarchy", format!("{what} is at or above your highest role"))
    }
    /// 404 unknown_guild.
    pub fn unknown_guild() -> AppError {
        AppError::new("unknown_guild", "unknown guild")
    }
    /// 404 unknown_channel.
    pub fn unknown_channel() -> AppError {
        AppError::new("unknown_channel", "unknown channel")
    }
    /// 404 unknown_user.
    pub fn unknown_user() -> AppError {
        AppError::new("unknown_user", "unknown user")
    }
    /// 404 unknown_role.
    pub fn unknown_role() -> AppError {
        AppError::new("unknown_role", "unknown role")
    }
    /// 404 unknown_member.
    pub fn unknown_member() -> AppError {
        AppError::new("unknown_member", "unknown member")
    }
    /// 404 unknown_message.
    pub fn unknown_message() -> AppError {
        AppError::new("unknown_message", "unknown message")
    }
    /// 404 unknown_invite.
    pub fn unknown_invite() -> AppError {
        AppError::new("unknown_invite", "unknown, expired or used-up invite")
    }
    /// 409 conflict.
    pub fn conflict(message: impl Into<String>) -> AppError {
        AppError::new("conflict", message)
    }
    /// 422 limit_reached.
    pub fn limit(message: impl Into<String>) -> AppError {
        AppError::new("limit_reached", message)
    }
    /// 500 internal (details go to the log, not the client).
    pub fn internal() -> AppError {
        AppError::new("internal", "internal error")
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
            StoreError::Closed => AppError::new("unavailable", "the server is shutting down"),
            other => {
                tracing::error!(error = %other, "store error");
                AppError::internal()
            }
        }
    }
}

impl From<actix::MailboxError> for AppError {
    fn from(e: actix::MailboxError) -> Self {
        tracing::warn!(error = %e, "actor mailbox error");
        AppError::new("unavailable", "the target is restarting; retry")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_sane() {
        let mut seen = std::collections::HashSet::new();
        for (c, s, _) in ERROR_CODES {
            assert!(seen.insert(*c), "duplicate {c}");
            assert!((400..600).contains(s));
        }
        assert_eq!(AppError::unknown_channel().status, 404);
        assert_eq!(AppError::new("no_such_code", "x").status, 500);
    }
}
