//! The session actor: one per gateway WebSocket.
//!
//! It decodes client frames, forwards commands to guild and channel actors,
//! numbers the dispatches it sends, and closes itself on bad input, missed
//! heartbeats, revocation or a full outbound queue. Its mailbox is its
//! outbound queue (bounded in frames by the mailbox capacity and in bytes by
//! `SessionShared::queued_bytes`).

pub mod budget;
mod commands;
mod identify;
mod replay;
mod shared;
mod voice;

pub use shared::SessionShared;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web_actors::ws;
use bytes::{Bytes, BytesMut};
use serde::Serialize;

use super::guild::Disconnect;
use super::hub::WorkerHub;
use crate::core::Core;
use crate::metrics;
use crate::model::User;
use crate::protocol::codec::{self, DecodeError};
use crate::protocol::events::ErrorFrame;
use crate::protocol::limits::{MAX_FRAME_BYTES, MAX_OUTBOUND_FRAMES};
use crate::protocol::{CloseCode, Encoding, Op, SharedEvent};

/// Bytes counted per queued frame on top of its payload (prefix + WebSocket header).
pub const FRAME_OVERHEAD: usize = 48;

/// Session numbers, unique in this process.
static NEXT_SESSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

enum State {
    /// Connected, waiting for Identify.
    New,
    /// Identify accepted, READY being assembled.
    Identifying(Arc<SessionShared>),
    /// Identified.
    Ready(Box<Identified>),
}

struct Identified {
    shared: Arc<SessionShared>,
    user: User,
}

/// A gateway connection.
pub struct Session {
    core: Arc<Core>,
    hub: WorkerHub,
    encoding: Encoding,
    number: u64,
    state: State,
    last_heartbeat: Instant,
    connected_at: Instant,
    heartbeat_interval: Duration,
    /// A fragmented message being reassembled.
    partial: Option<BytesMut>,
    /// Whether the fragmented message is text.
    partial_is_text: bool,
    /// Set when the connection was refused at upgrade (bad version/encoding).
    refuse: Option<(CloseCode, &'static str)>,
    /// End the session (no resume) when this connection closes.
    ending: bool,
    /// This actor's own address (kept for detaching in `stopped`).
    me: Option<Addr<Session>>,
    /// The client's IP.
    ip: std::net::IpAddr,
    /// Commands per session (`GATEWAY_COMMANDS`).
    limiter: governor::DefaultDirectRateLimiter,
    /// Rate-limited commands in a row.
    strikes: u32,
    /// This connection's place in the per-IP connection count.
    _slot: Option<crate::actors::online::ConnectionSlot>,
    /// `session{conn user}`: entered by the handlers (by `Outbound` only where
    /// it logs), so each line logged while handling a frame, a kick or a
    /// delivery carries the connection number.
    span: tracing::Span,
}

impl Session {
    /// A new session on the worker served by `hub`.
    pub fn new(core: Arc<Core>, hub: WorkerHub, encoding: Encoding, ip: std::net::IpAddr) -> Session {
        let heartbeat_interval = core.config.heartbeat_interval();
        let limiter = crate::ratelimit::direct(crate::ratelimit::GATEWAY_COMMANDS, core.config.rate_limit_scale);
        let number = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
        Session {
            core,
            hub,
            encoding,
            number,
            state: State::New,
            last_heartbeat: Instant::now(),
            connected_at: Instant::now(),
            heartbeat_interval,
            partial: None,
            partial_is_text: false,
            refuse: None,
            ending: false,
            me: None,
            ip,
            limiter,
            strikes: 0,
            _slot: None,
            // Not a child of the upgrade request's span: the session outlives it.
            span: tracing::info_span!(parent: None, "session", conn = number, user = tracing::field::Empty),
        }
    }

    /// Hold `slot` for as long as this connection lives.
    pub fn holding(mut self, slot: crate::actors::online::ConnectionSlot) -> Session {
        self._slot = Some(slot);
        self
    }

    /// A session that closes at once with `code` (bad `v` or `encoding`).
    pub fn refused(mut self, code: CloseCode, reason: &'static str) -> Session {
        self.refuse = Some((code, reason));
        self
    }

    fn write(&self, ctx: &mut ws::WebsocketContext<Self>, bytes: Bytes) {
        metrics::BYTES_SENT.inc_by(bytes.len() as u64);
        match self.encoding {
            Encoding::MsgPack => ctx.binary(bytes),
            // Our JSON encoder only emits UTF-8.
            Encoding::Json => match bytestring::ByteString::try_from(bytes) {
                Ok(s) => ctx.text(s),
                Err(_) => self.span.in_scope(|| tracing::error!("non-UTF-8 JSON frame dropped")),
            },
        }
    }

