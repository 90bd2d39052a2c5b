//! id → live actor address, starting channel and guild actors on demand.
//!
//! Channel and guild actors run on a small pool of arbiters (threads),
//! chosen by id. Actors that stop remove themselves with [`Registry::forget_guild`] /
//! [`Registry::forget_channel`]; a sender that meets a stopped actor asks again.

use std::sync::Arc;

use actix::prelude::*;
use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use super::channel::ChannelActor;
use super::guild::GuildActor;
use crate::core::Core;
use crate::model::Id;
use crate::store::{Read, StoreError};

/// The registry of live channel and guild actors.
pub struct Registry {
    arbiters: Vec<ArbiterHandle>,
    guilds: DashMap<Id, Addr<GuildActor>>,
    channels: DashMap<Id, Addr<ChannelActor>>,
}

impl Registry {
    /// A registry whose actors run on `threads` new arbiters. Must be called
    /// inside a running actix system.
    pub fn new(threads: usize) -> Registry {
        let arbiters = (0..threads.max(1)).map(|_| Arbiter::new().handle()).collect();
        Registry { arbiters, guilds: DashMap::new(), channels: DashMap::new() }
    }

    fn arbiter_for(&self, id: Id) -> &ArbiterHandle {
        // Ids are snowflakes: mix the bits so sequence and worker fields spread.
        let h = id.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        let n = self.arbiters.len().max(1) as u64;
        &self.arbiters[usize::try_from(h % n).unwrap_or(0)]
    }

    /// The arbiter (thread) for actors of `id` (voice rooms use it too).
    pub fn arbiter(&self, id: Id) -> ArbiterHandle {
        self.arbiter_for(id).clone()
    }

    /// The guild's actor, started if needed. `Ok(None)` if the guild does not exist.
    pub fn guild(&self, core: &Arc<Core>, id: Id) -> Result<Option<Addr<GuildActor>>, StoreError> {
        if let Some(a) = self.guilds.get(&id).filter(|a| a.connected()) {
            return Ok(Some(a.clone()));
        }
        let Some(snapshot) = GuildActor::load(&core.store, id)? else {
            return Ok(None);
        };
        let arbiter = self.arbiter_for(id).clone();
        Ok(Some(match self.guilds.entry(id) {
            Entry::Occupied(e) if e.get().connected() => e.get().clone(),
            e => {
                let core = core.clone();
                let addr = GuildActor::start_in_arbiter(&arbiter, move |_| GuildActor::new(core, snapshot));
                match e {
                    Entry::Occupied(mut o) => {
                        o.insert(addr.clone());
                    }
                    Entry::Vacant(v) => {
                        v.insert(addr.clone());
                    }
                }
                addr
            }
        }))
    }

    /// The guild's actor if it is running.
    pub fn live_guild(&self, id: Id) -> Option<Addr<GuildActor>> {
        self.guilds.get(&id).filter(|a| a.connected()).map(|a| a.clone())
    }

    /// Remove a stopping guild actor (only if it is still the registered one).
    pub fn forget_guild(&self, id: Id, addr: &Addr<GuildActor>) {
        self.guilds.remove_if(&id, |_, a| a == addr);
    }

    /// The channel's actor, started if needed. `Ok(None)` if the channel does not exist.
    pub fn channel(&self, core: &Arc<Core>, id: Id) -> Result<Option<Addr<ChannelActor>>, StoreError> {
        if let Some(a) = self.channels.get(&id).filter(|a| a.connected()) {
            return Ok(Some(a.clone()));
        }
        let Some(channel) = core.store.read()?.channel(id)? else {
            return Ok(None);
        };
        if !channel.kind.has_messages() {
            return Ok(None);
        }
        let arbiter = self.arbiter_for(id).clone();
        Ok(Some(match self.channels.entry(id) {
            Entry::Occupied(e) if e.get().connected() => e.get().clone(),
            e => {
                let core = core.clone();
                let addr = ChannelActor::start_in_arbiter(&arbiter, move |_| ChannelActor::new(core, channel));
                match e {
                    Entry::Occupied(mut o) => {
                        o.insert(addr.clone());
                    }
                    Entry::Vacant(v) => {
                        v.insert(addr.clone());
                    }
                }
                addr
            }
        }))
    }

    /// The channel's actor if it is running.
    pub fn live_channel(&self, id: Id) -> Option<Addr<ChannelActor>> {
        self.channels.get(&id).filter(|a| a.connected()).map(|a| a.clone())
    }

    /// Entries of the (channel, guild) maps, for metrics: they shrink as idle actors stop.
    pub fn sizes(&self) -> (usize, usize) {
        (self.channels.len(), self.guilds.len())
    }

    /// Remove a stopping channel actor (only if it is still the registered one).
    pub fn forget_channel(&self, id: Id, addr: &Addr<ChannelActor>) {
        self.channels.remove_if(&id, |_, a| a == addr);
    }
}
