//! The one test harness shared by every test binary: start the real `hearth`
//! binary ([`server`]), talk to it over real HTTP ([`http`]), and wait for
//! things with a deadline instead of a fixed sleep ([`poll`]).
//!
//! Each binary includes it with `#[path = "support/mod.rs"] mod support;`
//! (from `tests/it/`: `"../support/mod.rs"`) and uses what it needs.
#![allow(dead_code, unused_imports)]

pub mod cgroup;
pub mod http;
pub mod poll;
pub mod server;

pub use http::{Http, Reply};
pub use poll::{eventually, eventually_async};
pub use server::{hearth_bin, run_hearth, Launch, Running};

use std::time::Duration;

/// Default time to wait for something that should happen.
pub const WAIT: Duration = Duration::from_secs(10);