    /// Send a non-dispatch frame.
    fn send_op<T: Serialize + ?Sized>(&self, ctx: &mut ws::WebsocketContext<Self>, op: Op, d: &T) {
        let bytes = codec::encode_frame(op, d, self.encoding);
        self.write(ctx, bytes);
    }

    /// Write one numbered dispatch frame.
    fn write_dispatch(&self, ctx: &mut ws::WebsocketContext<Self>, seq: u64, ev: &SharedEvent) {
        let bytes = ev.frame(seq, self.encoding);
        self.write(ctx, bytes);
    }

    /// Send an op 43 ERROR frame; the connection stays open.
    fn send_error(
        &self,
        ctx: &mut ws::WebsocketContext<Self>,
        op: Op,
        nonce: Option<String>,
        e: &crate::errors::AppError,
    ) {
        let frame = ErrorFrame {
            op: op as u8,
            nonce,
            code: e.code.as_str(),
            message: e.message.clone(),
            retry_after_ms: e.retry_after_ms,
        };
        self.send_op(ctx, Op::Error, &frame);
    }

    /// Close with an application close code and stop.
    fn close(&mut self, ctx: &mut ws::WebsocketContext<Self>, code: CloseCode, reason: impl Into<String>) {
        let mut reason: String = reason.into();
        // A close frame's reason is at most 123 bytes (RFC 6455 §5.5).
        if reason.len() > 123 {
            let mut cut = 120;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
            reason.push_str("...");
        }
        tracing::debug!(session = self.number, code = code.code(), %reason, "closing session");
        ctx.close(Some(ws::CloseReason { code: ws::CloseCode::Other(code.code()), description: Some(reason) }));
        ctx.stop();
    }

    fn identified(&self) -> Option<&Identified> {
        match &self.state {
            State::Ready(i) => Some(i),
            _ => None,
        }
    }

    fn on_frame(&mut self, bytes: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        let op = match codec::decode_op(bytes, self.encoding) {
            Ok(op) => op,
            Err(e @ DecodeError::UnknownOp(_)) => return self.close(ctx, CloseCode::UnknownOpcode, e.to_string()),
            Err(e) => return self.close(ctx, CloseCode::DecodeError, e.to_string()),
        };
        if let Err(retry) = crate::ratelimit::check_direct(&self.limiter) {
            self.strikes += 1;
            if self.strikes >= crate::ratelimit::GATEWAY_STRIKES {
                return self.close(ctx, CloseCode::RateLimited, "too many commands after being rate limited");
            }
            let e = crate::ratelimit::limited(crate::ratelimit::GATEWAY_COMMANDS, retry);
            // Echo the command's nonce, if it has one, so the client knows which was refused.
            let nonce = codec::read_nonce(bytes, self.encoding);
            return self.send_error(ctx, op, nonce, &e);
        }
        self.strikes = 0;
        match op {
            Op::Heartbeat => {
                self.last_heartbeat = Instant::now();
                // d is the last sequence number the client received (or null):
                // frames up to it need not be kept for Resume.
                if let (Some(i), Ok(Some(seq))) =
                    (self.identified(), codec::decode_data::<Option<u64>>(bytes, self.encoding, op))
                {
                    i.shared.ack(seq);
                }
                self.send_op(ctx, Op::HeartbeatAck, &());
            }
            Op::Identify => self.on_identify(bytes, ctx),
            Op::Resume => self.on_resume(bytes, ctx),
            _ if !matches!(self.state, State::Ready(_)) => {
                self.close(ctx, CloseCode::NotAuthenticated, format!("{} before IDENTIFY", op.name()));
            }
            Op::PresenceUpdate => self.on_presence(bytes, ctx),
            Op::RequestGuildMembers => self.on_request_members(bytes, ctx),
            Op::SendMessage => self.on_send_message(bytes, ctx),
            Op::Typing => self.on_typing(bytes, ctx),
            Op::VoiceStateUpdate => self.on_voice_state(bytes, ctx),
            Op::VoiceAnswer => self.on_voice_answer(bytes, ctx),
            // decode_op only lets client ops through.
            _ => self.close(ctx, CloseCode::UnknownOpcode, format!("op {} is not a client op", op as u8)),
        }
    }

