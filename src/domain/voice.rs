//! Voice admission: who may join a voice channel, whether they may speak,
//! and the room and server capacity rules. The guild actor, which orders
//! voice joins, asks these with permissions from its snapshot.

use crate::errors::{AppError, ErrorCode};
use crate::model::{ChannelKind, Permissions};

/// What a member who may connect gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// They may listen but not speak (no SPEAK).
    pub suppress: bool,
}

/// May someone with `perms` in a channel of `kind` join it? 400 for non-voice
/// channels, 404 if they cannot see it, 403 without CONNECT.
pub fn admit(kind: ChannelKind, perms: Permissions) -> Result<Grant, AppError> {
    if kind != ChannelKind::Voice {
        return Err(AppError::new(ErrorCode::NotVoiceChannel, "that is not a voice channel"));
    }
    if !perms.contains(Permissions::VIEW_CHANNEL) {
        return Err(AppError::unknown_channel());
    }
    if !perms.contains(Permissions::CONNECT) {
        return Err(AppError::missing_permissions(Permissions::CONNECT));
    }
    Ok(Grant { suppress: !perms.contains(Permissions::SPEAK) })
}

/// After a permission change: None if a participant must leave, else what they keep.
pub fn recheck(perms: Permissions) -> Option<Grant> {
    perms
        .contains(Permissions::VIEW_CHANNEL | Permissions::CONNECT)
        .then(|| Grant { suppress: !perms.contains(Permissions::SPEAK) })
}

/// 422 voice_channel_full when `others` (participants besides the joiner) fill the room.
pub fn check_room(others: usize, max_room: usize) -> Result<(), AppError> {
    if others >= max_room {
        return Err(AppError::new(
            ErrorCode::VoiceChannelFull,
            format!("the voice channel is full ({max_room} participants)"),
        ));
    }
    Ok(())
}

/// 503 voice_server_full.
pub fn server_full(max_total: usize) -> AppError {
    AppError::new(ErrorCode::VoiceServerFull, format!("the server has its maximum of {max_total} voice participants"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_follows_view_connect_speak() {
        let p = Permissions::VIEW_CHANNEL | Permissions::CONNECT;
        assert_eq!(admit(ChannelKind::Text, p | Permissions::SPEAK).unwrap_err().code, ErrorCode::NotVoiceChannel);
        assert_eq!(admit(ChannelKind::Voice, Permissions::CONNECT).unwrap_err().status, 404);
        assert_eq!(admit(ChannelKind::Voice, Permissions::VIEW_CHANNEL).unwrap_err().status, 403);
        assert_eq!(admit(ChannelKind::Voice, p).unwrap(), Grant { suppress: true });
        assert_eq!(admit(ChannelKind::Voice, p | Permissions::SPEAK).unwrap(), Grant { suppress: false });
        assert_eq!(recheck(Permissions::VIEW_CHANNEL), None);
        assert_eq!(recheck(p), Some(Grant { suppress: true }));
    }

    #[test]
    fn rooms_fill_up() {
        assert!(check_room(24, 25).is_ok());
        assert_eq!(check_room(25, 25).unwrap_err().code, ErrorCode::VoiceChannelFull);
        assert_eq!(server_full(3).status, 503);
    }
}
