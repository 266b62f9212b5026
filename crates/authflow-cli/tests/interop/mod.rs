//! Shared by the interoperability tests (`interop_*.rs`): third-party servers started once
//! per test binary, a "user" that follows redirects, and the `authflow` binary in a fresh
//! AUTHFLOW_HOME.
//!
//! A missing tool (node, the npm package, the Python venv, chromium) skips the test with a
//! `SKIPPED(tool): ...` line (`tests/skip`), unless AUTHFLOW_REQUIRE_TOOLS is set (as in
//! `.ci/run`): then it fails.
#![allow(dead_code)]

/// The `tests/skip` report, straight from the test kit: a test binary may declare both
/// `mod interop;` and `mod skip;`, and one file cannot be loaded as two modules.
mod skip_report {
    /// `SKIPPED(tool): package --test target test_name: reason`, as `tests/skip` prints it.
    pub fn skip(tool: &str, reason: &str) {
        authflow_testkit::skip!(tool, reason)
    }
}

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use authflow::client::OAuthClient;
use authflow::flow::{FlowError, ListenerOptions, LoopbackListener};
use authflow::protocol::callback::AuthorizationError;
use authflow::protocol::{CallbackError, Credentials, PendingAuthorization, TokenResponse};
use authflow::random::OsRandom;
use authflow::types::{AuthorizationCode, IssuerUrl, RedirectUri, Scope};
use url::Url;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Reports that the running test skips because `tool` is missing and returns `None`, or
/// panics in CI's strict mode.
pub fn skip<T>(tool: &str, reason: &str) -> Option<T> {
    if reason.contains("scripts/install") {
        skip_report::skip(tool, reason);
    } else {
        skip_report::skip(
            tool,
            &format!("{reason} (scripts/install-interop installs it)"),
        );
    }
    None
}

/// Why a server shared by a test binary could not start: a missing tool. It stays in the
/// server's `OnceLock`, so that every test that asks for the server reports its own skip.
#[derive(Debug)]
pub struct Missing {
    tool: &'static str,
    reason: String,
}

impl Missing {
    pub fn new(tool: &'static str, reason: impl Into<String>) -> Self {
        Self {
            tool,
            reason: reason.into(),
        }
    }
}

/// The server in `cell`, started by `start` on first use; `None` (the running test's skip
/// reported) when a tool it needs is missing.
pub fn shared_server(
    cell: &'static OnceLock<Result<ServerProcess, Missing>>,
    start: impl FnOnce() -> Result<ServerProcess, Missing>,
) -> Option<&'static ServerProcess> {
    match cell.get_or_init(start) {
        Ok(server) => Some(server),
        Err(missing) => skip(missing.tool, &missing.reason),
    }
}

