//! Integration stories: each starts the real server and uses real clients.

#[path = "../support/mod.rs"]
mod support;

mod common;

mod accounts;
mod backup;
mod bad_input;
mod chat;
mod crash;
mod dms;
mod durability;
mod gateway_life;
mod guild_admin;
mod hostile;
mod invites;
mod logs;
mod memory;
mod message_actions;
mod origins;
mod permissions;
mod rate_limits;
mod reactions;
mod relationships;
mod resume;
mod security;
mod storage;
mod strict;
mod voice;
mod voice_peer;
