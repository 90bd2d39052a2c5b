//! Messages: what a send must satisfy (content, nonce, permission, slow mode,
//! rate limits) and how history is asked for. The gateway's SEND_MESSAGE and
//! REST's POST /channels/{id}/messages both come through [`Draft::new`]; the
//! channel actor, which orders sends, applies [`check_send`] and
//! [`slow_mode_wait`] with its cached permissions.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::access::{require_in_channel, ChannelAccess};
use crate::errors::{AppError, ErrorCode};
use crate::model::limits::{DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT};
use crate::model::{Id, Message, Permissions};
use crate::store::{HistoryQuery, MessageRead, Read};

pub use super::compose::{Draft, SendBody};

/// 404 if the sender cannot see the channel, 403 without SEND_MESSAGES.
pub fn check_send(perms: Permissions) -> Result<(), AppError> {
    require_in_channel(perms, Permissions::SEND_MESSAGES)
}

/// Who is exempt from slow mode: those who manage the channel or its messages.
pub fn slow_mode_exempt(perms: Permissions) -> bool {
    perms.intersects(Permissions::MANAGE_MESSAGES | Permissions::MANAGE_CHANNELS)
}

/// How long a sender must still wait under slow mode (one message per
/// `every_secs`), given when they last sent here; None if they may send now.
pub fn slow_mode_wait(every_secs: u32, exempt: bool, last: Option<Instant>, now: Instant) -> Option<Duration> {
    if every_secs == 0 || exempt {
        return None;
    }
    let wait = Duration::from_secs(u64::from(every_secs));
    let since = now.saturating_duration_since(last?);
    (since < wait).then(|| wait - since)
}

/// The rate_limited error for a slow-mode wait.
pub fn slow_mode_error(every_secs: u32, wait: Duration) -> AppError {
    let mut e = AppError::new(ErrorCode::RateLimited, format!("slow mode: one message per {every_secs} s"));
    e.retry_after_ms = Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1));
    e
}

/// Query parameters of a history request.
#[derive(Debug, Default, Deserialize)]
pub struct HistoryParams {
    /// Messages older than this id.
    pub before: Option<Id>,
    /// Messages newer than this id.
    pub after: Option<Id>,
    /// Messages around this id.
    pub around: Option<Id>,
    /// Page size (1–MAX_HISTORY_LIMIT, default DEFAULT_HISTORY_LIMIT).
    pub limit: Option<u32>,
}

impl HistoryParams {
    /// The store query and page size; 400 invalid_query when out of range or ambiguous.
    pub fn query(&self) -> Result<(HistoryQuery, usize), AppError> {
        let limit = self.limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
        if !(1..=MAX_HISTORY_LIMIT).contains(&limit) {
            return Err(AppError::new(ErrorCode::InvalidQuery, format!("limit must be 1–{MAX_HISTORY_LIMIT}")));
        }
        let q = match (self.before, self.after, self.around) {
            (None, None, None) => HistoryQuery::Latest,
            (Some(b), None, None) => HistoryQuery::Before(b),
            (None, Some(a), None) => HistoryQuery::After(a),
            (None, None, Some(x)) => HistoryQuery::Around(x),
            _ => return Err(AppError::new(ErrorCode::InvalidQuery, "give at most one of before, after, around")),
        };
        Ok((q, limit as usize))
    }
}

/// A page of history, if the caller may read it.
pub fn history(r: &impl Read, caller: Id, channel: Id, params: &HistoryParams) -> Result<Vec<Message>, AppError> {
    let ca = ChannelAccess::load(r, channel, caller)?;
    ca.require(Permissions::READ_MESSAGE_HISTORY)?;
    let (q, limit) = params.query()?;
    let mut page = r.history(channel, q, limit)?;
    present(r, caller, &mut page)?;
    Ok(page)
}

/// Make stored messages into what `reader` sees: each reply's picture of its
/// original (null once the original is gone) and `me` on each reaction.
pub fn present(r: &impl Read, reader: Id, msgs: &mut [Message]) -> Result<(), AppError> {
    for m in msgs.iter_mut() {
        if let Some(re) = m.message_reference.filter(|_| m.kind == crate::model::MessageKind::Reply) {
            m.referenced_message = r.message(re.channel_id, re.message_id)?.map(|o| super::compose::excerpt(&o));
        }
        for re in m.reactions.iter_mut() {
            re.me = r.reacted(m.channel_id, m.id, &re.emoji.as_ref().key(), reader)?;
        }
    }
    Ok(())
}

/// One message, if the caller may read it.
pub fn get(r: &impl Read, caller: Id, channel: Id, message: Id) -> Result<Message, AppError> {
    let ca = ChannelAccess::load(r, channel, caller)?;
    ca.require(Permissions::READ_MESSAGE_HISTORY)?;
    let mut m = [r.message(channel, message)?.ok_or_else(AppError::unknown_message)?];
    present(r, caller, &mut m)?;
    let [m] = m;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_mode_counts_from_the_last_send() {
        let t0 = Instant::now();
        assert_eq!(slow_mode_wait(10, false, None, t0), None, "first message is free");
        let w = slow_mode_wait(10, false, Some(t0), t0 + Duration::from_secs(3)).unwrap();
        assert_eq!(w, Duration::from_secs(7));
        assert_eq!(slow_mode_wait(10, false, Some(t0), t0 + Duration::from_secs(10)), None);
        assert_eq!(slow_mode_wait(10, true, Some(t0), t0), None, "moderators are exempt");
        assert_eq!(slow_mode_wait(0, false, Some(t0), t0), None, "off");
        assert_eq!(slow_mode_error(10, w).retry_after_ms, Some(7000));
    }

    #[test]
    fn history_params_take_one_anchor() {
        assert!(matches!(HistoryParams::default().query().unwrap(), (HistoryQuery::Latest, 50)));
        let p = HistoryParams { before: Some(Id(1)), after: Some(Id(2)), ..Default::default() };
        assert_eq!(p.query().unwrap_err().code, ErrorCode::InvalidQuery);
        let p = HistoryParams { limit: Some(0), ..Default::default() };
        assert!(p.query().is_err());
        let p = HistoryParams { limit: Some(MAX_HISTORY_LIMIT + 1), ..Default::default() };
        assert!(p.query().is_err());
    }

    #[test]
    fn sending_needs_view_then_send() {
        assert_eq!(check_send(Permissions::NONE).unwrap_err().status, 404);
        assert_eq!(check_send(Permissions::VIEW_CHANNEL).unwrap_err().status, 403);
        assert!(check_send(Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES).is_ok());
        assert!(slow_mode_exempt(Permissions::MANAGE_MESSAGES));
        assert!(!slow_mode_exempt(Permissions::SEND_MESSAGES));
    }
}
