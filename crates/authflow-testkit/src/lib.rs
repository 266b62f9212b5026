//! The test harness the authflow crates share, so that each piece exists once:
//!
//! - [`skip`]: a test whose external tool is missing reports one recognizable
//!   `SKIPPED(tool): …` line and passes, or fails when `AUTHFLOW_REQUIRE_TOOLS` is set;
//! - [`redis`]: a real `redis-server` on a free 127.0.0.1 port, stopped on drop;
//! - [`unique_name`]: names (Redis namespaces, folders) no other test of the process uses.
//!
//! Used only as a dev-dependency; it depends on no authflow crate, so that the library's
//! own unit tests can use it too.
//!
//! ```
//! // In a test: a shared server, or `None` with the skip reported.
//! fn skip(tool: &str, reason: &str) {
//!     authflow_testkit::skip!(tool, reason)
//! }
//! if let Some(redis) = authflow_testkit::redis::shared(skip) {
//!     assert!(redis.url().starts_with("redis://127.0.0.1:"));
//! }
//! ```

pub mod redis;
pub mod skip;

use std::sync::atomic::{AtomicUsize, Ordering};

/// `what-PID-N`: a name no other call in this process returns, nor (through the process
/// id) another test process running at the same time.
#[must_use]
pub fn unique_name(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

#[cfg(test)]
mod tests {
    use super::unique_name;

    #[test]
    fn unique_names_differ_and_carry_the_process_id() {
        let (a, b) = (unique_name("ns"), unique_name("ns"));
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("ns-{}-", std::process::id())), "{a}");
    }
}
