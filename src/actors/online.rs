//! Who is online: user id → live sessions and status. Sharded (DashMap), so
//! connects, disconnects and DM deliveries on different users do not contend.

use dashmap::DashMap;
use smallvec::SmallVec;

use std::sync::Arc;

use super::hub::SessionRef;
use super::session::budget::OutboundBudget;
use super::session::{Kick, SessionShared};
use crate::metrics;
use crate::model::{Id, Status};

struct Entry {
    sessions: SmallVec<[SessionRef; 2]>,
    status: Status,
}

/// A live session's state (`SessionShared::phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// IDENTIFY accepted, READY being assembled.
    Identifying,
    /// READY sent; a connection is attached.
    Connected,
    /// The connection went away; resumable for the grace period.
    Detached,
}

/// The index of live sessions by user, and of resumable sessions by `session_id`.
pub struct Online {
    /// Bytes queued to every connection, against `--max-total-outbound-bytes`.
    pub outbound: Arc<OutboundBudget>,
    users: DashMap<Id, Entry>,
    resumable: DashMap<String, Arc<SessionShared>>,
    connections: Arc<DashMap<std::net::IpAddr, usize>>,
}

/// One open gateway connection counted against its IP; released on drop.
pub struct ConnectionSlot {
    ip: std::net::IpAddr,
    counts: Arc<DashMap<std::net::IpAddr, usize>>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Some(mut n) = self.counts.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
        }
        self.counts.remove_if(&self.ip, |_, n| *n == 0);
    }
}

impl Default for Online {
    fn default() -> Online {
        Online::new(crate::actors::limits::MAX_TOTAL_OUTBOUND_BYTES)
    }
}

impl Online {
    /// An empty index whose connections share an outbound budget of `max_total_outbound` bytes.
    pub fn new(max_total_outbound: usize) -> Online {
        Online {
            outbound: Arc::new(OutboundBudget::new(max_total_outbound)),
            users: DashMap::new(),
            resumable: DashMap::new(),
            connections: Arc::default(),
        }
    }

    /// Register a session; returns true if it is the user's first.
    pub fn add(&self, s: SessionRef, status: Status) -> bool {
        metrics::SESSIONS.inc();
        let mut e = self.users.entry(s.user_id()).or_insert_with(|| Entry { sessions: SmallVec::new(), status });
        let first = e.sessions.is_empty();
        if first {
            e.status = status;
        }
        e.sessions.push(s);
        first
    }

    /// Unregister a session; returns true if the user has no sessions left.
    pub fn remove(&self, user: Id, session_id: u64) -> bool {
        let mut gone = false;
        let empty = match self.users.get_mut(&user) {
            Some(mut e) => {
                let before = e.sessions.len();
                e.sessions.retain(|s| s.id() != session_id);
                gone = e.sessions.len() < before;
                e.sessions.is_empty()
            }
            None => true,
        };
        if gone {
            metrics::SESSIONS.dec();
        }
        if empty {
            self.users.remove_if(&user, |_, e| e.sessions.is_empty());
        }
        empty
    }

    /// The user's live sessions.
    pub fn sessions(&self, user: Id) -> Vec<SessionRef> {
        self.users.get(&user).map(|e| e.sessions.to_vec()).unwrap_or_default()
    }

    /// Live sessions of several users.
    pub fn sessions_of(&self, users: &[Id]) -> Vec<SessionRef> {
        users.iter().flat_map(|u| self.sessions(*u)).collect()
    }

    /// The user's status (offline when not connected).
    pub fn status(&self, user: Id) -> Status {
        self.users.get(&user).map_or(Status::Offline, |e| e.status)
    }

    /// Set the user's status; returns false if the user is not connected.
    pub fn set_status(&self, user: Id, status: Status) -> bool {
        match self.users.get_mut(&user) {
            Some(mut e) => {
                e.status = status;
                true
            }
            None => false,
        }
    }

    /// Close the user's gateway sessions that identified with a revoked token:
    /// `only` one token, or every token except `keep`. Returns the sessions
    /// that are detached (awaiting resume): the caller ends them, since they
    /// can never resume with a revoked token.
    pub fn kick_tokens(&self, user: Id, only: Option<Id>, keep: Option<Id>) -> Vec<Arc<SessionShared>> {
        let mut detached = Vec::new();
        for s in self.sessions(user) {
            let t = s.shared.token_id;
            if only.is_none_or(|o| o == t) && keep != Some(t) && !s.shared.kick(Kick::Revoked) {
                detached.push(s.shared.clone());
            }
        }
        detached
    }

    /// Send `kick` to every identified session.
    pub fn kick_all(&self, kick: Kick) {
        for e in self.users.iter() {
            for s in &e.sessions {
                let _ = s.shared.kick(kick);
            }
        }
    }

    /// Identified sessions by state, and the open connections not identified
    /// (out of `connections` open ones), for `hearth_gateway_sessions_by_state`.
    pub fn session_states(&self, connections: i64) -> metrics::SessionStates {
        let mut out = metrics::SessionStates::default();
        for e in self.users.iter() {
            for s in &e.sessions {
                match s.shared.phase() {
                    Some(Phase::Identifying) => out.identifying += 1,
                    Some(Phase::Connected) => out.connected += 1,
                    Some(Phase::Detached) => out.detached += 1,
                    None => {}
                }
            }
        }
        out.awaiting_identify = (connections - out.identifying - out.connected).max(0);
        out
    }

    /// What the live sessions hold (replay buffers, outbound queues), for
    /// the memory gauges of a scrape.
    pub fn memory(&self) -> metrics::GatewayMemory {
        let mut out = metrics::GatewayMemory::default();
        for e in self.users.iter() {
            for s in &e.sessions {
                let Some((phase, frames, bytes, queued)) = s.shared.memory() else { continue };
                if phase == Phase::Detached {
                    out.replay_bytes_detached += bytes as u64;
                } else {
                    out.replay_bytes_attached += bytes as u64;
                }
                out.replay_frames += frames as u64;
                out.outbound_bytes += queued as u64;
            }
        }
        out.online_users = self.users.len() as u64;
        out.resumable_sessions = self.resumable.len() as u64;
        out.connection_ips = self.connections.len() as u64;
        out
    }

    /// Count a new gateway connection from `ip`; None if it already has `max`.
    pub fn connection_slot(&self, ip: std::net::IpAddr, max: usize) -> Option<ConnectionSlot> {
        let mut n = self.connections.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot { ip, counts: self.connections.clone() })
    }

    /// Make a session findable by its `session_id` for Resume.
    pub fn register_resumable(&self, s: Arc<SessionShared>) {
        self.resumable.insert(s.resume_key.clone(), s);
    }

    /// The session a RESUME names, if it is still resumable.
    pub fn resumable(&self, key: &str) -> Option<Arc<SessionShared>> {
        self.resumable.get(key).map(|s| s.clone()).filter(|s| !s.has_ended())
    }

    /// Forget an ended session.
    pub fn forget_resumable(&self, key: &str) {
        self.resumable.remove(key);
    }

    /// Number of live sessions.
    pub fn session_count(&self) -> usize {
        self.users.iter().map(|e| e.sessions.len()).sum()
    }
}
