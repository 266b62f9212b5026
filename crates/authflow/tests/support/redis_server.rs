//! A real `redis-server` on 127.0.0.1 for the tests that need one: one per test binary,
//! started on a free port with persistence off, stopped when the test process ends.
//! Without `redis-server` the tests say why and pass, unless AUTHFLOW_REQUIRE_TOOLS is set.
//!
//! Include it with `#[path = "support/redis_server.rs"] mod redis_server;`.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, missing_docs)]

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The server's port, or `None` when redis-server is not installed.
pub fn redis_port() -> Option<u16> {
    static PORT: OnceLock<Option<u16>> = OnceLock::new();
    *PORT.get_or_init(start_redis)
}

fn start_redis() -> Option<u16> {
    let installed = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        assert!(
            std::env::var_os("AUTHFLOW_REQUIRE_TOOLS").is_none(),
            "redis-server is required (AUTHFLOW_REQUIRE_TOOLS is set)"
        );
        eprintln!(
            "skipping: redis-server is not installed (scripts/install-test-tools installs it)"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("authflow-redis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A watchdog shell stops the server when this test process is gone.
    let script = format!(
        "redis-server --bind 127.0.0.1 --port {port} --save '' --appendonly no --dir '{dir}' \
         --protected-mode yes >/dev/null 2>&1 & r=$!\n\
         while kill -0 {pid} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.2; done\n\
         kill $r 2>/dev/null; rm -rf '{dir}'\n",
        dir = dir.display(),
        pid = std::process::id(),
    );
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::spawn(move || watchdog.wait());
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(port)
}
