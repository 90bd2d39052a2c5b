//! Commands of an identified session: presence, member requests, sending, typing.

use actix::prelude::*;
use actix_web_actors::ws;

use super::Session;
use crate::actors::channel::{Send as SendToChannel, Typing as TypingInChannel};
use crate::actors::guild::{PresenceChanged, RequestMembers};
use crate::domain::messages::{Draft, SendBody};
use crate::errors::AppError;
use crate::protocol::commands::{PresenceUpdate, RequestGuildMembers, SendMessage, Typing};
use crate::protocol::events::Ack;
use crate::protocol::Op;

impl Session {
    pub(super) fn on_presence(&mut self, bytes: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        let Some(p) = self.decode::<PresenceUpdate>(bytes, Op::PresenceUpdate, ctx) else {
            return;
        };
        let Some(i) = self.identified() else { return };
        self.core.online.set_status(i.user.id, p.status);
        for g in i.shared.guilds() {
            g.do_send(PresenceChanged { user_id: i.user.id, status: p.status });
        }
    }

    pub(super) fn on_request_members(&mut self, bytes: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        let Some(req) = self.decode::<RequestGuildMembers>(bytes, Op::RequestGuildMembers, ctx) else {
            return;
        };
        let Some(i) = self.identified() else { return };
        let Some(guild) = i.shared.guild(req.guild_id) else {
            return self.send_error(ctx, Op::RequestGuildMembers, req.nonce, &AppError::unknown_guild());
        };
        let session = crate::actors::hub::SessionRef { shared: i.shared.clone(), hub: self.hub.clone() };
        let nonce = req.nonce.clone();
        let fut = guild.send(RequestMembers { session, request: req });
        ctx.spawn(fut.into_actor(self).map(move |res, s, ctx| {
            let res = res.map_err(AppError::from).and_then(|r| r);
            if let Err(e) = res {
                s.send_error(ctx, Op::RequestGuildMembers, nonce, &e);
            }
        }));
    }

    pub(super) fn on_send_message(&mut self, bytes: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        let Some(cmd) = self.decode::<SendMessage>(bytes, Op::SendMessage, ctx) else {
            return;
        };
        let Some(i) = self.identified() else { return };
        let author = i.user.clone();
        let nonce = cmd.nonce.clone();
        let body = SendBody {
            content: cmd.content,
            nonce: cmd.nonce,
            embeds: cmd.embeds,
            message_reference: cmd.message_reference,
            allowed_mentions: cmd.allowed_mentions,
        };
        let prepared = Draft::from_body(body).and_then(|draft| {
            let ch = self.core.registry.channel(&self.core, cmd.channel_id)?.ok_or_else(AppError::unknown_channel)?;
            Ok((ch, draft))
        });
        let (channel, draft) = match prepared {
            Ok(x) => x,
            Err(e) => return self.send_error(ctx, Op::SendMessage, nonce, &e),
        };
        let fut = channel.send(SendToChannel { author, draft });
        ctx.spawn(fut.into_actor(self).map(move |res, s, ctx| match res.map_err(AppError::from).and_then(|r| r) {
            Ok(m) => {
                let ack = Ack { op: Op::SendMessage as u8, nonce, message: Some(m) };
                s.send_op(ctx, Op::Ack, &ack);
            }
            Err(e) => s.send_error(ctx, Op::SendMessage, nonce, &e),
        }));
    }

    pub(super) fn on_typing(&mut self, bytes: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        let Some(t) = self.decode::<Typing>(bytes, Op::Typing, ctx) else {
            return;
        };
        let Some(i) = self.identified() else { return };
        let user_id = i.user.id;
        let channel = match self.core.registry.channel(&self.core, t.channel_id) {
            Ok(Some(c)) => c,
            Ok(None) => return self.send_error(ctx, Op::Typing, None, &AppError::unknown_channel()),
            Err(e) => return self.send_error(ctx, Op::Typing, None, &e.into()),
        };
        let fut = channel.send(TypingInChannel { user_id });
        ctx.spawn(fut.into_actor(self).map(move |res, s, ctx| {
            if let Err(e) = res.map_err(AppError::from).and_then(|r| r) {
                s.send_error(ctx, Op::Typing, None, &e);
            }
        }));
    }
}
