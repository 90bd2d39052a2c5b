//! Delivering the effects of a committed domain change to live actors and
//! sessions: guild actors re-read what changed and tell their members, DM
//! recipients hear CHANNEL_CREATE/UPDATE/DELETE, voice participants are
//! disconnected. Runs after the commit, so nobody hears of an uncommitted change.

use std::sync::Arc;

use super::channel::ReloadDm;
use super::guild::{Reload, VoiceEvict};
use super::hub::dispatch_to;
use crate::core::Core;
use crate::domain::effects::recipient_diff;
use crate::domain::{Change, Effect, Effects};
use crate::errors::AppError;
use crate::model::Id;
use crate::protocol::events::{event, ChannelDelete, Relationship, RelationshipRemove};

/// Deliver every effect, in order. Answers once guild actors have applied
/// their changes, so the change is in force for live sessions when a REST
/// call returns.
pub async fn deliver(core: &Arc<Core>, effects: Effects) -> Result<(), AppError> {
    for e in effects.0 {
        match e {
            Effect::Guild(guild, change) => reload(core, guild, change).await,
            Effect::Joined { guild, user } => {
                if let Some(addr) = core.registry.guild(core, guild)? {
                    addr.send(Reload(Change::Member(user))).await?;
                }
            }
            Effect::DmCreated(c) => {
                dispatch_to(&core.online.sessions_of(&c.recipients), event::CHANNEL_CREATE, &c);
            }
            Effect::DmChanged { channel, before, after } => {
                if let Some(a) = core.registry.live_channel(channel) {
                    if let Err(e) = a.send(ReloadDm).await {
                        tracing::warn!(error = %e, channel = %channel, "channel actor gone during reload");
                    }
                }
                let after_ids: &[Id] = after.as_ref().map_or(&[], |c| c.recipients.as_slice());
                let (added, kept, removed) = recipient_diff(&before, after_ids);
                if let Some(c) = &after {
                    dispatch_to(&core.online.sessions_of(&added), event::CHANNEL_CREATE, c);
                    dispatch_to(&core.online.sessions_of(&kept), event::CHANNEL_UPDATE, c);
                }
                let gone = ChannelDelete { id: channel, guild_id: None };
                dispatch_to(&core.online.sessions_of(&removed), event::CHANNEL_DELETE, &gone);
            }
            Effect::RevokeTokens { user, only, keep } => {
                for shared in core.online.kick_tokens(user, only, keep) {
                    super::session::end_session(core, &shared);
                }
            }
            Effect::RelationshipChanged { owner, other, before, after } => {
                let sessions = core.online.sessions_of(&[owner]);
                match (before, after) {
                    (b, Some(kind)) if b != Some(kind) => {
                        let rel = Relationship { id: other.id, kind, user: other };
                        dispatch_to(&sessions, event::RELATIONSHIP_ADD, &rel);
                    }
                    (Some(kind), None) => {
                        dispatch_to(&sessions, event::RELATIONSHIP_REMOVE, &RelationshipRemove { id: other.id, kind });
                    }
                    _ => {}
                }
            }
            Effect::SettingsUpdated { user, settings } => {
                dispatch_to(&core.online.sessions_of(&[user]), event::USER_SETTINGS_UPDATE, &settings);
            }
            Effect::UserUpdated(user) => {
                dispatch_to(&core.online.sessions(user.id), event::USER_UPDATE, &user);
            }
            Effect::VoiceEvict { guild, user } => {
                if let Some(g) = core.registry.live_guild(guild) {
                    if let Err(e) = g.send(VoiceEvict { user_id: user }).await {
                        tracing::warn!(error = %e, guild = %guild, "guild actor gone during voice evict");
                    }
                }
            }
        }
    }
    Ok(())
}

/// Tell a running guild actor about a committed change and wait until it has
/// pushed the consequences (events, reader sets).
async fn reload(core: &Arc<Core>, guild: Id, change: Change) {
    if let Some(addr) = core.registry.live_guild(guild) {
        if let Err(e) = addr.send(Reload(change)).await {
            tracing::warn!(error = %e, guild = %guild, "guild actor gone during reload");
        }
    }
}
