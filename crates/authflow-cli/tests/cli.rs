//! The `authflow` binary against the embedded provider on 127.0.0.1:0, with `$BROWSER`
//! set to a small script that plays the user (the provider auto-approves as alice).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod skip;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use authflow::types::IssuerUrl;
use authflow_provider::Provider;

/// Starts a provider on its own thread and runtime; it lives until the test process ends.
fn provider(access_token_ttl: Duration) -> String {
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
                .access_token_ttl(access_token_ttl)
                .build()
                .unwrap();
            tx.send(issuer).unwrap();
            axum::serve(listener, provider.router()).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// A fresh AUTHFLOW_HOME and a browser script, or `None` (with the reason printed) when
/// curl is missing outside CI's strict mode.
struct Env {
    home: PathBuf,
    browser: PathBuf,
}

impl Env {
    fn new() -> Option<Self> {
        if Command::new("curl")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            skip::skip(
                "curl",
                "curl is not installed (scripts/install-test-tools installs it)",
            );
            return None;
        }
        let home = std::env::temp_dir().join(format!(
            "authflow-cli-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&home).unwrap();
        let browser = home.join("browser.sh");
        // The "user": follows the redirects to the loopback listener, like a browser.
        std::fs::write(
            &browser,
            "#!/bin/sh\nexec curl -fsS -L --max-redirs 10 -o /dev/null \"$1\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        Some(Self { home, browser })
    }

    fn cmd(&self, args: &[&str]) -> Command {
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

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn token_file(&self, profile: &str) -> PathBuf {
        self.home.join("tokens").join(format!("{profile}.json"))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

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

#[track_caller]
fn fails_with(o: &Output, code: i32, needle: &str) {
    assert_eq!(o.status.code(), Some(code), "stderr: {}", text(&o.stderr));
    let err = text(&o.stderr);
    // Progress notes may come first; the error itself is one line, the last.
    let last = err.trim_end().lines().last().unwrap_or("");
    assert!(last.starts_with("authflow: "), "error line: {err}");
    assert!(last.contains(needle), "expected `{needle}` in: {last}");
    assert_eq!(
        err.matches("authflow: ").count(),
        1,
        "one error line: {err}"
    );
}

fn login(env: &Env, issuer: &str, scope: &str) {
    ok(&env.run(&[
        "login",
        "--issuer",
        issuer,
        "--client-id",
        "authflow-cli",
        "--scope",
        scope,
        "--timeout",
        "30s",
    ]));
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn login_token_curl_status_refresh_logout() {
    let Some(env) = Env::new() else { return };
    let issuer = provider(Duration::from_secs(3600));
    login(&env, &issuer, "openid profile api:read offline_access");

    // Tokens are stored privately; the options became the default profile.
    let file = env.token_file("default");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let profiles = ok(&env.run(&["profile", "list"]));
    assert!(
        profiles.contains("default") && profiles.contains("authflow-cli"),
        "{profiles}"
    );

    let token = ok(&env.run(&["token"]));
    assert_eq!(
        token.lines().count(),
        1,
        "only the token on stdout: {token}"
    );
    assert!(token.trim().split('.').count() == 3, "a JWT: {token}");

    let me = ok(&env.run(&["curl", &format!("{issuer}/api/me")]));
    assert!(me.contains("\"sub\":\"alice\""), "{me}");

    let status = ok(&env.run(&["status", "--json"]));
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["logged_in"], true);
    assert_eq!(status["user"], "alice");
    assert_eq!(status["refresh_token"], true);

    let before = std::fs::read_to_string(&file).unwrap();
    ok(&env.run(&["refresh"]));
    let after = std::fs::read_to_string(&file).unwrap();
    assert_ne!(before, after, "refresh rotated the stored tokens");
    let new_token = ok(&env.run(&["token"]));
    assert_ne!(new_token, token);

    ok(&env.run(&["logout"]));
    assert!(!file.exists());
    // The old access token is revoked at the server too.
    let o = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {}", new_token.trim()))
        .arg(format!("{issuer}/api/me"))
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "401");
    fails_with(&env.run(&["token"]), 3, "authflow login");
}

#[test]
fn an_expired_token_is_refreshed_by_token_and_curl() {
    let Some(env) = Env::new() else { return };
    let issuer = provider(Duration::from_secs(1));
    login(&env, &issuer, "api:read offline_access");
    let first = ok(&env.run(&["token"]));
    std::thread::sleep(Duration::from_millis(1300));
    let second = ok(&env.run(&["token"]));
    assert_ne!(first, second, "an expired token was refreshed");
    std::thread::sleep(Duration::from_millis(1300));
    let me = ok(&env.run(&["curl", &format!("{issuer}/api/me")]));
    assert!(me.contains("alice"), "{me}");
}

#[test]
fn insufficient_scope_is_explained_and_exits_4() {
    let Some(env) = Env::new() else { return };
    let issuer = provider(Duration::from_secs(3600));
    login(&env, &issuer, "api:read");
    let o = env.run(&[
        "curl",
        "-X",
        "POST",
        "-d",
        "x=1",
        &format!("{issuer}/api/data"),
    ]);
    fails_with(&o, 4, "api:write");
}

#[test]
fn client_credentials_prints_a_token_and_caches_it() {
    let Some(env) = Env::new() else { return };
    let issuer = provider(Duration::from_secs(3600));
    let args = [
        "client-credentials",
        "--issuer",
        &issuer,
        "--client-id",
        "demo-service",
        "--scope",
        "api:read",
    ];
    let o = env
        .cmd(&args)
        .env("AUTHFLOW_CLIENT_SECRET", "demo-service-secret")
        .output()
        .unwrap();
    let first = ok(&o);
    let o = env
        .cmd(&args)
        .env("AUTHFLOW_CLIENT_SECRET", "demo-service-secret")
        .output()
        .unwrap();
    assert_eq!(ok(&o), first, "served from the cache");
    let o = env
        .cmd(&args)
        .env("AUTHFLOW_CLIENT_SECRET", "wrong")
        .output()
        .unwrap();
    // The cache still answers without asking the server: a wrong secret is not noticed
    // until a new token is needed. A fresh profile asks the server and fails.
    assert!(o.status.success());
    let fresh = env
        .cmd(&[
            "--profile",
            "other",
            "client-credentials",
            "--issuer",
            &issuer,
            "--client-id",
            "demo-service",
        ])
        .env("AUTHFLOW_CLIENT_SECRET", "wrong")
        .output()
        .unwrap();
    fails_with(&fresh, 4, "invalid_client");
    assert!(
        !text(&fresh.stderr).contains("wrong"),
        "the secret is never printed"
    );
}

#[test]
fn bad_input_gets_one_clear_line_and_a_documented_code() {
    let Some(env) = Env::new() else { return };
    fails_with(&env.run(&["token"]), 3, "not logged in");
    fails_with(&env.run(&["--profile", "nope", "status"]), 3, "nope");
    fails_with(
        &env.run(&["--profile", "nope", "curl", "http://127.0.0.1:1/"]),
        6,
        "unknown profile `nope`",
    );

    // The provider is not there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    fails_with(
        &env.run(&["login", "--issuer", &dead, "--client-id", "x"]),
        5,
        "cannot connect",
    );

    // Plain http to a non-loopback issuer is refused before any request.
    fails_with(
        &env.run(&["login", "--issuer", "http://as.example", "--client-id", "x"]),
        6,
        "https",
    );

    // A corrupt token file is kept aside, never overwritten.
    let file = env.token_file("default");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "{not json").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    fails_with(&env.run(&["token"]), 6, "corrupt");
    let kept: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .collect();
    assert_eq!(kept.len(), 1);

    // A broken config file names its line.
    std::fs::write(
        env.home.join("config.toml"),
        "[profiles.default]\nclient_id = 5\n",
    )
    .unwrap();
    fails_with(&env.run(&["status"]), 6, "line 2");
}

#[test]
fn a_redirect_the_provider_rejects_times_out_naming_the_uri() {
    let Some(env) = Env::new() else { return };
    let issuer = provider(Duration::from_secs(3600));
    // The provider registers /callback; /elsewhere is refused with an error page there,
    // and nothing reaches the listener.
    let o = env.run(&[
        "login",
        "--issuer",
        &issuer,
        "--client-id",
        "authflow-cli",
        "--redirect-uri",
        "http://127.0.0.1/elsewhere",
        "--timeout",
        "3s",
    ]);
    fails_with(&o, 7, "/elsewhere");
}

#[test]
fn completions_and_help() {
    let Some(env) = Env::new() else { return };
    let bash = ok(&env.run(&["completions", "bash"]));
    assert!(bash.contains("authflow"), "{bash}");
    let help = ok(&env.run(&["--help"]));
    assert!(help.contains("Exit codes"), "{help}");
}