    /// Decode `d` for `op`; on failure answer an ERROR frame and return None.
    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        bytes: &[u8],
        op: Op,
        ctx: &mut ws::WebsocketContext<Self>,
    ) -> Option<T> {
        match codec::decode_data::<T>(bytes, self.encoding, op) {
            Ok(d) => Some(d),
            Err(e) => {
                // The nonce may still be readable where the rest of `d` is not.
                let nonce = codec::read_nonce(bytes, self.encoding);
                self.send_error(ctx, op, nonce, &crate::errors::AppError::invalid(e.to_string()));
                None
            }
        }
    }

    fn on_binary_or_text(&mut self, bytes: &[u8], is_text: bool, ctx: &mut ws::WebsocketContext<Self>) {
        match (self.encoding, is_text) {
            (Encoding::MsgPack, true) => {
                self.close(ctx, CloseCode::DecodeError, "text frame on a MessagePack connection; send binary frames")
            }
            (Encoding::Json, false) => {
                self.close(ctx, CloseCode::DecodeError, "binary frame on a JSON connection; send text frames")
            }
            _ => self.on_frame(bytes, ctx),
        }
    }

    fn on_continuation(&mut self, item: actix_http::ws::Item, ctx: &mut ws::WebsocketContext<Self>) {
        let (first, last, is_text, chunk) = match item {
            actix_http::ws::Item::FirstText(b) => (true, false, true, b),
            actix_http::ws::Item::FirstBinary(b) => (true, false, false, b),
            actix_http::ws::Item::Continue(b) => (false, false, false, b),
            actix_http::ws::Item::Last(b) => (false, true, false, b),
        };
        if first {
            let mut buf = BytesMut::with_capacity(chunk.len() * 2);
            self.partial_is_text = is_text;
            buf.extend_from_slice(&chunk);
            self.partial = Some(buf);
        } else {
            let Some(buf) = self.partial.as_mut() else {
                return self.close(ctx, CloseCode::DecodeError, "continuation frame without a first fragment");
            };
            buf.extend_from_slice(&chunk);
        }
        if self.partial.as_ref().is_some_and(|b| b.len() > MAX_FRAME_BYTES) {
            return self.close(ctx, CloseCode::FrameTooLarge, format!("message larger than {MAX_FRAME_BYTES} bytes"));
        }
        if last {
            if let Some(buf) = self.partial.take() {
                let is_text = self.partial_is_text;
                if is_text && std::str::from_utf8(&buf).is_err() {
                    return self.close(ctx, CloseCode::DecodeError, "text frame is not valid UTF-8");
                }
                self.on_binary_or_text(&buf, is_text, ctx);
            }
        }
    }

    /// Close the connection if no HEARTBEAT arrived in time; otherwise wake
    /// again exactly when the current heartbeat would be overdue. One timer
    /// per session that fires about once per timeout, not a periodic tick:
    /// idle sessions cost (almost) nothing between heartbeats.
    fn arm_heartbeat_check(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        let timeout = self.heartbeat_interval.mul_f64(crate::protocol::limits::HEARTBEAT_TIMEOUT_FACTOR);
        let due = (self.last_heartbeat + timeout).saturating_duration_since(Instant::now());
        // A millisecond past the deadline, so `elapsed() > timeout` holds when it is really overdue.
        ctx.run_later(due + Duration::from_millis(1), move |s, ctx| {
            if s.last_heartbeat.elapsed() > timeout {
                let _g = s.span.clone().entered();
                return s.close(ctx, CloseCode::SessionTimedOut, "no heartbeat within the timeout");
            }
            s.arm_heartbeat_check(ctx);
        });
    }
}

