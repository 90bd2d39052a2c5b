//! The rules of each feature, in one place, used by the REST routes and the
//! gateway alike.
//!
//! A handler or a gateway command decodes its input, calls one function here
//! with the caller's identity, and turns the result into a response or frames.
//! A domain function decides: who may do it (permissions, visibility), whether
//! the input is valid and within limits, what the change is (it commits it
//! through the store's writer, re-checking inside the write what may have
//! changed since the read) and which [`effects::Effect`]s follow for live
//! clients. It never talks to sockets or actors: [`crate::actors::effects`]
//! delivers the effects after the commit.
//!
//! Pure rules (overwrite checks, patch application, group-DM membership, slow
//! mode arithmetic, ...) are plain functions with unit tests beside them.

pub mod access;
pub mod accounts;
pub mod channels;
pub mod compose;
pub mod contacts;
pub mod dms;
pub mod effects;
pub mod guilds;
pub mod input;
pub mod invites;
pub mod members;
pub mod message_actions;
pub mod messages;
pub mod patch;
pub mod pins;
pub mod privacy;
pub mod reactions;
pub mod relationships;
pub mod roles;
pub mod voice;

pub use access::{ChannelAccess, GuildAccess};
pub use effects::{Change, ChannelEvent, ChannelOp, Effect, Effects};
