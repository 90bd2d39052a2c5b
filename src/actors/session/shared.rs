//! The part of a session that outlives its WebSocket connection: sequence
//! numbers, the replay buffer, the current connection (if any) and the guilds
//! it belongs to. Deliverers (hubs) and the connection actor share it; a
//! dropped connection leaves it detached and resumable for the grace period.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use parking_lot::Mutex;

use super::budget::OutboundLimits;
use super::replay::{Replay, ReplayError};
use super::{Kick, Outbound, Session, FRAME_OVERHEAD};
use crate::actors::guild::GuildActor;
use crate::actors::online::Phase;
use crate::metrics;
use crate::model::Id;
use crate::protocol::{Encoding, SharedEvent};

/// State of one session that deliverers may touch from other threads.
pub struct SessionShared {
    /// Process-unique session number.
    pub id: u64,
    /// The `session_id` given to the client for Resume.
    pub resume_key: String,
    /// The identified user.
    pub user_id: Id,
    /// The login session (token) it identified with.
    pub token_id: Id,
    /// The session's encoding (a resume must use the same).
    pub encoding: Encoding,
    /// What bounds the connection's queue: its own bound and the server-wide budget.
    pub outbound: OutboundLimits,
    /// Bytes queued to the connection's mailbox and not yet written.
    pub queued_bytes: AtomicUsize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    conn: Option<Addr<Session>>,
    generation: u64,
    ready: bool,
    held: Vec<Arc<SharedEvent>>,
    replay: Replay,
    slow: bool,
    ended: bool,
    guilds: HashMap<Id, Addr<GuildActor>>,
}

/// Why a resume was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ResumeRefused {
    /// The session ended or frames after the given seq are gone.
    Invalid,
    /// The client claims a seq the server never sent.
    Ahead,
}

impl SessionShared {
    /// A new session attached to `conn`, not yet READY.
    pub fn new(
        id: u64,
        resume_key: String,
        user_id: Id,
        token_id: Id,
        encoding: Encoding,
        outbound: OutboundLimits,
        conn: Addr<Session>,
    ) -> SessionShared {
        SessionShared {
            id,
            resume_key,
            user_id,
            token_id,
            encoding,
            outbound,
            queued_bytes: AtomicUsize::new(0),
            state: Mutex::new(State { conn: Some(conn), ..State::default() }),
        }
    }

    /// Queue one event: number it, keep it for Resume, and pass it to the
    /// connection unless the session is detached, not READY yet, or slow.
    pub fn deliver(&self, event: &Arc<SharedEvent>) {
        let mut st = self.state.lock();
        if st.ended {
            return;
        }
        if !st.ready {
            st.held.push(event.clone());
            return;
        }
        let seq = st.replay.push(event.clone(), self.encoding);
        if st.slow || st.conn.is_none() {
            return;
        }
        let size = event.len(self.encoding) + FRAME_OVERHEAD;
        let queued = self.queued_bytes.fetch_add(size, Ordering::Relaxed) + size;
        let total = self.outbound.budget.add(size);
        let within = queued <= self.outbound.per_session && !self.outbound.budget.over(total, queued);
        // Send through the stored address, never a clone of it: cloning an `Addr`
        // allocates a fresh sender whose park state starts empty, so `try_send`
        // on a clone never reports a full mailbox (and costs two allocations).
        let sent = match st.conn.as_ref() {
            Some(conn) if within => conn.try_send(Outbound { seq, event: event.clone() }),
            _ => {
                self.unqueue(size);
                return self.mark_slow(&mut st);
            }
        };
        match sent {
            Ok(()) => metrics::DELIVERIES.inc(),
            Err(SendError::Full(_)) => {
                self.unqueue(size);
                self.mark_slow(&mut st)
            }
            // The connection is going away (detaching gives its queue back);
            // the frame stays in the replay buffer.
            Err(SendError::Closed(_)) => {}
        }
    }

