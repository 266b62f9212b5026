//! The provider's view of the test binary's `redis-server` (`authflow_testkit::redis`):
//! its URL and grant stores in namespaces of their own. Without `redis-server` each test
//! that asks reports its skip (`support/skip.rs`), unless AUTHFLOW_REQUIRE_TOOLS is set
//! (then it fails).
//!
//! Include it with `#[path = "it/redis_server.rs"] mod redis_server;` and
//! `#[path = "support/skip.rs"] mod skip;` (paths from `tests/`).
#![allow(dead_code)]

use authflow_provider::RedisGrantStore;

/// The server's URL, or `None` (the running test's skip reported) when redis-server is
/// not installed.
pub fn redis_url() -> Option<String> {
    authflow_testkit::redis::shared(crate::skip::skip)
        .map(|r| format!("redis://127.0.0.1:{}/0", r.port()))
}

/// A namespace no other test uses.
pub fn unique_namespace(what: &str) -> String {
    authflow_testkit::unique_name(what)
}

/// A store in a fresh namespace, or `None` when redis-server is not installed.
pub async fn fresh_store(what: &str) -> Option<RedisGrantStore> {
    let url = redis_url()?;
    Some(
        RedisGrantStore::connect(&url, &unique_namespace(what))
            .await
            .unwrap(),
    )
}
