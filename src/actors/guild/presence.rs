//! Presence fan-out, bounded in large guilds.

use super::GuildActor;
use crate::model::{Id, Status};
use crate::protocol::events::{event, PresenceEvent};

impl GuildActor {
    /// Tell the guild a member's status. In guilds above
    /// `LARGE_GUILD_THRESHOLD` members only sessions that asked for the
    /// member list with presences receive it.
    pub(super) fn announce_presence(&self, user_id: Id, status: Status) {
        let ev = PresenceEvent { guild_id: self.id(), user_id, status };
        self.presence_readers().dispatch(event::PRESENCE_UPDATE, &ev);
    }
}
