//! Secret hygiene of the `authflow` binary: full flows with `-v` and `AUTHFLOW_LOG=trace`
//! against the in-process provider, whose traffic a middleware records. Every secret that
//! crossed the wire (codes, PKCE verifiers, state, nonces, access, refresh and ID tokens,
//! client secrets) must be absent from every line the binary prints, but for the intended
//! output of `authflow token` and `authflow client-credentials` (and `state` and `nonce` in
//! the authorization URL that `login` shows the user to open), and from every file under
//! AUTHFLOW_HOME but the token stores.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod skip;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use authflow::types::IssuerUrl;
use authflow_provider::Provider;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;

/// Secrets seen on the wire, by name.
type Seen = Arc<Mutex<BTreeSet<(String, String)>>>;

/// Request parameters and response fields whose values are secrets.
const SECRET_NAMES: &[&str] = &[
    "code",
    "code_verifier",
    "state",
    "nonce",
    "client_secret",
    "refresh_token",
    "access_token",
    "id_token",
    "token",
    "device_code",
    "password",
];

fn remember(seen: &Seen, name: &str, value: &str) {
    if SECRET_NAMES.contains(&name) && !value.is_empty() {
        seen.lock()
            .unwrap()
            .insert((name.to_owned(), value.to_owned()));
    }
}

fn remember_form(seen: &Seen, text: &str) {
    for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
        remember(seen, &k, &v);
    }
}

/// Records every secret in requests (query, form body, Authorization) and responses
/// (JSON body, Location).
async fn capture(seen: Seen, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if let Some(q) = parts.uri.query() {
        remember_form(&seen, q);
    }
    if let Some(auth) = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = auth.strip_prefix("Bearer ") {
            remember(&seen, "access_token", t);
        } else if let Some(b) = auth.strip_prefix("Basic ") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default();
            let decoded = String::from_utf8_lossy(&decoded).into_owned();
            if let Some((_, secret)) = decoded.split_once(':') {
                let secret = url::form_urlencoded::parse(format!("s={secret}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                remember(&seen, "client_secret", &secret);
            }
        }
    }
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    remember_form(&seen, &String::from_utf8_lossy(&bytes));
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;

    let (parts, body) = resp.into_parts();
    if let Some(loc) = parts.headers.get("location").and_then(|v| v.to_str().ok())
        && let Some((_, q)) = loc.split_once('?')
    {
        remember_form(&seen, q);
    }
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(&bytes) {
        for (k, v) in m {
            if let Some(s) = v.as_str() {
                remember(&seen, &k, s);
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A provider on its own thread, its traffic recorded into the returned set.
fn provider() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let recorder = seen.clone();
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
                .build()
                .unwrap();
            let router = provider
                .router()
                .layer(axum::middleware::from_fn(move |req, next| {
                    capture(recorder.clone(), req, next)
                }));
            tx.send(issuer).unwrap();
            axum::serve(listener, router).await.unwrap();
        });
    });
    (rx.recv().unwrap(), seen)
}

struct Env {
    root: PathBuf,
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
        let root = std::env::temp_dir().join(format!(
            "authflow-hygiene-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        // The browser lives outside AUTHFLOW_HOME: only authflow's own files are inspected.
        let browser = root.join("browser.sh");
        std::fs::write(
            &browser,
            "#!/bin/sh\nexec curl -fsS -L --max-redirs 10 -o /dev/null \"$1\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        Some(Self {
            root,
            home,
            browser,
        })
    }

