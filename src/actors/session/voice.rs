//! Voice commands of an identified session: op 44 VOICE_STATE_UPDATE and op
//! 45 VOICE_ANSWER, both handled by the guild actor (docs/voice.md).

use actix::prelude::*;
use actix_web_actors::ws;

use super::Session;
use crate::actors::guild::{VoiceAnswerFor, VoiceUpdate};
use crate::errors::{AppError, ErrorCode};
use crate::protocol::commands::{VoiceAnswer, VoiceStateUpdate};
use crate::protocol::limits::MAX_SDP_BYTES;
use crate::protocol::Op;

impl Session {
    pub(super) fn on_voice_state(&mut self, bytes: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        let Some(cmd) = self.decode::<VoiceStateUpdate>(bytes, Op::VoiceStateUpdate, ctx) else {
            return;
        };
        let Some(i) = self.identified() else { return };
        if self.core.voice.is_none() {
            let e = AppError::new(ErrorCode::VoiceUnavailable, "voice is turned off on this server");
            return self.send_error(ctx, Op::VoiceStateUpdate, None, &e);
        }
        let Some(guild) = i.shared.guild(cmd.guild_id) else {
            return self.send_error(ctx, Op::VoiceStateUpdate, None, &AppError::unknown_guild());
        };
        let session = crate::actors::hub::SessionRef { shared: i.shared.clone(), hub: self.hub.clone() };
        let fut = guild.send(VoiceUpdate { session, cmd });
        ctx.spawn(fut.into_actor(self).map(|res, s, ctx| {
            if let Err(e) = res.map_err(AppError::from).and_then(|r| r) {
                s.send_error(ctx, Op::VoiceStateUpdate, None, &e);
            }
        }));
    }

    pub(super) fn on_voice_answer(&mut self, bytes: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        let Some(cmd) = self.decode::<VoiceAnswer>(bytes, Op::VoiceAnswer, ctx) else {
            return;
        };
        let Some(i) = self.identified() else { return };
        if cmd.sdp.len() > MAX_SDP_BYTES {
            let e = AppError::new(ErrorCode::InvalidSdp, format!("SDP longer than {MAX_SDP_BYTES} bytes"));
            return self.send_error(ctx, Op::VoiceAnswer, None, &e);
        }
        let Some(guild) = i.shared.guild(cmd.guild_id) else {
            return self.send_error(ctx, Op::VoiceAnswer, None, &AppError::unknown_guild());
        };
        let msg = VoiceAnswerFor { session_id: i.shared.id, user_id: i.user.id, cmd };
        ctx.spawn(guild.send(msg).into_actor(self).map(|res, s, ctx| {
            if let Err(e) = res.map_err(AppError::from).and_then(|r| r) {
                s.send_error(ctx, Op::VoiceAnswer, None, &e);
            }
        }));
    }
}
