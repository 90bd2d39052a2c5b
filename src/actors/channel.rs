//! The channel actor: orders a channel's messages, makes them durable and
//! fans them out.
//!
//! Per message: check the sender's permission against the guild snapshot,
//! assign a snowflake, queue the write to the group-committing store writer,
//! and only after the commit encode the event once and deliver it to the
//! readers, grouped by worker. Edits, deletes, reactions and pins
//! ([`Mutate`]) queue their writes the same way. Writes are published in the
//! order they were queued (which is commit order) even when several are in
//! flight, so nobody hears of an edit before the message it edits.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix::prelude::*;

use super::hub::{Readers, SessionRef};
use crate::core::Core;
use crate::domain::access;
use crate::domain::compose::compose;
use crate::domain::message_actions::put_stored;
use crate::domain::messages::{self, Draft};
use crate::domain::{ChannelEvent, ChannelOp};
use crate::errors::AppError;
use crate::metrics;
use crate::model::snapshot::GuildSnapshot;
use crate::model::{Author, Channel, ChannelKind, Id, Message as ChatMessage, Permissions, User};
use crate::protocol::events::{event, TypingStart};
use crate::protocol::SharedEvent;
use crate::store::Read;
use crate::util::now_ms;

/// One channel's actor.
pub struct ChannelActor {
    core: Arc<Core>,
    channel: Channel,
    /// For guild channels: the guild's snapshot and this channel's readers.
    guild: Option<(Arc<GuildSnapshot>, Readers, Recipient<Detach>)>,
    /// Writes queued but not yet published, in queue order: their events once
    /// committed (None = still committing).
    pending: BTreeMap<u64, Option<Vec<ChannelEvent>>>,
    /// Number of the next queued write.
    next_write: u64,
    /// Slow mode: when each user last sent here.
    last_sent: std::collections::HashMap<Id, std::time::Instant>,
    last_activity: std::time::Instant,
}

impl ChannelActor {
    /// A new actor for a stored channel.
    pub fn new(core: Arc<Core>, channel: Channel) -> ChannelActor {
        ChannelActor {
            core,
            channel,
            guild: None,
            pending: BTreeMap::new(),
            next_write: 0,
            last_sent: std::collections::HashMap::new(),
            last_activity: std::time::Instant::now(),
        }
    }

    /// The user's permissions here (guild channels: from the snapshot; DMs: recipients).
    fn permissions(&self, user: Id) -> Permissions {
        match &self.guild {
            Some((snap, _, _)) => match snap.channel(self.channel.id) {
                Some(c) => snap.channel_permissions(user, c),
                None => Permissions::NONE,
            },
            None => access::dm_permissions(&self.channel, user),
        }
    }

    /// 1:1 DMs: a block either way stops sending.
    fn unblocked(&self, user: Id) -> Result<(), AppError> {
        if self.channel.kind != ChannelKind::Dm {
            return Ok(());
        }
        let Some(other) = self.channel.recipients.iter().find(|u| **u != user) else {
            return Ok(());
        };
        let pair = self.core.store.read()?.relationship_pair(user, *other)?;
        Ok(crate::domain::privacy::may_send_dm(pair)?)
    }

    /// The sessions that receive this channel's events now.
    fn readers(&self) -> Readers {
        match &self.guild {
            Some((_, r, _)) => r.clone(),
            None => Readers::from_sessions(&self.core.online.sessions_of(&self.channel.recipients)),
        }
    }

    /// Rate limits on sending: slow mode, then MESSAGE_SENDS per user here.
    fn pace(&mut self, user: Id) -> Result<(), AppError> {
        let every = self.channel.rate_limit_per_user;
        let exempt = messages::slow_mode_exempt(self.permissions(user));
        let now = std::time::Instant::now();
        if let Some(wait) = messages::slow_mode_wait(every, exempt, self.last_sent.get(&user).copied(), now) {
            return Err(messages::slow_mode_error(every, wait));
        }
        self.core.limits.message_send(user, self.channel.id)?;
        if every > 0 && !exempt {
            self.last_sent.insert(user, now);
            if self.last_sent.len() > 10_000 {
                let window = std::time::Duration::from_secs(u64::from(every));
                self.last_sent.retain(|_, t| now.duration_since(*t) < window);
            }
        }
        Ok(())
    }

    /// Queue a write: its number, in the order of publication.
    fn queue(&mut self) -> u64 {
        let n = self.next_write;
        self.next_write += 1;
        self.pending.insert(n, None);
        n
    }

    /// A queued write finished: publish it (and whatever waited behind it).
    fn finish(&mut self, n: u64, events: Option<Vec<ChannelEvent>>) {
        match events {
            Some(evs) => {
                self.pending.insert(n, Some(evs));
            }
            None => {
                self.pending.remove(&n);
            }
        }
        self.publish_ready();
    }