    /// `authflow -v <args>` with trace logging.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_authflow"));
        c.arg("-v")
            .args(args)
            .env("AUTHFLOW_HOME", &self.home)
            .env("BROWSER", &self.browser)
            .env("NO_COLOR", "1")
            .env("AUTHFLOW_LOG", "trace")
            .env("RUST_LOG", "trace")
            .env_remove("AUTHFLOW_CLIENT_SECRET")
            .env_remove("AUTHFLOW_PROFILE")
            .stdin(Stdio::null());
        c
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// What one command printed, and whether its stdout is a token by design.
struct Run {
    what: String,
    out: Output,
    prints_token: bool,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Token stores: the only files that may hold tokens.
fn is_token_store(home: &Path, p: &Path) -> bool {
    p.parent() == Some(&home.join("tokens"))
        && p.extension().is_some_and(|e| e == "json")
        && p.file_name()
            .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
}

/// Every file under AUTHFLOW_HOME but the token stores is free of `secrets`; the stores
/// are private (0600 in a 0700 directory).
#[track_caller]
fn check_files(env: &Env, secrets: &BTreeSet<(String, String)>, when: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let mut files = Vec::new();
    files_under(&env.home, &mut files);
    for f in files {
        let content = text(&std::fs::read(&f).unwrap());
        if is_token_store(&env.home, &f) {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} {when}", f.display());
            continue;
        }
        for (name, value) in secrets {
            assert!(
                !content.contains(value.as_str()),
                "{when}: {} holds a {name}:\n{content}",
                f.display()
            );
        }
    }
}

#[test]
fn no_secret_in_output_or_files_across_a_full_cli_session() {
    let Some(env) = Env::new() else { return };
    let (issuer, seen) = provider();
    let api = format!("{issuer}/api/me");
    let mut runs = Vec::new();
    let mut run = |what: &str, args: &[&str], secret: Option<&str>, prints_token: bool| {
        let mut c = env.cmd(args);
        if let Some(s) = secret {
            c.env("AUTHFLOW_CLIENT_SECRET", s);
        }
        let out = c.output().unwrap();
        runs.push(Run {
            what: what.to_owned(),
            out,
            prints_token,
        });
        runs.last().unwrap().out.status.success()
    };

    let login = [
        "login",
        "--issuer",
        &issuer,
        "--client-id",
        "authflow-cli",
        "--scope",
        "openid profile api:read offline_access",
        "--timeout",
        "30s",
    ];
    assert!(run("login", &login, None, false), "login failed");
    assert!(run("token", &["token"], None, true));
    assert!(run("curl", &["curl", &api], None, false));
    assert!(run("status", &["status"], None, false));
    assert!(run("status --json", &["status", "--json"], None, false));
    assert!(run("userinfo", &["userinfo"], None, false));
    check_files(&env, &seen.lock().unwrap(), "after login");
    assert!(run("refresh", &["refresh"], None, false));
    assert!(run("token after refresh", &["token"], None, true));
    assert!(run("curl after refresh", &["curl", &api], None, false));
    check_files(&env, &seen.lock().unwrap(), "after refresh");

    // A confidential client: its secret goes to the server, and nowhere else.
    let cc = [
        "--profile",
        "svc",
        "client-credentials",
        "--issuer",
        &issuer,
        "--client-id",
        "demo-service",
        "--scope",
        "api:read",
    ];
    assert!(run(
        "client-credentials",
        &cc,
        Some("demo-service-secret"),
        true
    ));
    let wrong = [
        "--profile",
        "svc2",
        "client-credentials",
        "--issuer",
        &issuer,
        "--client-id",
        "demo-service",
    ];
    let wrong_secret = "wrong-secret-Zq7Vx3Lp9";
    assert!(!run(
        "client-credentials, wrong secret",
        &wrong,
        Some(wrong_secret),
        true
    ));
    assert!(run("logout", &["logout"], None, false));
    assert!(!run("token after logout", &["token"], None, true));

    let mut secrets = seen.lock().unwrap().clone();
    secrets.insert(("client_secret".into(), wrong_secret.into()));
    let kinds: BTreeSet<&str> = secrets.iter().map(|(k, _)| k.as_str()).collect();
    for needed in [
        "code",
        "code_verifier",
        "state",
        "nonce",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
    ] {
        assert!(
            kinds.contains(needed),
            "the recorder saw no {needed}: {kinds:?}"
        );
    }
    check_files(&env, &secrets, "at the end");

    let mut stderr_lines = 0;
    for r in &runs {
        let stdout = text(&r.out.stdout);
        let stderr = text(&r.out.stderr);
        stderr_lines += stderr.lines().count();
        if r.what == "login" || r.what == "refresh" {
            assert!(
                stderr.contains("> POST"),
                "{}: -v showed no exchange, so this test would prove nothing:\n{stderr}",
                r.what
            );
        }
        let intended = r.prints_token && r.out.status.success();
        if intended {
            // Exactly one line: the token, which must be one the server issued.
            let token = stdout.trim_end_matches('\n');
            assert_eq!(stdout.lines().count(), 1, "{}: {stdout}", r.what);
            assert!(
                secrets.contains(&("access_token".into(), token.to_owned())),
                "{}: printed something that is not an issued access token",
                r.what
            );
        }
        for (stream, content) in [("stdout", &stdout), ("stderr", &stderr)] {
            if intended && stream == "stdout" {
                continue;
            }
            for line in content.lines() {
                // The authorization URL `login` prints for the user to open must carry
                // `state` and `nonce` (the browser sends them on): nothing else may.
                let auth_url = r.what == "login"
                    && line
                        .trim_start()
                        .starts_with(&format!("{issuer}/authorize?"));
                for (name, value) in &secrets {
                    if auth_url && (name == "state" || name == "nonce") {
                        continue;
                    }
                    assert!(
                        !line.contains(value.as_str()),
                        "{}: a {name} on {stream}: {line}",
                        r.what
                    );
                }
            }
        }
    }
    // Trace logging was really on: the test read plenty of lines.
    assert!(stderr_lines > 100, "only {stderr_lines} lines of stderr");
}

/// `authflow demo` runs its own provider, so its secrets cannot be recorded on the wire;
/// instead nothing that looks like one may be printed: no JWT, and no long random
/// base64url value but the public ones (PKCE challenge, JWKS key ids and key material).
#[test]
fn demo_prints_no_secret_looking_value() {
    let out = Command::new(env!("CARGO_BIN_EXE_authflow"))
        .args(["-v", "demo"])
        .env(
            "AUTHFLOW_HOME",
            std::env::temp_dir().join("authflow-hygiene-demo"),
        )
        .env("AUTHFLOW_LOG", "trace")
        .env("NO_COLOR", "1")
        .env_remove("BROWSER")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{all}");
    assert!(all.contains("refresh token rotated: yes"), "{all}");
    let mut public = BTreeSet::new();
    for line in all.lines() {
        // JWKS documents and the PKCE challenge are public by design.
        if line.trim_start().starts_with("< {\"keys\"") {
            public.extend(runs_of_base64url(line));
        }
        if let Some(i) = line.find("code_challenge=") {
            public.extend(
                runs_of_base64url(&line[i + "code_challenge=".len()..])
                    .into_iter()
                    .take(1),
            );
        }
    }
    for line in all.lines() {
        assert!(
            !line.contains("eyJ"),
            "a JWT (or JSON in base64) printed: {line}"
        );
        for run in runs_of_base64url(line) {
            let random_looking = run.len() >= 20
                && run.bytes().any(|b| b.is_ascii_uppercase())
                && run.bytes().any(|b| b.is_ascii_lowercase())
                && run.bytes().any(|b| b.is_ascii_digit());
            assert!(
                !random_looking || public.contains(&run),
                "a secret-looking value `{run}` printed: {line}"
            );
        }
    }
}

/// Maximal runs of base64url characters.
fn runs_of_base64url(s: &str) -> Vec<String> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The provider side: `authflow serve` with `AUTHFLOW_LOG=trace`, a user and a confidential
/// client from a config file, a browser-style login (a wrong password, then the right one),
/// consent, the code exchange, a refresh and a revocation. Nothing it prints may hold the
/// password, the client secret, the code, the verifier or a token.
#[test]
fn serve_logs_no_password_secret_code_or_token() {
    use std::io::{BufRead as _, BufReader, Read as _};
    let dir = std::env::temp_dir().join(format!("authflow-hygiene-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let password = "pw-Zq7SECRETx9-carol";
    let client_secret = "cs-Zq7SECRETx9-web";
    let config = dir.join("provider.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[clients]]
id = "web"
type = "confidential"
secret = "{client_secret}"
redirect_uris = ["http://127.0.0.1:43210/callback"]
grants = ["authorization_code", "refresh_token"]
scopes = ["openid", "profile", "offline_access"]

[[users]]
username = "carol"
password = "{password}"
"#
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_authflow"))
        .args(["serve", "--port", "0", "--config", config.to_str().unwrap()])
        .env("AUTHFLOW_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    let stderr_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut printed = String::new();
    let mut base = None;
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(a) = line.trim().strip_prefix("listening on ") {
            base = Some(a.to_owned());
        }
        printed.push_str(&line);
        if line.starts_with("log in:") {
            break;
        }
    }
    let base = base.expect("no address printed");

    let verifier = authflow::types::PkceVerifier::generate(&mut authflow::random::OsRandom);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut secrets: Vec<String> = vec![
        password.into(),
        client_secret.into(),
        verifier.secret().into(),
    ];
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        let challenge = verifier.s256_challenge();
        let page = http
            .get(format!(
                "{base}/authorize?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs([
                        ("response_type", "code"),
                        ("client_id", "web"),
                        ("redirect_uri", "http://127.0.0.1:43210/callback"),
                        ("scope", "openid profile offline_access"),
                        ("state", "st"),
                        ("code_challenge", challenge.as_str()),
                        ("code_challenge_method", "S256"),
                    ])
                    .finish()
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let hidden = |html: &str, name: &str| {
            let marker = format!("name=\"{name}\" value=\"");
            let start = html.find(&marker).unwrap() + marker.len();
            html[start..].split('"').next().unwrap().to_owned()
        };
        let pending = hidden(&page, "pending");
        let login = |pw: String, csrf: String| {
            http.post(format!("{base}/authorize/login"))
                .form(&[
                    ("pending", pending.clone()),
                    ("csrf", csrf),
                    ("username", "carol".into()),
                    ("password", pw),
                    ("action", "login".into()),
                ])
                .send()
        };
        let wrong = login(format!("{password}-wrong"), hidden(&page, "csrf"))
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
        let again = wrong.text().await.unwrap();
        let consent = login(password.into(), hidden(&again, "csrf"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let done = http
            .post(format!("{base}/authorize/consent"))
            .form(&[
                ("pending", pending.as_str()),
                ("csrf", hidden(&consent, "csrf").as_str()),
                ("decision", "allow"),
            ])
            .send()
            .await
            .unwrap();
        let loc = url::Url::parse(done.headers()["location"].to_str().unwrap()).unwrap();
        let code = loc
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        let tokens: serde_json::Value = http
            .post(format!("{base}/token"))
            .basic_auth("web", Some(client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "http://127.0.0.1:43210/callback"),
                ("code_verifier", verifier.secret()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let refreshed: serde_json::Value = http
            .post(format!("{base}/token"))
            .basic_auth("web", Some(client_secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // The old refresh token again: reuse detection revokes the grant (and logs it).
        let reuse = http
            .post(format!("{base}/token"))
            .basic_auth("web", Some(client_secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
            .send()
            .await
            .unwrap();
        assert_eq!(reuse.status(), 400);
        secrets.push(code);
        for t in [&tokens, &refreshed] {
            for k in ["access_token", "refresh_token", "id_token"] {
                if let Some(v) = t[k].as_str() {
                    secrets.push(v.to_owned());
                }
            }
        }
    });
    let _ = child.kill();
    let _ = child.wait();
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    printed.push_str(&rest);
    let logs = stderr_thread.join().unwrap();
    assert!(
        logs.contains("TRACE") && logs.contains("failed login") && logs.contains("refreshed"),
        "trace logging was not on: {logs}"
    );
    assert!(secrets.len() >= 8, "{}", secrets.len());
    for (stream, text) in [("stdout", &printed), ("stderr", &logs)] {
        for line in text.lines() {
            for s in &secrets {
                assert!(
                    !line.contains(s.as_str()),
                    "serve {stream} holds a secret: {line}"
                );
            }
            assert!(!line.contains("Zq7SECRETx9"), "serve {stream}: {line}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
