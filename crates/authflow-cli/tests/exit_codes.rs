//! Every exit code `authflow --help` lists (0, 1, 2, 3, 4, 5, 6, 7, 22), each produced by
//! the real binary. Servers run on 127.0.0.1:0: the embedded provider (auto-approving as
//! alice, or asking the user), and for the device-code expiry a small stand-in, since
//! the provider's device codes live ten minutes. The test plays the browser itself: it
//! reads the URL `authflow login --no-browser` prints and follows it with reqwest, so no
//! external tool is needed.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use authflow::types::IssuerUrl;
use authflow_provider::{Provider, ProviderBuilder};
use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::json;
use url::Url;

/// Starts a demo provider, changed by `configure`, on its own thread; it lives until the
/// test process ends.
fn provider(configure: impl FnOnce(ProviderBuilder) -> ProviderBuilder + Send + 'static) -> String {
    serve(move |issuer| {
        configure(
            Provider::builder()
                .demo()
                .issuer(IssuerUrl::new(&issuer).unwrap())
                .device_interval(Duration::from_secs(1)),
        )
        .build()
        .unwrap()
        .router()
    })
}

fn auto_approving() -> String {
    provider(|b| b.auto_approve(Some("alice".into())))
}

/// Serves `app(base URL)` on its own thread and runtime until the test process ends.
fn serve(app: impl FnOnce(String) -> Router + Send + 'static) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let router = app(base.clone());
            tx.send(base).unwrap();
            axum::serve(listener, router).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// A device-flow server whose device codes live `expires_in` seconds and whose token
/// endpoint always answers `token_error`.
fn device_standin(expires_in: u64, token_error: &'static str) -> String {
    serve(move |base| {
        let metadata = json!({
            "issuer": base,
            "token_endpoint": format!("{base}/token"),
            "device_authorization_endpoint": format!("{base}/device_authorization"),
            "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code"],
        });
        let device = json!({
            "device_code": "standin-device-code",
            "user_code": "WDJB-MJHT",
            "verification_uri": format!("{base}/device"),
            "expires_in": expires_in,
            "interval": 1,
        });
        Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(move || async move { Json(metadata) }),
            )
            .route(
                "/device_authorization",
                post(move || async move { Json(device) }),
            )
            .route(
                "/token",
                post(move || async move {
                    (
                        StatusCode::BAD_REQUEST,
                        Json(json!({ "error": token_error })),
                    )
                }),
            )
    })
}

/// A fresh AUTHFLOW_HOME; no `$BROWSER` (logins use --no-browser).
struct Home(PathBuf);

impl Home {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "authflow-exit-codes-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_authflow"));
        c.args(args)
            .env("AUTHFLOW_HOME", &self.0)
            .env("NO_COLOR", "1")
            .env_remove("BROWSER")
            .env_remove("AUTHFLOW_CLIENT_SECRET")
            .env_remove("AUTHFLOW_PROFILE")
            .env_remove("AUTHFLOW_LOG")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Starts `args` in the background, its stderr read line by line.
    fn spawn(&self, args: &[&str]) -> Running {
        let mut child = self
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `authflow` command.
struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// The first stderr line for which `find` returns something.
    fn wait_for<T>(&mut self, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = find(&line);
                    self.seen.push(line);
                    if let Some(v) = found {
                        return v;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    let _ = self.child.kill();
                    panic!("no {what} on stderr: {:?}", self.seen);
                }
            }
        }
    }

    /// The URL `login --no-browser` asks to open.
    fn authorization_url(&mut self) -> Url {
        self.wait_for("authorization URL", |l| {
            l.trim()
                .starts_with("http")
                .then(|| Url::parse(l.trim()).unwrap())
        })
    }

    /// Waits for the exit; the exit code and all of stderr.
    fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        self.seen.extend(self.lines.iter());
        (status.code(), self.seen.join("\n"))
    }
}

/// Follows `url` one step: where the server redirects.
async fn redirect_of(url: &Url) -> Url {
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url.as_str())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap()
}

/// Delivers a redirect to the CLI's loopback listener, as the browser would.
async fn deliver(callback: &Url) {
    // The listener answers with a page, whatever it makes of the redirect.
    reqwest::get(callback.as_str()).await.unwrap();
}

