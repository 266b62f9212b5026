//! A real `redis-server` on 127.0.0.1 for the tests that need one: on a free port, with
//! persistence off and its files in a temporary folder, stopped when dropped. A watchdog
//! shell also stops it when the test process ends, which matters for [`shared`]: a
//! `static` is never dropped.

use std::io;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What [`skip`](crate::skip) reports when `redis-server` is missing.
pub const NOT_INSTALLED: &str =
    "redis-server is not installed (scripts/install-test-tools installs it)";

/// How long a fresh server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Another process may take the free port before redis-server binds it: try a new one.
const ATTEMPTS: usize = 3;

/// Why a `redis-server` could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisError {
    /// The binary is not on `PATH`: the test should skip (or fail in strict mode).
    #[error("{NOT_INSTALLED}")]
    NotInstalled,
    /// An operating-system call failed while starting it.
    #[error("cannot {what} for redis-server: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The error from the operating system.
        #[source]
        source: io::Error,
    },
    /// It ran but never accepted a connection.
    #[error(
        "redis-server did not accept connections on 127.0.0.1:{port} within {waited:?} \
         ({ATTEMPTS} attempts); run `redis-server --port {port}` by hand to see why"
    )]
    DidNotStart {
        /// The port of the last attempt.
        port: u16,
        /// How long the last attempt waited.
        waited: Duration,
    },
}

fn io_error(what: &'static str) -> impl FnOnce(io::Error) -> RedisError {
    move |source| RedisError::Io { what, source }
}

/// A running `redis-server` on 127.0.0.1; dropping it stops the server and removes its
/// folder.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a server on a free port of 127.0.0.1 and waits until it accepts
    /// connections.
    ///
    /// # Errors
    /// [`RedisError::NotInstalled`] without `redis-server` on `PATH`; the other variants
    /// when it is installed but does not come up.
    pub fn start() -> Result<Self, RedisError> {
        let installed = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            return Err(RedisError::NotInstalled);
        }
        let mut last = RedisError::NotInstalled;
        for _ in 0..ATTEMPTS {
            match Self::start_on(free_port()?) {
                Err(e @ RedisError::DidNotStart { .. }) => last = e,
                other => return other,
            }
        }
        Err(last)
    }

    fn start_on(port: u16) -> Result<Self, RedisError> {
        let dir = std::env::temp_dir().join(crate::unique_name("authflow-testkit-redis"));
        std::fs::create_dir_all(&dir).map_err(io_error("create a data folder"))?;
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io_error("spawn redis-server"))?;
        // From here on, dropping `server` stops the child and removes the folder.
        let mut server = Self { port, child, dir };
        server.watch()?;
        let started = Instant::now();
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            let exited = server.child.try_wait().ok().flatten().is_some();
            if exited || started.elapsed() > START_TIMEOUT {
                return Err(RedisError::DidNotStart {
                    port,
                    waited: started.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// A shell that stops the server once this process is gone; it leaves a server that
    /// was already stopped (by `Drop`) alone.
    fn watch(&self) -> Result<(), RedisError> {
        const SCRIPT: &str = "while kill -0 \"$1\" 2>/dev/null && kill -0 \"$2\" 2>/dev/null; \
                              do sleep 0.2; done; \
                              kill -0 \"$1\" 2>/dev/null || { kill \"$2\" 2>/dev/null; rm -rf \"$3\"; }";
        let mut watchdog = Command::new("sh")
            .args(["-c", SCRIPT, "sh"])
            .arg(std::process::id().to_string())
            .arg(self.child.id().to_string())
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io_error("spawn the watchdog shell"))?;
        // Reaped in the background, so that it leaves no zombie.
        std::thread::spawn(move || watchdog.wait());
        Ok(())
    }

    /// The port it listens on, on 127.0.0.1.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`, for a client to connect to (database 0).
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, RedisError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(io_error("find a free port"))
}

/// The test binary's one server, started on first use; `None`, after `skip("redis-server",
/// NOT_INSTALLED)` (pass the crate's skip function: it names the test that skips), when
/// redis-server is not installed. Each test that asks reports its own skip.
///
/// # Panics
/// When redis-server is installed but does not start: that is a broken machine, not a
/// missing tool.
pub fn shared(skip: fn(&str, &str)) -> Option<&'static RedisServer> {
    static SERVER: OnceLock<Result<RedisServer, RedisError>> = OnceLock::new();
    match SERVER.get_or_init(RedisServer::start) {
        Ok(server) => Some(server),
        Err(RedisError::NotInstalled) => {
            skip("redis-server", NOT_INSTALLED);
            None
        }
        Err(e) => panic!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;

    fn skip(tool: &str, reason: &str) {
        crate::skip!(tool, reason)
    }

    fn ping(port: u16) -> io::Result<String> {
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"*1\r\n$4\r\nPING\r\n")?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    #[test]
    fn a_server_answers_and_is_gone_once_dropped() {
        let server = match RedisServer::start() {
            Ok(server) => server,
            Err(RedisError::NotInstalled) => return skip("redis-server", NOT_INSTALLED),
            Err(e) => panic!("{e}"),
        };
        let (port, dir) = (server.port(), server.dir.clone());
        assert_eq!(server.url(), format!("redis://127.0.0.1:{port}/"));
        assert_eq!(ping(port).unwrap_or_else(|e| panic!("{e}")), "+PONG\r\n");
        assert!(dir.is_dir());
        drop(server);
        assert!(ping(port).is_err(), "still answering on {port} after drop");
        assert!(!dir.exists(), "{} left behind", dir.display());
    }

    #[test]
    fn the_shared_server_is_started_once() {
        let Some(a) = shared(skip) else { return };
        let b = shared(skip).unwrap_or_else(|| panic!("started, then missing"));
        assert_eq!(a.port(), b.port());
        assert_eq!(
            ping(a.port()).unwrap_or_else(|e| panic!("{e}")),
            "+PONG\r\n"
        );
    }
}
