//! The test binary's `redis-server` (`authflow_testkit::redis`) for these unit tests, and
//! stores on it in namespaces of their own.
use super::RedisGrantStore;

/// Reports the Redis half's skip as the integration tests do (the `SKIPPED(tool)` line,
/// also appended to `AUTHFLOW_SKIP_LOG`), under this part's name, or fails when
/// AUTHFLOW_REQUIRE_TOOLS is set.
fn skip(tool: &str, reason: &str) {
    authflow_testkit::skip::report(
        env!("CARGO_PKG_NAME"),
        "--lib grant_store::tests (Redis half)",
        tool,
        reason,
    );
}

/// The server's URL; panics when it is not running (call after [`fresh_store`]).
pub(crate) fn url() -> String {
    let Some(server) = authflow_testkit::redis::shared(skip) else {
        panic!("redis-server is not running: ask fresh_store() first, it skips without one");
    };
    server.url()
}

/// A store in a namespace of its own, or `None` when redis-server is not installed.
pub(crate) async fn fresh_store() -> Option<RedisGrantStore> {
    authflow_testkit::redis::shared(skip)?;
    let ns = authflow_testkit::unique_name("unit");
    Some(
        RedisGrantStore::connect(&url(), &ns)
            .await
            .unwrap()
            .for_provider(60),
    )
}
