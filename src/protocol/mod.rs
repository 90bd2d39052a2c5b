//! The gateway wire protocol: ops, frames, payloads, close codes and limits.
//! Shared by the server, the tests and the load generator.

pub mod close;
pub mod codec;
pub mod commands;
pub mod events;
pub mod limits;
pub mod message_events;
pub mod msgpack_len;
mod nonce;
pub mod op;
pub mod strict;

#[cfg(test)]
mod fuzz_tests;

pub use close::CloseCode;
pub use codec::{Encoding, SharedEvent};
pub use op::Op;

/// The gateway protocol version (`?v=`).
pub const PROTOCOL_VERSION: u8 = 1;