    /// `size` queued bytes left the queue without being written.
    fn unqueue(&self, size: usize) {
        let _ = self.queued_bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| Some(q.saturating_sub(size)));
        self.outbound.budget.sub(size);
    }

    /// The connection's queue is gone (detached, superseded, ended): give
    /// what it held back to the server-wide budget.
    fn drop_queue(&self) {
        self.outbound.budget.sub(self.queued_bytes.swap(0, Ordering::Relaxed));
    }

    fn mark_slow(&self, st: &mut State) {
        st.slow = true;
        metrics::SLOW_READERS.inc();
        tracing::info!(session = self.id, "slow reader: outbound queue full, closing");
        // Further frames only go to the replay buffer; the connection closes
        // with 4021 (its mailbox may be full, so it also checks `is_slow`).
        if let Some(conn) = st.conn.as_ref() {
            let _ = conn.try_send(Kick::SlowConsumer);
        }
    }

    /// Whether the current connection fell behind.
    pub fn is_slow(&self) -> bool {
        self.state.lock().slow
    }

    /// A frame left the mailbox and was written.
    pub fn written(&self, event: &SharedEvent) {
        self.unqueue(event.len(self.encoding) + FRAME_OVERHEAD);
    }

    /// Send READY first, then whatever arrived while it was being built.
    pub fn start(&self, ready: Arc<SharedEvent>, mut write: impl FnMut(u64, &SharedEvent)) {
        let mut st = self.state.lock();
        let seq = st.replay.push(ready.clone(), self.encoding);
        write(seq, &ready);
        for ev in std::mem::take(&mut st.held) {
            let seq = st.replay.push(ev.clone(), self.encoding);
            write(seq, &ev);
        }
        st.ready = true;
    }

    /// Attach a new connection and replay every frame after `seq`, then `resumed`.
    pub fn resume(
        &self,
        conn: Addr<Session>,
        seq: u64,
        resumed: Arc<SharedEvent>,
        mut write: impl FnMut(u64, &SharedEvent),
    ) -> Result<(), ResumeRefused> {
        let mut st = self.state.lock();
        if st.ended || !st.ready {
            return Err(ResumeRefused::Invalid);
        }
        let frames = st.replay.after(seq).map_err(|e| match e {
            ReplayError::Gone => ResumeRefused::Invalid,
            ReplayError::Ahead => ResumeRefused::Ahead,
        })?;
        if let Some(old) = st.conn.replace(conn) {
            old.do_send(Kick::Superseded);
        }
        st.generation += 1;
        st.slow = false;
        self.drop_queue();
        for (s, ev) in &frames {
            write(*s, ev);
        }
        let s = st.replay.push(resumed.clone(), self.encoding);
        write(s, &resumed);
        Ok(())
    }

    /// The client acknowledged everything up to `seq` (heartbeat).
    pub fn ack(&self, seq: u64) {
        self.state.lock().replay.ack(seq, self.encoding);
    }

    /// `conn` went away: detach it if it is still the current connection.
    /// Returns the generation to check when the grace period ends.
    pub fn detach(&self, conn: &Addr<Session>) -> Option<u64> {
        let mut st = self.state.lock();
        if st.conn.as_ref() == Some(conn) {
            st.conn = None;
            // Frames left in the connection's mailbox died with it.
            self.drop_queue();
            Some(st.generation)
        } else {
            None
        }
    }

    /// Whether the session is still detached since `generation` (the grace ran out).
    pub fn expired(&self, generation: u64) -> bool {
        let st = self.state.lock();
        !st.ended && st.conn.is_none() && st.generation == generation
    }

    /// Where the session is, for metrics: identifying (READY not sent yet),
    /// connected or detached; None once ended.
    pub fn phase(&self) -> Option<Phase> {
        let st = self.state.lock();
        match (st.ended, st.ready, st.conn.is_some()) {
            (true, _, _) => None,
            (false, _, false) => Some(Phase::Detached),
            (false, false, true) => Some(Phase::Identifying),
            (false, true, true) => Some(Phase::Connected),
        }
    }

    /// Its state and what it holds, for metrics: (phase, replay frames,
    /// replay bytes, outbound bytes); None once ended. Outbound bytes count
    /// only while a connection is attached (a detached session has no queue).
    pub fn memory(&self) -> Option<(Phase, usize, usize, usize)> {
        let phase = self.phase()?;
        let st = self.state.lock();
        let held: usize = st.held.iter().map(|e| e.len(self.encoding)).sum();
        let queued = if phase == Phase::Detached { 0 } else { self.queued_bytes.load(Ordering::Relaxed) };
        Some((phase, st.replay.len() + st.held.len(), st.replay.bytes() + held, queued))
    }

    /// Whether the session has ended.
    pub fn has_ended(&self) -> bool {
        self.state.lock().ended
    }

    /// End the session; returns its guilds the first time, None after.
    pub fn end(&self) -> Option<Vec<Addr<GuildActor>>> {
        let mut st = self.state.lock();
        if st.ended {
            return None;
        }
        st.ended = true;
        self.drop_queue();
        st.replay.clear();
        st.held.clear();
        st.conn = None;
        Some(st.guilds.drain().map(|(_, g)| g).collect())
    }

    /// Close the current connection for `kick`; false if the session is detached.
    pub fn kick(&self, kick: Kick) -> bool {
        match self.state.lock().conn.as_ref() {
            Some(c) => {
                c.do_send(kick);
                true
            }
            None => false,
        }
    }

    /// Record joining (Some) or leaving (None) a guild.
    pub fn set_guild(&self, guild: Id, addr: Option<Addr<GuildActor>>) {
        let mut st = self.state.lock();
        match addr {
            Some(a) => {
                st.guilds.insert(guild, a);
            }
            None => {
                st.guilds.remove(&guild);
            }
        }
    }

    /// The guild actor of a guild the session is in.
    pub fn guild(&self, guild: Id) -> Option<Addr<GuildActor>> {
        self.state.lock().guilds.get(&guild).cloned()
    }

    /// Every guild the session is in.
    pub fn guilds(&self) -> Vec<Addr<GuildActor>> {
        self.state.lock().guilds.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use actix_web_actors::ws::WebsocketContext;
    use futures_util::{stream, FutureExt, StreamExt};

    use super::*;
    use crate::actors::hub::{Hub, WorkerHub};
    use crate::config::Config;
    use crate::core::Core;
    use crate::model::ids::IdGenerator;
    use crate::protocol::limits::MAX_OUTBOUND_FRAMES;
    use crate::store::Store;

    /// A reader that stops reading freezes its session actor, so its mailbox
    /// fills: the frame bound must then mark it slow, well before the byte bound.
    #[test]
    fn a_full_mailbox_marks_the_reader_slow() {
        let sys = System::new();
        let dir = tempfile::tempdir().unwrap();
        sys.block_on(async {
            let store = Store::open(dir.path(), Arc::new(IdGenerator::new(0))).unwrap();
            let core = Core::new(store, Config::default());
            let hub = WorkerHub { worker: 0, addr: Hub::new(0).start() };
            let session = Session::new(core, hub, Encoding::MsgPack, IpAddr::V4(Ipv4Addr::LOCALHOST));
            let input = stream::pending::<Result<bytes::Bytes, actix_web::error::PayloadError>>();
            let (addr, output) = WebsocketContext::create_with_addr(session, input);
            let mut output = Box::pin(output);
            // Polled once (the actor starts and sets its mailbox capacity), then never again.
            assert!(output.next().now_or_never().is_some(), "HELLO is written at start");
            let limits = OutboundLimits::per_session(1 << 30);
            let shared = SessionShared::new(1, "k".into(), Id(1), Id(2), Encoding::MsgPack, limits, addr);
            shared.start(SharedEvent::new("READY", &(), false), |_, _| {});
            let ev = SharedEvent::new("X", &"x", false);
            for _ in 0..MAX_OUTBOUND_FRAMES / 2 {
                shared.deliver(&ev);
            }
            assert!(!shared.is_slow(), "half a mailbox is not slow");
            for _ in 0..MAX_OUTBOUND_FRAMES {
                shared.deliver(&ev);
            }
            assert!(shared.is_slow(), "more than MAX_OUTBOUND_FRAMES queued frames make a slow reader");
        });
    }

    /// Past the server-wide budget, a reader with a real backlog is closed
    /// even though its own bound is far away; what it held goes back to the
    /// budget when the session ends.
    #[test]
    fn the_server_wide_budget_closes_a_reader_that_is_behind() {
        use crate::actors::limits::MIN_QUEUED_FOR_BUDGET_CLOSE;
        use crate::actors::session::budget::OutboundBudget;
        let sys = System::new();
        let dir = tempfile::tempdir().unwrap();
        sys.block_on(async {
            let store = Store::open(dir.path(), Arc::new(IdGenerator::new(0))).unwrap();
            let core = Core::new(store, Config::default());
            let hub = WorkerHub { worker: 0, addr: Hub::new(0).start() };
            let session = Session::new(core, hub, Encoding::MsgPack, IpAddr::V4(Ipv4Addr::LOCALHOST));
            let input = stream::pending::<Result<bytes::Bytes, actix_web::error::PayloadError>>();
            let (addr, output) = WebsocketContext::create_with_addr(session, input);
            let mut output = Box::pin(output);
            assert!(output.next().now_or_never().is_some(), "HELLO is written at start");
            let budget = Arc::new(OutboundBudget::new(MIN_QUEUED_FOR_BUDGET_CLOSE / 2));
            let limits = OutboundLimits { per_session: 1 << 30, budget: budget.clone() };
            let shared = SessionShared::new(1, "k".into(), Id(1), Id(2), Encoding::MsgPack, limits, addr);
            shared.start(SharedEvent::new("READY", &(), false), |_, _| {});
            let ev = SharedEvent::new("X", &"x".repeat(1000), false);
            let frame = ev.len(Encoding::MsgPack) + FRAME_OVERHEAD;
            for _ in 0..(MIN_QUEUED_FOR_BUDGET_CLOSE / frame - 1) {
                shared.deliver(&ev);
            }
            assert!(!shared.is_slow(), "over the budget, but its own queue is below the minimum");
            assert!(budget.total() > MIN_QUEUED_FOR_BUDGET_CLOSE / 2);
            for _ in 0..4 {
                shared.deliver(&ev);
            }
            assert!(shared.is_slow(), "a backlog over the minimum with the server over budget");
            assert!(shared.end().is_some());
            assert_eq!(budget.total(), 0, "an ended session holds nothing of the budget");
        });
    }
}
