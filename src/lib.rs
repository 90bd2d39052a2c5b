//! # Hearth
//!
//! A self-hosted, single-binary real-time community server: guilds with text
//! and voice channels, roles and permissions, direct messages, a REST API and
//! a WebSocket gateway.
//!
//! ## Where a message goes
//!
//! 1. [`http::gateway`] upgrades a WebSocket into an [`actors::session`] actor
//!    (or [`http::messages`] takes a REST send).
//! 2. The session decodes the frame ([`protocol::codec`]) and forwards the
//!    command to the [`actors::channel`] actor found through the
//!    [`actors::registry`].
//! 3. The channel checks permissions against its guild's
//!    [`model::snapshot::GuildSnapshot`] (computed by the pure
//!    [`model::permissions`]), assigns a snowflake ([`model::ids`]) and queues
//!    the write to the group-committing writer in [`store`].
//! 4. After the commit, the channel encodes the event once and sends it, one
//!    message per worker thread, to the [`actors::hub`] of each worker, which
//!    queues the shared frame to each local session.
//! 5. [`actors::guild`] decides who may read which channel and pushes reader
//!    sets to channel actors whenever roles, overwrites or membership change.
//!
//! Everything a client can send is bounded by [`protocol::limits`]; every
//! error a client can get is in [`errors`].

pub mod actors;
pub mod auth;
pub mod config;
pub mod domain;
pub mod errors;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod protocol;
pub mod ratelimit;
pub mod server;
pub mod service;
pub mod store;
pub mod tls;
pub mod util;
pub mod voice;