    fn publish_ready(&mut self) {
        while let Some(entry) = self.pending.first_entry() {
            if entry.get().is_none() {
                break;
            }
            let Some(events) = entry.remove() else { continue };
            let readers = self.readers();
            for ev in events {
                if matches!(ev, ChannelEvent::Created(_)) {
                    metrics::MESSAGES.inc();
                }
                if !readers.is_empty() {
                    readers.deliver(encode(&ev, readers.wants_json()));
                }
            }
        }
    }
}

/// Encode a channel event once, for every reader.
fn encode(ev: &ChannelEvent, json: bool) -> Arc<SharedEvent> {
    match ev {
        ChannelEvent::Created(m) => SharedEvent::new(event::MESSAGE_CREATE, m, json),
        ChannelEvent::Updated(m) => SharedEvent::new(event::MESSAGE_UPDATE, m, json),
        ChannelEvent::Deleted(d) => SharedEvent::new(event::MESSAGE_DELETE, d, json),
        ChannelEvent::DeletedBulk(d) => SharedEvent::new(event::MESSAGE_DELETE_BULK, d, json),
        ChannelEvent::ReactionAdded(r) => SharedEvent::new(event::MESSAGE_REACTION_ADD, r, json),
        ChannelEvent::ReactionRemoved(r) => SharedEvent::new(event::MESSAGE_REACTION_REMOVE, r, json),
        ChannelEvent::ReactionsCleared(r) => SharedEvent::new(event::MESSAGE_REACTION_REMOVE_ALL, r, json),
        ChannelEvent::EmojiCleared(r) => SharedEvent::new(event::MESSAGE_REACTION_REMOVE_EMOJI, r, json),
        ChannelEvent::Pins(p) => SharedEvent::new(event::CHANNEL_PINS_UPDATE, p, json),
    }
}

impl Actor for ChannelActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::CHANNEL_ACTORS.inc();
        ctx.set_mailbox_capacity(crate::actors::limits::INTERNAL_MAILBOX_CAPACITY);
        if let Some(gid) = self.channel.guild_id {
            // Nothing is handled before the guild answered: sends wait in the mailbox.
            let guild = match self.core.registry.guild(&self.core, gid) {
                Ok(Some(g)) => g,
                _ => {
                    ctx.stop();
                    return;
                }
            };
            let attach = guild.send(Attach { channel_id: self.channel.id, addr: ctx.address() });
            ctx.wait(attach.into_actor(self).map(move |res, act, ctx| match res {
                Ok(Some((snap, readers))) => {
                    if let Some(c) = snap.channel(act.channel.id) {
                        act.channel = c.clone();
                    }
                    act.guild = Some((snap, readers, guild.recipient()));
                }
                _ => ctx.stop(),
            }));
        }
        let idle = self.core.config.actor_idle();
        let tick = (idle / 10).max(std::time::Duration::from_millis(100));
        ctx.run_interval(tick, move |act, ctx| {
            // Slow-mode timestamps live here: stay until they have expired.
            let slow = std::time::Duration::from_secs(u64::from(act.channel.rate_limit_per_user));
            let slow_live = act.last_sent.values().any(|t| t.elapsed() < slow);
            if act.pending.is_empty() && act.last_activity.elapsed() >= idle && !slow_live {
                ctx.stop();
            }
        });
    }

    fn stopping(&mut self, ctx: &mut Self::Context) -> Running {
        self.core.registry.forget_channel(self.channel.id, &ctx.address());
        if let Some((_, _, g)) = &self.guild {
            g.do_send(Detach { channel_id: self.channel.id, addr: ctx.address() });
        }
        Running::Stop
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        metrics::CHANNEL_ACTORS.dec();
    }
}

/// A channel actor of this guild started and wants its access data.
#[derive(Message)]
#[rtype(result = "Option<(Arc<GuildSnapshot>, Readers)>")]
pub struct Attach {
    /// The channel.
    pub channel_id: Id,
    /// Its actor.
    pub addr: Addr<ChannelActor>,
}

/// A channel actor of this guild stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Detach {
    /// The channel.
    pub channel_id: Id,
    /// The actor that stopped.
    pub addr: Addr<ChannelActor>,
}

/// New access data from the guild.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetAccess {
    /// The guild snapshot.
    pub snap: Arc<GuildSnapshot>,
    /// The sessions that may view this channel.
    pub readers: Readers,
}

impl Handler<SetAccess> for ChannelActor {
    type Result = ();

    fn handle(&mut self, msg: SetAccess, _: &mut Context<Self>) {
        if let Some(c) = msg.snap.channel(self.channel.id) {
            self.channel = c.clone();
        }
        if let Some((snap, readers, _)) = &mut self.guild {
            *snap = msg.snap;
            *readers = msg.readers;
        }
    }
}

