//! Integration stories: each starts the real server and uses real clients.

mod common;

mod chat;
mod durability;
mod gateway_life;
mod permissions;
mod storage;
