//! Delivery to sessions, grouped by worker thread.
//!
//! Each HTTP worker thread runs one [`Hub`]. A channel or guild sends one
//! [`Deliver`] per worker that has readers; the hub, on the readers' own
//! thread, hands the shared frame to each local session. Cross-thread wake-ups
//! therefore scale with workers, not with readers.

use std::sync::Arc;

use actix::prelude::*;

use crate::metrics;
use crate::model::Id;
use crate::protocol::{Encoding, SharedEvent};

pub use super::session::SessionShared;

/// A handle to a live session, as kept in reader lists.
#[derive(Clone)]
pub struct SessionRef {
    /// Shared state (sequence numbers, replay buffer, current connection).
    pub shared: Arc<SessionShared>,
    /// The hub of the worker thread the session started on.
    pub hub: WorkerHub,
}

impl SessionRef {
    /// The session number.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The user.
    pub fn user_id(&self) -> Id {
        self.shared.user_id
    }
}

/// A hub and the worker index it serves.
#[derive(Clone)]
pub struct WorkerHub {
    /// Worker index (0-based).
    pub worker: usize,
    /// The hub actor.
    pub addr: Addr<Hub>,
}

/// The sessions of one worker that should receive an event.
#[derive(Clone)]
pub struct ReaderGroup {
    /// Their hub.
    pub hub: WorkerHub,
    /// The sessions, shared with in-flight deliveries.
    pub targets: Arc<Vec<SessionRef>>,
}

/// Reader sessions grouped by worker, kept by channels and guilds.
#[derive(Clone, Default)]
pub struct Readers {
    groups: Vec<ReaderGroup>,
    json: usize,
}

impl Readers {
    /// Build from a list of sessions.
    pub fn from_sessions<'a>(sessions: impl IntoIterator<Item = &'a SessionRef>) -> Readers {
        let mut r = Readers::default();
        for s in sessions {
            r.add(s.clone());
        }
        r
    }

    /// Add a session (no-op if present).
    pub fn add(&mut self, s: SessionRef) {
        if s.shared.encoding == Encoding::Json {
            self.json += 1;
        }
        match self.groups.iter_mut().find(|g| g.hub.worker == s.hub.worker) {
            Some(g) => {
                let targets = Arc::make_mut(&mut g.targets);
                if targets.iter().any(|t| t.id() == s.id()) {
                    if s.shared.encoding == Encoding::Json {
                        self.json -= 1;
                    }
                    return;
                }
                targets.push(s);
            }
            None => self.groups.push(ReaderGroup { hub: s.hub.clone(), targets: Arc::new(vec![s]) }),
        }
    }

    /// Remove a session by number.
    pub fn remove(&mut self, session_id: u64) {
        for g in &mut self.groups {
            if let Some(pos) = g.targets.iter().position(|t| t.id() == session_id) {
                let gone = Arc::make_mut(&mut g.targets).swap_remove(pos);
                if gone.shared.encoding == Encoding::Json {
                    self.json -= 1;
                }
            }
        }
        self.groups.retain(|g| !g.targets.is_empty());
    }

    /// Number of reader sessions.
    pub fn len(&self) -> usize {
        self.groups.iter().map(|g| g.targets.len()).sum()
    }

    /// Whether there are no readers.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether any reader wants JSON.
    pub fn wants_json(&self) -> bool {
        self.json > 0
    }

    /// Encode `d` once and deliver it to every reader.
    pub fn dispatch<T: serde::Serialize + ?Sized>(&self, name: &'static str, d: &T) {
        if self.groups.is_empty() {
            return;
        }
        self.deliver(SharedEvent::new(name, d, self.wants_json()));
    }

    /// Deliver an already encoded event: one message per worker.
    pub fn deliver(&self, event: Arc<SharedEvent>) {
        metrics::EVENTS.inc();
        for g in &self.groups {
            g.hub.addr.do_send(Deliver { event: event.clone(), targets: g.targets.clone() });
        }
    }

    /// Iterate over all reader sessions.
    pub fn iter(&self) -> impl Iterator<Item = &SessionRef> {
        self.groups.iter().flat_map(|g| g.targets.iter())
    }
}

/// Encode once and deliver to an ad-hoc set of sessions (DMs, a user's own sessions).
pub fn dispatch_to<T: serde::Serialize + ?Sized>(sessions: &[SessionRef], name: &'static str, d: &T) {
    if !sessions.is_empty() {
        Readers::from_sessions(sessions).dispatch(name, d);
    }
}

/// The per-worker delivery actor.
pub struct Hub {
    worker: usize,
}

impl Hub {
    /// A hub for worker `worker`.
    pub fn new(worker: usize) -> Hub {
        Hub { worker }
    }
}

impl Actor for Hub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Deliveries come from every channel; never make them wait.
        ctx.set_mailbox_capacity(crate::protocol::limits::INTERNAL_MAILBOX_CAPACITY);
        tracing::debug!(worker = self.worker, "hub started");
    }
}

/// Deliver one event to sessions on this hub's worker.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver {
    /// The shared, encoded event.
    pub event: Arc<SharedEvent>,
    /// Target sessions on this worker.
    pub targets: Arc<Vec<SessionRef>>,
}

impl Handler<Deliver> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Deliver, _: &mut Self::Context) {
        for t in msg.targets.iter() {
            t.shared.deliver(&msg.event);
        }
    }
}
