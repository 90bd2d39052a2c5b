//! The actors: one per gateway session, per active channel and per active
//! guild, plus one delivery hub per worker thread. They share a [`crate::core::Core`].

pub mod channel;
pub mod effects;
pub mod guild;
pub mod hub;
pub mod limits;
pub mod online;
pub mod registry;
pub mod session;
pub mod voice_room;
