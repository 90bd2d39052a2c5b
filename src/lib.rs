//! # Hearth
//!
//! A self-hosted, single-binary real-time community server: guilds with text
//! and voice channels, roles and permissions, direct messages, a REST API and
//! a WebSocket gateway.
//!
//! ## The layers (docs/architecture.md)
//!
//! - [`model`]: ids, permissions, records and their limits — pure.
//! - [`protocol`]: what travels on the wire (ops, events, codec, wire limits).
//! - [`store`]: one redb file and the group-committing writer.
//! - [`errors`]: the one error type clients see, codes from one table.
//! - [`domain`]: the rules of each feature, used by REST and the gateway
//!   alike; each operation commits and returns the [`domain::Effects`] of the
//!   change.
//! - [`actors`]: sessions, channels, guilds, voice rooms and per-worker hubs:
//!   they order and deliver, the domain decides.
//! - [`http`]: REST routes (thin shells around the domain), the gateway
//!   upgrade, operational endpoints and the web client.
//! - [`core`]: what all of them share; [`server`] wires it together.
//!
//! ## Where a message goes
//!
//! 1. [`http::gateway`] upgrades a WebSocket into an [`actors::session`] actor
//!    (or [`http::messages`] takes a REST send).
//! 2. The session decodes the frame ([`protocol::codec`]), builds a
//!    [`domain::messages::Draft`] and forwards it to the [`actors::channel`]
//!    actor found through the [`actors::registry`].
//! 3. The channel applies the domain's send rules
//!    ([`domain::messages::check_send`], slow mode) to permissions from its
//!    guild's [`model::snapshot::GuildSnapshot`], assigns a snowflake
//!    ([`model::ids`]) and queues the write to the group-committing writer in
//!    [`store`].
//! 4. After the commit, the channel encodes the event once and sends it, one
//!    message per worker thread, to the [`actors::hub`] of each worker, which
//!    queues the shared frame to each local session.
//! 5. [`actors::guild`] decides who may read which channel and pushes reader
//!    sets to channel actors whenever roles, overwrites or membership change
//!    (told by [`actors::effects`] after each committed domain change).
//!
//! Everything a client can send is bounded by [`protocol::limits`] and
//! [`model::limits`]; every error a client can get is in [`errors`].

pub mod actors;
pub mod auth;
pub mod config;
pub mod core;
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
