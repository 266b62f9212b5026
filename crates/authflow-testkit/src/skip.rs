//! A test that needs a missing external tool skips in one recognizable form:
//!
//! ```text
//! SKIPPED(tool): package --test target test_name: reason
//! ```
//!
//! libtest shows a passing test's stderr only with `--nocapture`, so the line is also
//! appended to the file named by `AUTHFLOW_SKIP_LOG` when set: `scripts/test` sets it and
//! lists the skipped tests at the end. With `AUTHFLOW_REQUIRE_TOOLS` set (CI) the test
//! fails instead.
//!
//! The package and target are the calling crate's, known only where it is compiled: call
//! the [`skip!`](crate::skip!) macro (or [`report`] with a selector of your own).

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::Path;

/// Reports that the running test skips because `tool` is missing (`reason` says so and
/// how to install it); the caller then returns. Panics when `AUTHFLOW_REQUIRE_TOOLS` is
/// set. Expands to [`report`] with the calling test target's package and name.
///
/// ```
/// fn skip(tool: &str, reason: &str) {
///     authflow_testkit::skip!(tool, reason)
/// }
/// ```
#[macro_export]
macro_rules! skip {
    ($tool:expr, $reason:expr $(,)?) => {
        $crate::skip::report(
            ::core::env!("CARGO_PKG_NAME"),
            &$crate::skip::test_selector(::core::env!("CARGO_CRATE_NAME")),
            $tool,
            $reason,
        )
    };
}

/// `--test TARGET TEST`: the cargo arguments that run the current test of the
/// integration-test target `target` (libtest runs each test on a thread named after it).
#[must_use]
pub fn test_selector(target: &str) -> String {
    let thread = std::thread::current();
    format!(
        "--test {target} {}",
        thread.name().unwrap_or("(unnamed thread)")
    )
}

/// Reports the skip of `selector` (what runs it, e.g. `--test redis_store a_test` or
/// `--lib grant_store::tests`) in `package` for want of `tool`: the `SKIPPED` line on
/// stderr and in `AUTHFLOW_SKIP_LOG`. Panics with `reason` when `AUTHFLOW_REQUIRE_TOOLS`
/// is set.
#[track_caller]
pub fn report(package: &str, selector: &str, tool: &str, reason: &str) {
    let require_tools = std::env::var_os("AUTHFLOW_REQUIRE_TOOLS").is_some();
    let log = std::env::var_os("AUTHFLOW_SKIP_LOG");
    report_to(
        &line(package, selector, tool, reason),
        reason,
        require_tools,
        log.as_deref(),
    );
}

fn line(package: &str, selector: &str, tool: &str, reason: &str) -> String {
    format!("SKIPPED({tool}): {package} {selector}: {reason}\n")
}

#[track_caller]
fn report_to(line: &str, reason: &str, require_tools: bool, log: Option<&OsStr>) {
    assert!(
        !require_tools,
        "{reason} (AUTHFLOW_REQUIRE_TOOLS is set: a missing tool fails the test)"
    );
    eprint!("{line}");
    if let Some(path) = log {
        // One short write in append mode: lines from parallel tests do not interleave.
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = appended {
            eprintln!(
                "cannot append to AUTHFLOW_SKIP_LOG {}: {e}",
                Path::new(path).display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_package_target_and_running_test() {
        let selector = crate::skip::test_selector(env!("CARGO_CRATE_NAME"));
        assert_eq!(
            line(
                "authflow-testkit",
                &selector,
                "redis-server",
                "not installed"
            ),
            "SKIPPED(redis-server): authflow-testkit --test authflow_testkit \
             skip::tests::the_line_names_package_target_and_running_test: not installed\n"
        );
    }

    #[test]
    fn each_skip_is_appended_to_the_log_as_one_line() {
        let dir = std::env::temp_dir().join(crate::unique_name("authflow-testkit-skip"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let log = dir.join("skips.log");
        report_to(
            "SKIPPED(a): p --test t x: r\n",
            "r",
            false,
            Some(log.as_os_str()),
        );
        report_to(
            "SKIPPED(b): p --test t y: r\n",
            "r",
            false,
            Some(log.as_os_str()),
        );
        let written = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            written,
            "SKIPPED(a): p --test t x: r\nSKIPPED(b): p --test t y: r\n"
        );
    }

    #[test]
    #[should_panic(
        expected = "curl is missing (AUTHFLOW_REQUIRE_TOOLS is set: a missing tool fails the test)"
    )]
    fn a_required_tool_fails_the_test_instead() {
        report_to(
            "SKIPPED(curl): p --test t x: curl is missing\n",
            "curl is missing",
            true,
            None,
        );
    }
}
