//! `skip(tool, reason)` for this crate's tests: `authflow_testkit::skip!`, which reports
//! `SKIPPED(tool): package --test target test_name: reason` (also to `AUTHFLOW_SKIP_LOG`)
//! or fails when `AUTHFLOW_REQUIRE_TOOLS` is set. A function here because the line names
//! this test target, known only where the macro expands.
#![allow(dead_code, missing_docs)]

/// Reports that the running test skips because `tool` is missing (`reason` says so and how
/// to install it); the caller then returns. Panics when `AUTHFLOW_REQUIRE_TOOLS` is set.
pub fn skip(tool: &str, reason: &str) {
    authflow_testkit::skip!(tool, reason)
}
