//! op 2 IDENTIFY and op 6 RESUME.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

use actix::prelude::*;
use actix_web_actors::ws;

use super::{Identified, Session, State};
use crate::actors::guild::{Connect, GuildActor};
use crate::actors::hub::{SessionRef, SessionShared};
use crate::actors::Core;
use crate::auth::token_hash;
use crate::model::{Id, Status};
use crate::protocol::commands::{Identify, Resume};
use crate::protocol::events::{event, GuildState, Ready};
use crate::protocol::{CloseCode, Op, PROTOCOL_VERSION};
use crate::store::Read;

/// Ask a guild actor to take the session, retrying once if the actor was
/// stopping at that moment.
async fn connect_guild(
    core: Arc<Core>,
    gid: Id,
    s: SessionRef,
) -> Option<(Id, Addr<GuildActor>, GuildState)> {
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

impl Session {
    pub(super) fn on_identify(&mut self, bytes: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        if !matches!(self.state, State::New) {
            return self.close(ctx, CloseCode::AlreadyAuthenticated, "IDENTIFY sent twice");
        }
        let Some(ident) = self.decode::<Identify>(bytes, Op::Identify, ctx) else {
            return self.close(ctx, CloseCode::DecodeError, "IDENTIFY payload is invalid");
        };
        let store = &self.core.store;
        let found = store.read().and_then(|r| {
            let Some(tok) = r.token(&token_hash(&ident.token))? else {
                return Ok(None);
            };
            Ok(r.user(tok.user_id)?.map(|u| (tok, u)))
        });
        let (token, user) = match found {
            Ok(Some(x)) => x,
            Ok(None) => return self.close(ctx, CloseCode::AuthenticationFailed, "invalid token"),
            Err(e) => {
                tracing::error!(error = %e, "identify lookup");
                return self.close(ctx, CloseCode::UnknownError, "storage error");
            }
        };
        let (guild_ids, dm_channels) = match store
            .read()
            .and_then(|r| Ok((r.user_guild_ids(user.id)?, r.user_channels(user.id)?)))
        {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "identify lookup");
                return self.close(ctx, CloseCode::UnknownError, "storage error");
            }
        };
        let mut dm_user_ids: Vec<Id> = dm_channels
            .iter()
            .flat_map(|c| c.recipients.iter().copied())
            .collect();
        dm_user_ids.sort();
        dm_user_ids.dedup();
        let dm_users = store
            .read()
            .map(|r| {
                dm_user_ids
                    .iter()
                    .filter_map(|u| r.user(*u).ok().flatten())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();

        let shared = Arc::new(SessionShared {
            id: self.number,
            user_id: user.id,
            token_id: token.id,
            encoding: self.encoding,
            max_queued_bytes: self.core.config.max_outbound_bytes,
            queued_bytes: AtomicUsize::new(0),
            overflowed: AtomicBool::new(false),
        });
        let sref = SessionRef {
            shared: shared.clone(),
            addr: ctx.address(),
            hub: self.hub.clone(),
        };
        let status = ident.presence.unwrap_or(Status::Online);
        self.core.online.add(sref.clone(), status);
        // Until READY is sent the session handles nothing else: events for it
        // wait in its mailbox and follow READY in order.
        self.state = State::Identifying;
        let core = self.core.clone();
        let joins = guild_ids
            .into_iter()
            .map(move |gid| connect_guild(core.clone(), gid, sref.clone()));
        let all = futures_util::future::join_all(joins);
        ctx.wait(all.into_actor(self).map(move |results, s, ctx| {
            let mut guilds = HashMap::new();
            let mut states = Vec::new();
            for (gid, addr, state) in results.into_iter().flatten() {
                guilds.insert(gid, addr);
                states.push(state);
            }
            let ready = Ready {
                v: PROTOCOL_VERSION,
                user: user.clone(),
                guilds: states,
                dm_channels,
                dm_users,
                session_id: format!("{:x}", s.number),
            };
            s.state = State::Ready(Box::new(Identified {
                shared,
                user,
                guilds,
            }));
            s.send_dispatch(ctx, event::READY, &ready);
        }));
    }

    pub(super) fn on_resume(&mut self, bytes: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        if !matches!(self.state, State::New) {
            return self.close(
                ctx,
                CloseCode::AlreadyAuthenticated,
                "RESUME on an identified connection",
            );
        }
        if self.decode::<Resume>(bytes, Op::Resume, ctx).is_none() {
            return self.close(ctx, CloseCode::DecodeError, "RESUME payload is invalid");
        }
        // This server keeps no replay buffers: every resume is refused with
        // INVALID_SESSION (d = false) and the client identifies again and
        // fills gaps from history.
        self.send_op(ctx, Op::InvalidSession, &false);
    }
}
