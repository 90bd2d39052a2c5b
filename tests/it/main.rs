//! Integration stories: each starts the real server and uses real clients.

mod common;

mod accounts;
mod bad_input;
mod chat;
mod durability;
mod gateway_life;
mod permissions;
mod storage;
