//! op 2 IDENTIFY and op 6 RESUME.

use std::sync::Arc;

use actix::prelude::*;
use actix_web_actors::ws;
use rand::RngCore;

use super::shared::{ResumeRefused, SessionShared};
use super::{Identified, Session, State};
use crate::actors::guild::{Connect, GuildActor};
use crate::actors::hub::SessionRef;
use crate::auth::token_hash;
use crate::core::Core;
use crate::model::relationships::PrivacySettings;
use crate::model::{Channel, Id, Status, TokenRecord, User};
use crate::protocol::commands::{Identify, Resume};
use crate::protocol::events::{event, GuildState, Ready, Relationship};
use crate::protocol::limits::MAX_READY_PRIVATE_CHANNELS;
use crate::protocol::{CloseCode, Encoding, Op, SharedEvent, PROTOCOL_VERSION};
use crate::store::{Read, StoreError};

/// Ask a guild actor to take the session, asking again if the actor was
/// stopping at that moment.
async fn connect_guild(core: Arc<Core>, gid: Id, s: SessionRef) -> Option<(Id, Addr<GuildActor>, GuildState)> {
    for _ in 0..3 {
        let addr = match core.registry.guild(&core, gid) {
            Ok(Some(a)) => a,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(error = %e, guild = %gid, "loading guild for identify");
                return None;
            }
        };
        match addr.send(Connect { session: s.clone() }).await {
            Ok(Some(state)) => return Some((gid, addr, state)),
            Ok(None) => return None,
            Err(_) => continue,
        }
    }
    None
}

/// The token's login session and user, if the token is valid and the account not disabled.
fn authenticate(core: &Core, token: &str) -> Result<Option<(TokenRecord, User)>, StoreError> {
    let r = core.store.read()?;
    let Some(tok) = r.token(&token_hash(token))? else {
        return Ok(None);
    };
    // A disabled account's tokens are refused like unknown ones.
    Ok(r.user_record(tok.user_id)?.filter(|u| !u.disabled).map(|u| (tok, u.user)))
}

/// What READY says about the user's private side: their most recent DMs (and
/// whether there are more), the users those involve, relationships, settings.
struct Private {
    channels: Vec<Channel>,
    more: bool,
    users: Vec<User>,
    relationships: Vec<Relationship>,
    settings: PrivacySettings,
}

/// The user's private side for READY.
fn private(core: &Core, user: Id) -> Result<Private, StoreError> {
    let r = core.store.read()?;
    let (channels, more) = r.recent_user_channels(user, MAX_READY_PRIVATE_CHANNELS)?;
    let mut ids: Vec<Id> = channels.iter().flat_map(|c| c.recipients.iter().copied()).collect();
    ids.sort();
    ids.dedup();
    let mut users = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(u) = r.user(id)? {
            users.push(u);
        }
    }
    let relationships = crate::domain::relationships::relationships_of(&r, user)?;
    Ok(Private { channels, more, users, relationships, settings: r.user_settings(user)? })
}