/// `callback` with each query parameter changed by `change` (`None` drops it).
fn rewrite(callback: &Url, change: impl Fn(&str, &str) -> Option<String>) -> Url {
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .filter_map(|(k, v)| change(&k, &v).map(|v| (k.into_owned(), v)))
        .collect();
    let mut out = callback.clone();
    out.query_pairs_mut().clear().extend_pairs(pairs);
    out
}

fn login_args(issuer: &str) -> Vec<&str> {
    vec![
        "login",
        "--no-browser",
        "--issuer",
        issuer,
        "--client-id",
        "authflow-cli",
        "--scope",
        "openid api:read offline_access",
        "--timeout",
        "30s",
    ]
}

/// A login whose redirect the test hands over after `change`; its exit and stderr.
async fn login_with(
    home: &Home,
    issuer: &str,
    change: impl Fn(&str, &str) -> Option<String>,
) -> (Option<i32>, String) {
    let mut login = home.spawn(&login_args(issuer));
    let url = login.authorization_url();
    let callback = redirect_of(&url).await;
    deliver(&rewrite(&callback, change)).await;
    tokio::task::spawn_blocking(move || login.finish())
        .await
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The command exited with `code` and one error line, the last, holding `needle`.
#[track_caller]
fn fails_with(code: Option<i32>, stderr: &str, expected: i32, needle: &str) {
    assert_eq!(code, Some(expected), "stderr: {stderr}");
    let last = stderr.trim_end().lines().last().unwrap_or("");
    assert!(last.starts_with("authflow: "), "error line: {stderr}");
    assert!(last.contains(needle), "expected `{needle}` in: {last}");
    assert_eq!(stderr.matches("authflow: ").count(), 1, "{stderr}");
}

#[track_caller]
fn output_fails_with(o: &Output, expected: i32, needle: &str) {
    fails_with(o.status.code(), &text(&o.stderr), expected, needle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_0_after_a_login_and_22_when_curl_fail_meets_an_http_error() {
    let issuer = auto_approving();
    let home = Home::new();
    let (code, stderr) = login_with(&home, &issuer, |_, v| Some(v.to_owned())).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("Logged in as alice"), "{stderr}");

    let o = home.run(&["curl", &format!("{issuer}/api/me")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // Without --fail an HTTP error is a response like any other.
    let missing = format!("{issuer}/api/no-such-thing");
    let o = home.run(&["curl", &missing]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    output_fails_with(&home.run(&["curl", "--fail", &missing]), 22, "HTTP 404");
}

#[test]
fn exit_1_for_a_failure_of_no_other_kind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let home = Home::new();
    output_fails_with(&home.run(&["serve", "--port", &port]), 1, "cannot listen");
}

#[test]
fn exit_2_for_usage_errors_without_echoing_a_secret() {
    let home = Home::new();
    let o = home.run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("Exit codes"));

    // clap's own refusal.
    let o = home.run(&["login", "--no-such-option"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));

    // A client secret that cannot be one is refused by name, never shown.
    let o = home.run(&[
        "login",
        "--client-id",
        "x",
        "--client-secret",
        "s3cr3t\tvalue",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("--client-secret"), "{err}");
    assert!(
        !err.contains("s3cr3t"),
        "the secret is never printed: {err}"
    );

    // authflow's own usage errors.
    output_fails_with(
        &home.run(&[
            "profile",
            "add",
            "work",
            "--issuer",
            "http://127.0.0.1:9",
            "--client-id",
            "x",
            "--client-secret",
            "s3cr3t-value",
        ]),
        2,
        "--client-secret-env",
    );
}

#[test]
fn exit_3_when_no_login_is_stored() {
    let home = Home::new();
    output_fails_with(&home.run(&["token"]), 3, "authflow login");
}

#[test]
fn exit_4_for_an_oauth_error_from_the_server() {
    let issuer = auto_approving();
    let home = Home::new();
    let o = home
        .cmd(&[
            "client-credentials",
            "--issuer",
            &issuer,
            "--client-id",
            "demo-service",
        ])
        .env("AUTHFLOW_CLIENT_SECRET", "not-the-secret")
        .output()
        .unwrap();
    output_fails_with(&o, 4, "invalid_client");
    assert!(!text(&o.stderr).contains("not-the-secret"));
}

#[test]
fn exit_5_when_the_server_cannot_be_reached() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let home = Home::new();
    output_fails_with(
        &home.run(&["login", "--issuer", &dead, "--client-id", "x"]),
        5,
        "cannot connect",
    );
}

#[test]
fn exit_6_for_configuration_errors() {
    let home = Home::new();
    output_fails_with(
        &home.run(&["login", "--issuer", "http://as.example", "--client-id", "x"]),
        6,
        "https",
    );
    // A server without a device authorization endpoint, asked for the device flow.
    let issuer = serve(|base| {
        let metadata = json!({ "issuer": base, "token_endpoint": format!("{base}/token") });
        Router::new().route(
            "/.well-known/oauth-authorization-server",
            get(move || async move { Json(metadata) }),
        )
    });
    output_fails_with(
        &home.run(&["login", "--device", "--issuer", &issuer, "--client-id", "x"]),
        6,
        "device_authorization_endpoint",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_7_for_a_redirect_naming_another_issuer() {
    let issuer = auto_approving();
    let home = Home::new();
    let (code, stderr) = login_with(&home, &issuer, |k, v| {
        Some(if k == "iss" {
            "https://evil.example".to_owned()
        } else {
            v.to_owned()
        })
    })
    .await;
    fails_with(code, &stderr, 7, "mix-up");
    assert!(!home.0.join("tokens").exists(), "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_7_when_the_authorization_server_answers_access_denied() {
    let issuer = auto_approving();
    let home = Home::new();
    let mut login = home.spawn(&login_args(&issuer));
    let url = login.authorization_url();
    let callback = redirect_of(&url).await;
    let mut denied = rewrite(&callback, |k, v| {
        matches!(k, "state" | "iss").then(|| v.to_owned())
    });
    denied
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "the user said no");
    deliver(&denied).await;
    let (code, stderr) = tokio::task::spawn_blocking(move || login.finish())
        .await
        .unwrap();
    fails_with(code, &stderr, 7, "access_denied");
    assert!(stderr.contains("the user said no"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_7_when_the_user_declines_a_device_login() {
    // No auto-approve: the user sees the pages, and cancels.
    let issuer = provider(|b| b);
    let home = Home::new();
    let mut login = home.spawn(&[
        "login",
        "--device",
        "--no-browser",
        "--issuer",
        &issuer,
        "--client-id",
        "authflow-cli",
        "--scope",
        "openid api:read",
    ]);
    let (page, user_code) = login.wait_for("device prompt", |l| {
        let rest = l.split("open ").nth(1)?;
        let (url, code) = rest.split_once(" and enter the code ")?;
        Some((url.trim().to_owned(), code.trim().to_owned()))
    });
    let user = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let form = user
        .get(format!("{page}?user_code={user_code}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sign_in = user
        .post(&page)
        .form(&[
            ("csrf", hidden(&form, "csrf").as_str()),
            ("user_code", user_code.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let done = user
        .post(format!("{issuer}/authorize/login"))
        .form(&[
            ("pending", hidden(&sign_in, "pending").as_str()),
            ("csrf", hidden(&sign_in, "csrf").as_str()),
            ("action", "cancel"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(done.contains("Access was denied"), "{done}");
    let (code, stderr) = tokio::task::spawn_blocking(move || login.finish())
        .await
        .unwrap();
    fails_with(code, &stderr, 7, "declined");
    assert!(stderr.contains("access_denied"), "{stderr}");
}

/// The value of the hidden input `name` in a provider page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no `{name}` in {html}"))
        + marker.len();
    let len = html[start..].find('"').unwrap();
    html[start..start + len].to_owned()
}

#[test]
fn exit_7_when_the_device_code_expires() {
    let home = Home::new();
    let login = |issuer: &str| {
        home.run(&[
            "login",
            "--device",
            "--no-browser",
            "--issuer",
            issuer,
            "--client-id",
            "authflow-cli",
        ])
    };
    // The server says so (RFC 8628 `expired_token`).
    let o = login(&device_standin(600, "expired_token"));
    output_fails_with(&o, 7, "expired");
    assert!(text(&o.stderr).contains("expired_token"));
    // The codes' lifetime ran out while the user was still away.
    output_fails_with(
        &login(&device_standin(1, "authorization_pending")),
        7,
        "device code expired",
    );
}
