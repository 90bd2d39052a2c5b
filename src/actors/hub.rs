//! Delivery to sessions, grouped by worker thread.
//!
//! Each HTTP worker thread runs one [`Hub`]. A channel or guild sends one
//! [`Deliver`] per worker that has readers; the hub, on the readers' own
//! thread, hands the shared frame to each local session. Cross-thread wake-ups
//! therefore scale with workers, not with readers.

use std::collections::HashSet;
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
    /// The session numbers in `groups`: adding a session to a channel of
    /// 10 000 readers must not scan all of them (guild connects and reader
    /// rebuilds add one session at a time). Shared like `targets`, so cloning
    /// `Readers` for each publish stays O(workers).
    ids: Arc<HashSet<u64>>,
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
        if self.ids.contains(&s.id()) {
            return;
        }
        Arc::make_mut(&mut self.ids).insert(s.id());
        if s.shared.encoding == Encoding::Json {
            self.json += 1;
        }
        match self.groups.iter_mut().find(|g| g.hub.worker == s.hub.worker) {
            Some(g) => Arc::make_mut(&mut g.targets).push(s),
            None => self.groups.push(ReaderGroup { hub: s.hub.clone(), targets: Arc::new(vec![s]) }),
        }
    }

    /// Remove a session by number.
    pub fn remove(&mut self, session_id: u64) {
        // Guilds remove a leaving session from every channel, most of which it never read.
        if !self.ids.contains(&session_id) {
            return;
        }
        Arc::make_mut(&mut self.ids).remove(&session_id);
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
        self.ids.len()
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
        ctx.set_mailbox_capacity(crate::actors::limits::INTERNAL_MAILBOX_CAPACITY);
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

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use actix_web_actors::ws::WebsocketContext;
    use futures_util::stream;

    use super::*;
    use crate::actors::session::Session;
    use crate::config::Config;
    use crate::core::Core;
    use crate::model::ids::IdGenerator;
    use crate::store::Store;

    #[test]
    fn readers_hold_each_session_once_and_count_json_readers() {
        let sys = System::new();
        let dir = tempfile::tempdir().unwrap();
        sys.block_on(async {
            let store = Store::open(dir.path(), Arc::new(IdGenerator::new(0))).unwrap();
            let core = Core::new(store, Config::default());
            let hubs: Vec<WorkerHub> = (0..2).map(|w| WorkerHub { worker: w, addr: Hub::new(w).start() }).collect();
            let session = |id: u64, worker: usize, encoding| {
                let hub = hubs[worker].clone();
                let s = Session::new(core.clone(), hub.clone(), encoding, IpAddr::V4(Ipv4Addr::LOCALHOST));
                let input = stream::pending::<Result<bytes::Bytes, actix_web::error::PayloadError>>();
                let (addr, _output) = WebsocketContext::create_with_addr(s, input);
                let shared = SessionShared::new(
                    id,
                    id.to_string(),
                    Id(id),
                    Id(id),
                    encoding,
                    crate::actors::session::budget::OutboundLimits::per_session(1 << 20),
                    addr,
                );
                SessionRef { shared: Arc::new(shared), hub }
            };
            let (a, b, c) =
                (session(1, 0, Encoding::MsgPack), session(2, 1, Encoding::Json), session(3, 0, Encoding::Json));
            let mut r = Readers::from_sessions([&a, &b, &c, &a, &b]);
            assert_eq!(r.len(), 3);
            assert_eq!(r.iter().count(), 3, "duplicates are not added");
            assert!(r.wants_json());
            let published = r.clone();
            r.remove(2);
            r.remove(2);
            r.remove(99);
            assert_eq!((r.len(), r.iter().count()), (2, 2));
            assert_eq!(published.len(), 3, "a clone taken for a publish is unaffected");
            r.remove(3);
            assert!(!r.wants_json());
            r.add(b.clone());
            assert_eq!((r.len(), r.iter().count()), (2, 2), "a removed session can come back");
            assert!(r.wants_json());
            r.remove(1);
            r.remove(2);
            assert!(r.is_empty());
        });
    }
}