impl Session {
    pub(super) fn on_identify(&mut self, bytes: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        if !matches!(self.state, State::New) {
            return self.close(ctx, CloseCode::AlreadyAuthenticated, "IDENTIFY sent twice");
        }
        let Some(ident) = self.decode::<Identify>(bytes, Op::Identify, ctx) else {
            return self.close(ctx, CloseCode::DecodeError, "IDENTIFY payload is invalid");
        };
        if let Err(e) = self.core.limits.identify(self.ip) {
            self.send_error(ctx, Op::Identify, None, &e);
            return self.close(ctx, CloseCode::RateLimited, "too many IDENTIFY from this address; retry later");
        }
        let looked_up = authenticate(&self.core, ident.token.expose())
            .and_then(|a| a.map(|(t, u)| Ok((t, private(&self.core, u.id)?, u))).transpose());
        let (token, private, user) = match looked_up {
            Ok(Some(x)) => x,
            Ok(None) => return self.close(ctx, CloseCode::AuthenticationFailed, "invalid token"),
            Err(e) => {
                tracing::error!(error = %e, "identify lookup");
                return self.close(ctx, CloseCode::UnknownError, "storage error");
            }
        };
        self.span.record("user", tracing::field::display(user.id));
        tracing::info!(login_session = %token.id, "identified");
        let resume_key = format!("{:x}.{:016x}", self.number, rand::rngs::OsRng.next_u64());
        let shared = Arc::new(SessionShared::new(
            self.number,
            resume_key.clone(),
            user.id,
            token.id,
            self.encoding,
            super::budget::OutboundLimits {
                per_session: self.core.config.max_outbound_bytes,
                budget: self.core.online.outbound.clone(),
            },
            ctx.address(),
        ));
        let sref = SessionRef { shared: shared.clone(), hub: self.hub.clone() };
        self.core.online.add(sref.clone(), ident.presence.unwrap_or(Status::Online));
        self.core.online.register_resumable(shared.clone());
        let guild_ids = match self.core.store.read().and_then(|r| r.user_guild_ids(user.id)) {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "identify lookup");
                self.ending = true;
                self.state = State::Ready(Box::new(Identified { shared, user }));
                return self.close(ctx, CloseCode::UnknownError, "storage error");
            }
        };
        // Events for the session that arrive before READY is out are held
        // by `SessionShared` and follow READY in order.
        self.state = State::Identifying(shared.clone());
        let core = self.core.clone();
        let joins = guild_ids.into_iter().map(move |gid| connect_guild(core.clone(), gid, sref.clone()));
        let all = futures_util::future::join_all(joins);
        ctx.wait(all.into_actor(self).map(move |results, s, ctx| {
            let mut guilds = Vec::new();
            for (gid, addr, state) in results.into_iter().flatten() {
                shared.set_guild(gid, Some(addr));
                guilds.push(state);
            }
            let ready = Ready {
                v: PROTOCOL_VERSION,
                user: user.clone(),
                guilds,
                dm_channels: private.channels,
                more_dm_channels: private.more,
                dm_users: private.users,
                relationships: private.relationships,
                settings: private.settings,
                session_id: resume_key,
            };
            let ready = SharedEvent::new(event::READY, &ready, s.encoding == Encoding::Json);
            shared.start(ready, |seq, ev| s.write_dispatch(ctx, seq, ev));
            s.state = State::Ready(Box::new(Identified { shared, user }));
        }));
    }

    pub(super) fn on_resume(&mut self, bytes: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        if !matches!(self.state, State::New) {
            return self.close(ctx, CloseCode::AlreadyAuthenticated, "RESUME on an identified connection");
        }
        let Some(r) = self.decode::<Resume>(bytes, Op::Resume, ctx) else {
            return self.close(ctx, CloseCode::DecodeError, "RESUME payload is invalid");
        };
        let Some(shared) = self.core.online.resumable(&r.session_id) else {
            // Unknown, expired or ended (e.g. the server restarted): identify again.
            return self.send_op(ctx, Op::InvalidSession, &false);
        };
        let user = match authenticate(&self.core, r.token.expose()) {
            Ok(Some((tok, user))) if tok.id == shared.token_id && user.id == shared.user_id => user,
            Ok(_) => return self.send_op(ctx, Op::InvalidSession, &false),
            Err(e) => {
                tracing::error!(error = %e, "resume lookup");
                return self.close(ctx, CloseCode::UnknownError, "storage error");
            }
        };
        if shared.encoding != self.encoding {
            return self.send_op(ctx, Op::InvalidSession, &false);
        }
        let resumed = SharedEvent::new(event::RESUMED, &(), self.encoding == Encoding::Json);
        let me = ctx.address();
        match shared.resume(me, r.seq, resumed, |seq, ev| self.write_dispatch(ctx, seq, ev)) {
            Ok(()) => {
                self.span.record("user", tracing::field::display(user.id));
                tracing::info!(seq = r.seq, "resumed");
                self.state = State::Ready(Box::new(Identified { shared, user }));
            }
            Err(ResumeRefused::Invalid) => self.send_op(ctx, Op::InvalidSession, &false),
            Err(ResumeRefused::Ahead) => {
                self.close(ctx, CloseCode::InvalidSeq, "RESUME seq is ahead of what the server sent")
            }
        }
    }
}