/// Whether `cmd --version` runs.
pub fn has_tool(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The cargo target directory (`CARGO_TARGET_TMPDIR` is `<target>/tmp`).
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The Python interpreter of the interop venv that scripts/install-interop makes in
/// `<target>/interop-venv` (AUTHFLOW_INTEROP_VENV overrides the folder).
pub fn venv_python() -> PathBuf {
    std::env::var_os("AUTHFLOW_INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("interop-venv"))
        .join("bin/python")
}

/// A server process that printed `listening on URL`. It exits when its stdin closes, i.e.
/// when the test process ends (statics are never dropped), and is killed on drop. (A
/// server that ignores its stdin, like `authflow serve`, belongs in a local, not a static.)
pub struct ServerProcess {
    pub issuer: String,
    child: Child,
    _stdin: ChildStdin,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `cmd` (stdin piped: closing it stops the server) and waits for its line.
    pub fn start(name: &str, mut cmd: Command) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let log = std::env::temp_dir().join(format!(
            "authflow-interop-{name}-{}-{}.log",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let err = std::fs::File::create(&log).unwrap();
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut sent = false;
            while let Some(Ok(line)) = lines.next() {
                // `authflow serve` indents its lines.
                if !sent && let Some(url) = line.trim_start().strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                    sent = true;
                }
            }
        });
        let issuer = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "{name} did not print `listening on`; its stderr:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
        Self {
            issuer,
            child,
            _stdin: stdin,
            log,
        }
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The "user's browser" for plain HTTP: follows redirects, keeps cookies (the interaction
/// cookies of oidc-provider), and fails on an error page.
pub fn user_agent() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(20))
        .build()
        .unwrap()
}

/// Code + PKCE through the real loopback listener; the user agent follows the
/// authorization URL to it. Returns the token response and the pending flow (nonce).
pub async fn code_flow(
    client: &OAuthClient,
    scope: &str,
    prompt: Option<&str>,
) -> (TokenResponse, PendingAuthorization) {
    let listener = loopback().await;
    let mut req = client
        .authorization_request(listener.redirect_uri().clone())
        .unwrap()
        .scope(Scope::parse(scope).unwrap());
    if let Some(p) = prompt {
        req = req.prompt(p);
    }
    let (url, pending) = req.build(&mut OsRandom).unwrap();
    let code = follow(listener, url, &pending).await.code();
    let tokens = client.exchange_code(&pending, code).await.unwrap();
    (tokens, pending)
}

/// [`code_flow`] started with `OAuthClient::start_authorization`, so that PAR, JAR and
/// DPoP's `dpop_jkt` apply as the client is configured. Also returns the URL the user
/// agent was sent to.
pub async fn started_code_flow(
    client: &OAuthClient,
    scope: &str,
) -> (TokenResponse, PendingAuthorization, Url) {
    let listener = loopback().await;
    let req = client
        .authorization_request(listener.redirect_uri().clone())
        .unwrap()
        .scope(Scope::parse(scope).unwrap());
    let (url, pending) = client.start_authorization(&req).await.unwrap();
    let code = follow(listener, url.clone(), &pending).await.code();
    let tokens = client.exchange_code(&pending, code).await.unwrap();
    (tokens, pending, url)
}

/// A loopback listener for `http://127.0.0.1/callback` on a free port.
pub async fn loopback() -> LoopbackListener {
    LoopbackListener::bind(&RedirectUri::new("http://127.0.0.1/callback").unwrap())
        .await
        .unwrap()
}

/// Where the user agent's trip through the authorization server ended.
pub struct Redirected {
    /// What the listener got: the code, or the refusal (an error on the redirect).
    pub outcome: Result<AuthorizationCode, FlowError>,
    pub status: reqwest::StatusCode,
    pub final_url: Url,
    pub body: String,
}

impl Redirected {
    /// The code; panics with where the user agent ended otherwise.
    #[track_caller]
    pub fn code(self) -> AuthorizationCode {
        let Self {
            outcome,
            status,
            final_url,
            body,
        } = self;
        let code = outcome.unwrap_or_else(|e| {
            panic!(
                "the listener got no code: {e}; the browser ended at {final_url} ({status}): {body}"
            )
        });
        assert!(status.is_success(), "listener page: {status} {body}");
        code
    }

    /// The authorization server's error on the redirect; panics on anything else.
    #[track_caller]
    pub fn authorization_error(self) -> AuthorizationError {
        match self.outcome {
            Err(FlowError::Callback(CallbackError::Authorization(e))) => e,
            Err(e) => panic!(
                "expected an error redirect, got {e}; the browser ended at {} ({}): {}",
                self.final_url, self.status, self.body
            ),
            Ok(_) => panic!("expected an error redirect, got a code"),
        }
    }
}

/// The "user" follows `url` (see [`user_agent`]) while `listener` waits for the redirect.
pub async fn follow(
    listener: LoopbackListener,
    url: Url,
    pending: &PendingAuthorization,
) -> Redirected {
    let browser = tokio::spawn(async move {
        let resp = user_agent().get(url.as_str()).send().await.unwrap();
        let status = resp.status();
        let final_url = resp.url().clone();
        let body = resp.text().await.unwrap_or_default();
        (status, final_url, body)
    });
    let outcome = listener
        .wait(
            pending,
            &ListenerOptions::default().timeout(Duration::from_secs(20)),
        )
        .await;
    let (status, final_url, body) = browser.await.unwrap();
    Redirected {
        outcome,
        status,
        final_url,
        body,
    }
}

/// Discovers `issuer` with `credentials`.
pub async fn discover(issuer: &str, credentials: Credentials) -> OAuthClient {
    OAuthClient::builder(credentials)
        .discover(&IssuerUrl::new(issuer).unwrap())
        .await
        .unwrap()
}

/// A fresh AUTHFLOW_HOME and a `$BROWSER` script for the `authflow` binary.
pub struct CliEnv {
    pub home: PathBuf,
    pub browser: PathBuf,
}

impl CliEnv {
    /// `browser_script` is the body of `$BROWSER` (`$1` is the URL).
    pub fn new(browser_script: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let home = std::env::temp_dir().join(format!(
            "authflow-interop-cli-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&home).unwrap();
        let browser = home.join("browser.sh");
        std::fs::write(&browser, format!("#!/bin/sh\n{browser_script}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { home, browser }
    }

    /// `$BROWSER` as curl following redirects with an in-memory cookie jar.
    pub fn with_curl() -> Self {
        Self::new("exec curl -fsS -L -b '' --max-redirs 20 -o /dev/null \"$1\"")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_authflow"));
        c.args(args)
            .env("AUTHFLOW_HOME", &self.home)
            .env("BROWSER", &self.browser)
            .env("NO_COLOR", "1")
            .env_remove("AUTHFLOW_CLIENT_SECRET")
            .env_remove("AUTHFLOW_PROFILE")
            .env_remove("AUTHFLOW_LOG")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

impl Drop for CliEnv {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Times a test and prints it (visible with --nocapture).
pub struct Timer(&'static str, Instant);

impl Timer {
    pub fn start(name: &'static str) -> Self {
        Self(name, Instant::now())
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        eprintln!("{}: {:.2} s", self.0, self.1.elapsed().as_secs_f64());
    }
}
