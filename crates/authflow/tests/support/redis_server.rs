//! This crate's view of the test binary's `redis-server` (`authflow_testkit::redis`): its
//! port, or `None` with the running test's skip reported (`support/skip.rs`) when
//! redis-server is not installed, unless AUTHFLOW_REQUIRE_TOOLS is set.
//!
//! Include it with `#[path = "support/redis_server.rs"] mod redis_server;` and
//! `#[path = "support/skip.rs"] mod skip;`.
#![allow(dead_code, missing_docs)]

/// The server's port, or `None` (the running test's skip reported) when redis-server is
/// not installed.
pub fn redis_port() -> Option<u16> {
    authflow_testkit::redis::shared(crate::skip::skip).map(|r| r.port())
}
