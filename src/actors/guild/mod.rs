//! The guild actor: membership, roles, channels and presence of one guild.
//!
//! It holds the guild as an immutable [`GuildSnapshot`] (shared with its
//! channel actors, replaced on every change), the guild's live sessions, and
//! for each channel the reader sessions allowed to view it. REST handlers
//! commit a change to the store and then send [`Reload`]; the actor re-reads
//! what changed, tells clients (create/update/delete events, including
//! channels appearing or disappearing as permissions change) and pushes new
//! reader sets to channel actors before it answers, so a change is in force
//! for live sessions when the REST call returns.

mod messages;
mod presence;
mod rebuild;
mod voice;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use actix::prelude::*;
use smallvec::SmallVec;

pub use messages::*;
pub use rebuild::{Change, Reload};
pub use voice::{VoiceAnswerFor, VoiceEvict, VoiceUpdate};

use super::channel::ChannelActor;
use super::hub::{Readers, SessionRef};
use crate::core::Core;
use crate::metrics;
use crate::model::snapshot::{GuildSnapshot, MemberRoles};
use crate::model::Id;
use crate::protocol::limits::LARGE_GUILD_THRESHOLD;
use crate::store::{Read, Store, StoreError};

/// One guild's actor.
pub struct GuildActor {
    core: Arc<Core>,
    snap: Arc<GuildSnapshot>,
    /// Live sessions of members, by session number.
    sessions: HashMap<u64, SessionRef>,
    /// Session numbers by user.
    by_user: HashMap<Id, SmallVec<[u64; 2]>>,
    /// Channels each online user may view.
    visible: HashMap<Id, BTreeSet<Id>>,
    /// Readers of each channel.
    readers: HashMap<Id, Readers>,
    /// Every live session of the guild.
    all: Readers,
    /// Sessions that asked for presences (large guilds).
    presence_subs: Readers,
    /// Running channel actors of this guild.
    channel_actors: HashMap<Id, Addr<ChannelActor>>,
    /// Voice states by user.
    voice: HashMap<Id, voice::VoiceEntry>,
    /// Voice rooms of channels with participants.
    rooms: HashMap<Id, Addr<super::voice_room::VoiceRoom>>,
    idle_since: Option<std::time::Instant>,
}

impl GuildActor {
    /// Read everything the actor needs from the store. `None` if the guild is gone.
    pub fn load(store: &Store, id: Id) -> Result<Option<GuildSnapshot>, StoreError> {
        let r = store.read()?;
        let Some(guild) = r.guild(id)? else {
            return Ok(None);
        };
        let roles = r.roles(id)?;
        let channels = r.guild_channels(id)?;
        let mut members = HashMap::new();
        let mut after = None;
        loop {
            let page = r.members(id, after, 1000)?;
            let Some(last) = page.last() else { break };
            after = Some(last.user.id);
            for m in page {
                members.insert(m.user.id, MemberRoles { roles: m.roles });
            }
        }
        Ok(Some(GuildSnapshot::new(guild, roles, channels, members)))
    }

    /// A new actor for a loaded guild.
    pub fn new(core: Arc<Core>, snap: GuildSnapshot) -> GuildActor {
        GuildActor {
            core,
            snap: Arc::new(snap),
            sessions: HashMap::new(),
            by_user: HashMap::new(),
            visible: HashMap::new(),
            readers: HashMap::new(),
            all: Readers::default(),
            presence_subs: Readers::default(),
            channel_actors: HashMap::new(),
            voice: HashMap::new(),
            rooms: HashMap::new(),
            idle_since: None,
        }
    }

    fn id(&self) -> Id {
        self.snap.guild.id
    }

    fn is_large(&self) -> bool {
        self.snap.members.len() > LARGE_GUILD_THRESHOLD
    }

    /// Where presence updates go: everyone in small guilds, subscribers in large ones.
    fn presence_readers(&self) -> &Readers {
        if self.is_large() {
            &self.presence_subs
        } else {
            &self.all
        }
    }

    fn user_sessions(&self, user: Id) -> Vec<SessionRef> {
        self.by_user
            .get(&user)
            .map(|ids| ids.iter().filter_map(|i| self.sessions.get(i).cloned()).collect())
            .unwrap_or_default()
    }

    fn check_idle(&mut self, ctx: &mut Context<Self>) {
        if !self.sessions.is_empty() || !self.channel_actors.is_empty() {
            self.idle_since = None;
            return;
        }
        let since = *self.idle_since.get_or_insert_with(std::time::Instant::now);
        if since.elapsed() >= self.core.config.actor_idle() {
            ctx.stop();
        }
    }
}

impl Actor for GuildActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::GUILD_ACTORS.inc();
        // Channel actors and sessions talk to the guild; it must never refuse them.
        ctx.set_mailbox_capacity(crate::actors::limits::INTERNAL_MAILBOX_CAPACITY);
        let tick = (self.core.config.actor_idle() / 10).max(std::time::Duration::from_millis(100));
        ctx.run_interval(tick, |a, ctx| a.check_idle(ctx));
    }

    fn stopping(&mut self, ctx: &mut Self::Context) -> Running {
        self.clear_voice();
        self.core.registry.forget_guild(self.id(), &ctx.address());
        Running::Stop
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        metrics::GUILD_ACTORS.dec();
    }
}
