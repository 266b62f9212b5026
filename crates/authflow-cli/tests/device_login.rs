//! `authflow login --device` against the embedded provider (auto-approving as alice,
//! polling interval 1 s): the test plays the user by reading the code and URL the CLI
//! prints on stderr and opening `verification_uri_complete` with curl.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod skip;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use authflow::types::IssuerUrl;
use authflow_provider::Provider;

/// Starts a provider on its own thread and runtime; it lives until the test process ends.
fn provider() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let issuer = format!("http://{}", listener.local_addr().unwrap());
            let provider = Provider::builder()
                .demo()
                .issuer(IssuerUrl::new(&issuer).unwrap())
                .auto_approve(Some("alice".into()))
                .device_interval(Duration::from_secs(1))
                .build()
                .unwrap();
            tx.send(issuer).unwrap();
            axum::serve(listener, provider.router()).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn have_curl() -> bool {
    let ok = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        skip::skip(
            "curl",
            "curl is not installed (scripts/install-test-tools installs it)",
        );
    }
    ok
}

struct Home(PathBuf);

impl Home {
    fn new(tag: &str) -> Self {
        let p =
            std::env::temp_dir().join(format!("authflow-device-test-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_authflow"));
        c.args(args)
            .env("AUTHFLOW_HOME", &self.0)
            .env("NO_COLOR", "1")
            .env_remove("AUTHFLOW_CLIENT_SECRET")
            .env_remove("AUTHFLOW_PROFILE")
            .env_remove("AUTHFLOW_LOG")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// `To log in, open URL and enter the code CODE` → (URL, CODE).
fn parse_prompt(line: &str) -> Option<(String, String)> {
    let rest = line.split("open ").nth(1)?;
    let (url, rest) = rest.split_once(" and enter the code ")?;
    Some((url.trim().to_owned(), rest.trim().to_owned()))
}

#[test]
fn login_device_then_token_and_curl_work() {
    if !have_curl() {
        return;
    }
    let issuer = provider();
    let home = Home::new("login");
    let mut child = home
        .cmd(&[
            "login",
            "--device",
            "--no-browser",
            "--issuer",
            &issuer,
            "--client-id",
            "authflow-cli",
            "--scope",
            "openid api:read offline_access",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let (url, code) = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("no device prompt on stderr: {seen:?}"))
            .unwrap();
        if let Some(found) = parse_prompt(&line) {
            break found;
        }
        seen.push(line);
    };
    assert_eq!(url, format!("{issuer}/device"));
    assert_eq!(code.len(), 9, "{code}");
    assert_eq!(&code[4..5], "-", "{code}");
    // The user opens verification_uri_complete; auto-approve approves at once.
    let complete = format!("{url}?user_code={code}");
    let page = Command::new("curl")
        .args(["-fsS", &complete])
        .output()
        .unwrap();
    assert!(page.status.success(), "{}", text(&page.stderr));
    assert!(text(&page.stdout).contains("Device connected"));
    // Keep draining stderr so the CLI never blocks on a full pipe.
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    let status = child.wait().unwrap();
    let rest = rest.join().unwrap();
    assert!(status.success(), "login failed: {seen:?} {rest:?}");

    let token = ok(&home.run(&["token"]));
    assert_eq!(token.lines().count(), 1, "only the token: {token}");
    assert_eq!(token.trim().split('.').count(), 3, "a JWT: {token}");
    let me = ok(&home.run(&["curl", &format!("{issuer}/api/me")]));
    assert!(me.contains("\"sub\":\"alice\""), "{me}");
    let status: serde_json::Value =
        serde_json::from_str(&ok(&home.run(&["status", "--json"]))).unwrap();
    assert_eq!(status["logged_in"], true);
    assert_eq!(status["refresh_token"], true);
}

#[test]
fn login_device_opens_the_browser_at_the_complete_uri() {
    if !have_curl() {
        return;
    }
    let issuer = provider();
    let home = Home::new("browser");
    // The "browser" opens the page it is given, like a person would.
    let browser = home.0.join("browser.sh");
    std::fs::write(&browser, "#!/bin/sh\nexec curl -fsS -o /dev/null \"$1\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = home
        .cmd(&[
            "login",
            "--device",
            "--issuer",
            &issuer,
            "--client-id",
            "authflow-cli",
            "--scope",
            "api:read",
        ])
        .env("BROWSER", &browser)
        .output()
        .unwrap();
    ok(&out);
    let err = text(&out.stderr);
    assert!(err.contains("enter the code"), "{err}");
    let token = ok(&home.run(&["token"]));
    assert_eq!(token.trim().split('.').count(), 3, "a JWT: {token}");
}