/// A session may now view this channel.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AddReader(pub SessionRef);

impl Handler<AddReader> for ChannelActor {
    type Result = ();

    fn handle(&mut self, msg: AddReader, _: &mut Context<Self>) {
        if let Some((_, readers, _)) = &mut self.guild {
            readers.add(msg.0);
        }
    }
}

/// A session went away.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveReader(pub u64);

impl Handler<RemoveReader> for ChannelActor {
    type Result = ();

    fn handle(&mut self, msg: RemoveReader, _: &mut Context<Self>) {
        if let Some((_, readers, _)) = &mut self.guild {
            readers.remove(msg.0);
        }
    }
}

/// The channel was deleted (or its guild): stop.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for ChannelActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// A DM's recipients changed: re-read the channel.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReloadDm;

impl Handler<ReloadDm> for ChannelActor {
    type Result = ();

    fn handle(&mut self, _: ReloadDm, ctx: &mut Context<Self>) {
        match self.core.store.read().and_then(|r| r.channel(self.channel.id)) {
            Ok(Some(c)) => self.channel = c,
            Ok(None) => ctx.stop(),
            Err(e) => tracing::error!(error = %e, "reloading DM channel"),
        }
    }
}

/// Send a message. Answers with the stored message once it is durable.
#[derive(Message)]
#[rtype(result = "Result<ChatMessage, AppError>")]
pub struct Send {
    /// The author.
    pub author: User,
    /// Validated content, embeds, reply and mention rules.
    pub draft: Draft,
}

impl Handler<Send> for ChannelActor {
    type Result = ResponseActFuture<Self, Result<ChatMessage, AppError>>;

    fn handle(&mut self, msg: Send, _: &mut Context<Self>) -> Self::Result {
        self.last_activity = std::time::Instant::now();
        let author = msg.author.id;
        let allowed = messages::check_send(self.permissions(author)).and_then(|()| self.unblocked(author));
        if let Err(e) = allowed.and_then(|()| self.pace(author)) {
            return Box::pin(actix::fut::ready(Err(e)));
        }
        let id = self.core.store.ids().next();
        let author = Author::from(&msg.author);
        let perms = self.permissions(author.id);
        let channel = self.channel.clone();
        let n = self.queue();
        let draft = msg.draft;
        let write = self.core.store.write(move |w| {
            // The channel may have been deleted since this actor loaded it.
            if w.channel(channel.id)?.is_none() {
                return Err(AppError::unknown_channel());
            }
            let m = compose(w, &channel, author, perms, draft, id)?;
            put_stored(w, &m)?;
            Ok(m)
        });
        Box::pin(write.into_actor(self).map(move |res: Result<ChatMessage, AppError>, act, _| {
            act.finish(n, res.as_ref().ok().map(|m| vec![ChannelEvent::Created(m.clone())]));
            res
        }))
    }
}

/// Change messages of this channel (edit, delete, react, pin): the domain's
/// operation runs in the next group commit, ordered with the channel's sends,
/// and its events are published after the commit.
pub struct Mutate<T>(pub ChannelOp<T>);

impl<T: std::marker::Send + 'static> actix::Message for Mutate<T> {
    type Result = Result<T, AppError>;
}

impl<T: std::marker::Send + 'static> Handler<Mutate<T>> for ChannelActor {
    type Result = ResponseActFuture<Self, Result<T, AppError>>;

    fn handle(&mut self, msg: Mutate<T>, _: &mut Context<Self>) -> Self::Result {
        self.last_activity = std::time::Instant::now();
        let id = self.core.store.ids().next();
        let n = self.queue();
        let op = msg.0;
        let write = self.core.store.write(move |w| op(w, id));
        Box::pin(write.into_actor(self).map(move |res: Result<(T, Vec<ChannelEvent>), AppError>, act, _| match res {
            Ok((t, events)) => {
                act.finish(n, Some(events));
                Ok(t)
            }
            Err(e) => {
                act.finish(n, None);
                Err(e)
            }
        }))
    }
}

/// Someone started typing.
#[derive(Message)]
#[rtype(result = "Result<(), AppError>")]
pub struct Typing {
    /// Who.
    pub user_id: Id,
}

impl Handler<Typing> for ChannelActor {
    type Result = Result<(), AppError>;

    fn handle(&mut self, msg: Typing, _: &mut Context<Self>) -> Self::Result {
        messages::check_send(self.permissions(msg.user_id))?;
        self.unblocked(msg.user_id)?;
        self.core.limits.typing(msg.user_id, self.channel.id)?;
        self.last_activity = std::time::Instant::now();
        let ev = TypingStart {
            channel_id: self.channel.id,
            guild_id: self.channel.guild_id,
            user_id: msg.user_id,
            timestamp: now_ms(),
        };
        self.readers().dispatch(event::TYPING_START, &ev);
        Ok(())
    }
}
