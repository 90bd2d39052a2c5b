//! What every actor and HTTP handler shares: the store, the live-session
//! index, the actor registry, configuration, rate limiters, readiness and the
//! voice socket. Built once at startup ([`crate::server`]).

pub mod readiness;

use std::sync::Arc;

use crate::config::Config;
use crate::store::Store;

/// What every actor and HTTP handler shares.
pub struct Core {
    /// The database.
    pub store: Store,
    /// Live sessions by user.
    pub online: crate::actors::online::Online,
    /// Live channel and guild actors.
    pub registry: crate::actors::registry::Registry,
    /// The effective configuration.
    pub config: Config,
    /// Rate limiters.
    pub limits: crate::ratelimit::Limits,
    /// The bounded pool every password hash and check runs on.
    pub hashing: crate::auth::pool::HashPool,
    /// What `/readyz` reports (accepting, storage writable).
    pub readiness: readiness::Readiness,
    /// The voice socket and SFU state (`None` with `--no-voice`).
    pub voice: Option<Arc<crate::voice::VoiceNet>>,
}

impl Core {
    /// Assemble the core. Must be called inside a running actix system.
    pub fn new(store: Store, config: Config) -> Arc<Core> {
        Self::with_voice(store, config, None)
    }

    /// Assemble the core with a started voice socket.
    pub fn with_voice(store: Store, config: Config, voice: Option<Arc<crate::voice::VoiceNet>>) -> Arc<Core> {
        let threads = config.workers.max(1);
        let limits = crate::ratelimit::Limits::new(config.rate_limit_scale);
        let hashing = crate::auth::pool::HashPool::start(
            config.argon2_thread_count(),
            crate::protocol::limits::MAX_QUEUED_PASSWORD_HASHES,
            config.password_cost(),
        );
        Arc::new(Core {
            store,
            online: crate::actors::online::Online::new(config.max_total_outbound_bytes),
            registry: crate::actors::registry::Registry::new(threads),
            config,
            limits,
            hashing,
            readiness: readiness::Readiness::default(),
            voice,
        })
    }
}