impl Actor for Session {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let _g = self.span.clone().entered();
        tracing::debug!(ip = %self.ip, encoding = ?self.encoding, "gateway connected");
        metrics::CONNECTIONS.inc();
        self.me = Some(ctx.address());
        ctx.set_mailbox_capacity(MAX_OUTBOUND_FRAMES);
        if let Some((code, reason)) = self.refuse {
            return self.close(ctx, code, reason);
        }
        let interval = self.heartbeat_interval;
        self.send_op(
            ctx,
            Op::Hello,
            &crate::protocol::events::Hello {
                heartbeat_interval: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            },
        );
        self.arm_heartbeat_check(ctx);
        ctx.run_later(crate::protocol::limits::IDENTIFY_TIMEOUT, |s, ctx| {
            if matches!(s.state, State::New) {
                let _g = s.span.clone().entered();
                s.close(ctx, CloseCode::NotAuthenticated, "no IDENTIFY within the timeout");
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        let _g = self.span.clone().entered();
        tracing::debug!(secs = self.connected_at.elapsed().as_secs(), "gateway disconnected");
        metrics::CONNECTIONS.dec();
        if let State::Identifying(shared) = &self.state {
            // Gone before READY went out: nothing to resume, end it now.
            end_session(&self.core, shared);
            return;
        }
        let (State::Ready(i), Some(me)) = (&self.state, &self.me) else {
            return;
        };
        let shared = i.shared.clone();
        if self.ending {
            end_session(&self.core, &shared);
            return;
        }
        // Stay resumable for the grace period, unless a resume happens first.
        if let Some(generation) = shared.detach(me) {
            let core = self.core.clone();
            let grace = core.config.resume_grace();
            actix::spawn(async move {
                actix::clock::sleep(grace).await;
                if shared.expired(generation) {
                    end_session(&core, &shared);
                }
            });
        }
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for Session {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        let _g = self.span.clone().entered();
        match msg {
            Ok(ws::Message::Binary(b)) => self.on_binary_or_text(&b, false, ctx),
            Ok(ws::Message::Text(t)) => self.on_binary_or_text(t.as_bytes(), true, ctx),
            Ok(ws::Message::Continuation(item)) => self.on_continuation(item, ctx),
            Ok(ws::Message::Ping(p)) => ctx.pong(&p),
            Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => {}
            Ok(ws::Message::Close(reason)) => {
                // A normal close (1000/1001, or no code) ends the session; any other code
                // leaves it resumable, as a dropped connection does.
                let code = reason.as_ref().map(|r| u16::from(r.code));
                if matches!(code, None | Some(1000) | Some(1001)) {
                    self.ending = true;
                }
                ctx.close(reason);
                ctx.stop();
            }
            Err(ws::ProtocolError::Overflow) => {
                self.close(ctx, CloseCode::FrameTooLarge, format!("frame larger than {MAX_FRAME_BYTES} bytes"))
            }
            Err(e) => self.close(ctx, CloseCode::DecodeError, format!("WebSocket protocol error: {e}")),
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        // The peer went away (TCP closed); clean up.
        ctx.stop();
    }
}

/// One numbered event for this connection (queued by the session's hub).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Outbound {
    /// Its sequence number.
    pub seq: u64,
    /// The shared event.
    pub event: Arc<SharedEvent>,
}

impl Handler<Outbound> for Session {
    type Result = ();

    fn handle(&mut self, msg: Outbound, ctx: &mut Self::Context) {
        // The delivery hot path: the span is entered only where this handler logs
        // (here and in `write`), not for every frame.
        let Some(i) = self.identified() else { return };
        let shared = i.shared.clone();
        shared.written(&msg.event);
        if shared.is_slow() {
            let _g = self.span.clone().entered();
            return self.close(ctx, CloseCode::SlowConsumer, "outbound queue overflowed: read faster");
        }
        self.write_dispatch(ctx, msg.seq, &msg.event);
    }
}

/// End a session for good: no more resume, out of the online index and its guilds.
pub fn end_session(core: &Core, shared: &Arc<SessionShared>) {
    let Some(guilds) = shared.end() else { return };
    core.online.remove(shared.user_id, shared.id);
    core.online.forget_resumable(&shared.resume_key);
    for g in guilds {
        g.do_send(Disconnect { session_id: shared.id, user_id: shared.user_id });
    }
}

/// Close the session from outside.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub enum Kick {
    /// Its outbound queue overflowed.
    SlowConsumer,
    /// Its token was revoked.
    Revoked,
    /// The server is shutting down: RECONNECT, then close.
    Shutdown,
    /// A resume moved the session to a newer connection.
    Superseded,
}

impl Handler<Kick> for Session {
    type Result = ();

    fn handle(&mut self, msg: Kick, ctx: &mut Self::Context) {
        let _g = self.span.clone().entered();
        match msg {
            Kick::SlowConsumer => self.close(ctx, CloseCode::SlowConsumer, "outbound queue overflowed: read faster"),
            Kick::Revoked => {
                self.ending = true;
                self.close(ctx, CloseCode::SessionRevoked, "the token was revoked")
            }
            Kick::Superseded => {
                // The session lives on in the newer connection: do not detach it.
                self.me = None;
                self.close(ctx, CloseCode::SessionSuperseded, "the session was resumed on another connection")
            }
            Kick::Shutdown => {
                self.send_op(ctx, Op::Reconnect, &());
                self.close(ctx, CloseCode::Restarting, "server restarting; reconnect");
            }
        }
    }
}
