//! Logging in from a resource URL alone (issue #18): the `authflow` binary against the
//! embedded provider on 127.0.0.1:0 (and small axum resources), with `$BROWSER` set to a
//! script that plays the user and counts how often it was opened.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod interop;
mod skip;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use authflow::types::{ClientId, IssuerUrl, RedirectUri, ResourceIndicator, Scope};
use authflow_provider::Provider;
use authflow_provider::{ClientConfig, GrantType};

/// Starts a provider (auto-approving as alice) with the demo clients and `extra`; it
/// lives until the test process ends.
fn provider(extra: Vec<ClientConfig>) -> String {
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
            let mut b = Provider::builder()
                .demo()
                .issuer(IssuerUrl::new(&issuer).unwrap())
                .auto_approve(Some("alice".into()));
            for c in extra {
                b = b.client(c);
            }
            let provider = b.build().unwrap();
            tx.send(issuer).unwrap();
            axum::serve(listener, provider.router()).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// A resource at `http://127.0.0.1:R/api` whose `401` points to its metadata on another
/// origin (`http://127.0.0.1:M/prm`), which names the issuer `issuer_of` starts for the
/// resource URL. Returns (resource URL, metadata URL, issuer).
fn cross_origin_resource(
    issuer_of: impl FnOnce(&str) -> String + Send + 'static,
) -> (String, String, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let r = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let m = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let resource = format!("http://{}/api", r.local_addr().unwrap());
            let metadata = format!("http://{}/prm", m.local_addr().unwrap());
            let issuer = issuer_of(&resource);
            let doc = serde_json::json!({
                "resource": resource,
                "authorization_servers": [issuer],
                "scopes_supported": ["api:read"],
            });
            let challenge = format!("Bearer resource_metadata=\"{metadata}\"");
            let app = axum::Router::new()
                .route(
                    "/api",
                    axum::routing::get(move || async move {
                        (
                            http::StatusCode::UNAUTHORIZED,
                            [(http::header::WWW_AUTHENTICATE, challenge)],
                        )
                    }),
                )
                .route(
                    "/prm",
                    axum::routing::get(move || async move { axum::Json(doc) }),
                );
            tx.send((resource, metadata, issuer)).unwrap();
            let other = app.clone();
            tokio::spawn(async move { axum::serve(m, other).await.unwrap() });
            axum::serve(r, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// A fresh AUTHFLOW_HOME and a browser script that logs each opening, or `None` (with
/// the reason printed) when curl is missing outside CI's strict mode.
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
            "authflow-resource-login-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&home).unwrap();
        let browser = home.join("browser.sh");
        let log = home.join("browser.log");
        std::fs::write(
            &browser,
            format!(
                "#!/bin/sh\necho opened >> '{}'\nexec curl -fsS -L -b '' --max-redirs 20 -o /dev/null \"$1\"\n",
                log.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        Some(Self { home, browser })
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_authflow"))
            .args(args)
            .env("AUTHFLOW_HOME", &self.home)
            .env("BROWSER", &self.browser)
            .env("NO_COLOR", "1")
            .env_remove("AUTHFLOW_CLIENT_SECRET")
            .env_remove("AUTHFLOW_PROFILE")
            .env_remove("AUTHFLOW_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// How often the "browser" was opened.
    fn browser_opened(&self) -> usize {
        std::fs::read_to_string(self.home.join("browser.log"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    fn config(&self) -> String {
        std::fs::read_to_string(self.home.join("config.toml")).unwrap_or_default()
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
fn fails(o: &Output, code: i32, needle: &str) -> String {
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.contains(needle), "`{needle}` not in: {stderr}");
    stderr
}

/// The profile name derived from `http://127.0.0.1:PORT`.
fn derived_name(issuer: &str) -> String {
    issuer.trim_start_matches("http://").replace(':', "-")
}

#[test]
fn curl_logs_in_from_nothing_then_reuses_the_profile_silently() {
    let Some(env) = Env::new() else { return };
    let issuer = provider(vec![]);
    let me = format!("{issuer}/api/me");

    // The scope is named: the provider's metadata lists scopes the demo client may not
    // ask for (by default a login asks for every scope the resource lists).
    let o = env.run(&[
        "curl",
        "--client-id",
        "authflow-cli",
        "--scope",
        "openid profile api:read",
        &me,
    ]);
    let body = ok(&o);
    assert!(body.contains("alice"), "{body}");
    let name = derived_name(&issuer);
    let stderr = text(&o.stderr);
    assert!(stderr.contains(&format!("profile `{name}`")), "{stderr}");
    assert_eq!(env.browser_opened(), 1);
    let config = env.config();
    assert!(
        config.contains(&format!("protected_resource = \"{issuer}\"")),
        "{config}"
    );
    assert!(
        config.contains(&format!("resources = [\"{issuer}")),
        "{config}"
    );
    use std::os::unix::fs::PermissionsExt as _;
    let tokens = env.home.join("tokens").join(format!("{name}.json"));
    let mode = std::fs::metadata(&tokens).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "token file mode {mode:o}");

    // Found by the resource: no option, no browser, and another path of the resource.
    let body = ok(&env.run(&["curl", &me]));
    assert!(body.contains("alice"), "{body}");
    assert_eq!(
        env.browser_opened(),
        1,
        "the second call opened the browser"
    );

    // The shown profile name works with --profile; a refresh sends the resource too
    // (the provider would otherwise issue a token for its default audience).
    ok(&env.run(&["--profile", &name, "refresh"]));
    let body = ok(&env.run(&["curl", &me]));
    assert!(body.contains("alice"), "{body}");
    assert_eq!(env.browser_opened(), 1);
}

#[test]
fn login_refuses_an_issuer_the_resource_does_not_list() {
    let Some(env) = Env::new() else { return };
    let issuer = provider(vec![]);
    let o = env.run(&[
        "login",
        "--resource",
        &format!("{issuer}/api/me"),
        "--client-id",
        "authflow-cli",
        "--issuer",
        "http://127.0.0.1:1",
    ]);
    let stderr = fails(&o, 2, "does not list http://127.0.0.1:1");
    assert!(
        stderr.contains(&issuer),
        "the listed issuer is named: {stderr}"
    );
    assert_eq!(env.browser_opened(), 0);
    assert!(!env.config().contains("protected_resource"));

    // The listed issuer, named explicitly, is accepted.
    ok(&env.run(&[
        "login",
        "--resource",
        &format!("{issuer}/api/me"),
        "--client-id",
        "authflow-cli",
        "--issuer",
        &issuer,
        "--scope",
        "api:read",
    ]));
    assert_eq!(env.browser_opened(), 1);
}

#[test]
fn login_without_a_client_identity_names_the_flag_to_pass() {
    let Some(env) = Env::new() else { return };
    let issuer = provider(vec![]);
    let o = env.run(&["login", "--resource", &format!("{issuer}/api/me")]);
    fails(&o, 6, "pass --client-id");
    assert_eq!(env.browser_opened(), 0);
}

#[test]
fn a_client_id_url_needs_a_server_that_supports_metadata_documents() {
    let Some(env) = Env::new() else { return };
    let issuer = provider(vec![]);
    let o = env.run(&[
        "login",
        "--resource",
        &format!("{issuer}/api/me"),
        "--client-id-url",
        "https://app.example/client.json",
    ]);
    fails(&o, 6, "client_id_metadata_document_supported");
    assert_eq!(env.browser_opened(), 0);
}

#[test]
fn cross_origin_resource_metadata_is_refused_unless_allowed() {
    let Some(env) = Env::new() else { return };
    // The provider must let the client ask for the resource's tokens (RFC 8707), and the
    // resource's port is known only once it listens: start it first.
    let (resource, metadata, _issuer) = cross_origin_resource(move |resource| {
        let client = ClientConfig::public(ClientId::new("resource-cli").unwrap())
            .redirect_uri(RedirectUri::new("http://127.0.0.1/callback").unwrap())
            .grants([GrantType::AuthorizationCode, GrantType::RefreshToken])
            .scope(Scope::parse("api:read").unwrap())
            .resource(ResourceIndicator::new(resource).unwrap());
        provider(vec![client])
    });

    let base = [
        "login",
        "--resource",
        &resource,
        "--client-id",
        "resource-cli",
    ];
    let o = env.run(&base);
    let stderr = fails(&o, 6, &metadata);
    assert!(
        stderr.contains(&format!("--allow-metadata-url {metadata}")),
        "{stderr}"
    );
    assert_eq!(env.browser_opened(), 0);

    // Another URL allowed is not this one.
    let mut other = base.to_vec();
    let wrong = format!("{metadata}x");
    other.extend(["--allow-metadata-url", &wrong]);
    fails(&env.run(&other), 6, &metadata);

    let mut allowed = base.to_vec();
    allowed.extend(["--allow-metadata-url", &metadata]);
    let o = env.run(&allowed);
    ok(&o);
    assert!(
        text(&o.stderr).contains("Logged in (profile `"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(env.browser_opened(), 1);
    let config = env.config();
    assert!(
        config.contains(&format!("protected_resource = \"{resource}\"")),
        "{config}"
    );
}

#[test]
fn curl_steps_up_once_with_the_union_of_scopes() {
    let Some(env) = Env::new() else { return };
    let issuer = provider(vec![]);
    ok(&env.run(&[
        "curl",
        "--client-id",
        "authflow-cli",
        "--scope",
        "api:read",
        &format!("{issuer}/api/data"),
    ]));
    assert_eq!(env.browser_opened(), 1);

    // Writing needs api:write: one more browser login, asking for both.
    let o = env.run(&[
        "curl",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        "{\"n\":1}",
        &format!("{issuer}/api/data"),
    ]);
    ok(&o);
    let stderr = text(&o.stderr);
    assert!(stderr.contains("api:write"), "{stderr}");
    assert_eq!(env.browser_opened(), 2);
    let config = env.config();
    assert!(
        config.contains("scope = \"api:read api:write\""),
        "{config}"
    );

    // Now the token has both: no further login.
    ok(&env.run(&[
        "curl",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        "{\"n\":2}",
        &format!("{issuer}/api/data"),
    ]));
    assert_eq!(env.browser_opened(), 2);
}

/// oidc-provider with dynamic registration and resource indicators, started once for this
/// test binary; `None` (the skip reported) without node or the package.
fn oidc_provider() -> Option<&'static interop::ServerProcess> {
    static SERVER: OnceLock<Result<interop::ServerProcess, interop::Missing>> = OnceLock::new();
    interop::shared_server(&SERVER, || {
        if !interop::has_tool("node") {
            return Err(interop::Missing::new("node", "node is not installed"));
        }
        let package =
            interop::repo().join("bench/oidc-provider/node_modules/oidc-provider/package.json");
        if !package.is_file() {
            return Err(interop::Missing::new(
                "oidc-provider",
                "oidc-provider is not installed (scripts/install-interop)",
            ));
        }
        let mut cmd = Command::new("node");
        cmd.arg(interop::repo().join("tests/interop/oidc-provider/server.mjs"))
            .args(["0", "--exit-on-stdin-close", "--registration"]);
        Ok(interop::ServerProcess::start("oidc-provider", cmd))
    })
}

/// A resource at `http://127.0.0.1:R/api` with its metadata on its own origin (the
/// path-inserted well-known URL, named by its `401` too), naming `issuer`.
fn same_origin_resource(issuer: String) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let origin = format!("http://{}", l.local_addr().unwrap());
            let resource = format!("{origin}/api");
            let doc = serde_json::json!({
                "resource": resource,
                "authorization_servers": [issuer],
                "scopes_supported": ["api:read"],
            });
            let challenge = format!(
                "Bearer resource_metadata=\"{origin}/.well-known/oauth-protected-resource/api\""
            );
            let app = axum::Router::new()
                .route(
                    "/api",
                    axum::routing::get(move || async move {
                        (
                            http::StatusCode::UNAUTHORIZED,
                            [(http::header::WWW_AUTHENTICATE, challenge)],
                        )
                    }),
                )
                .route(
                    "/.well-known/oauth-protected-resource/api",
                    axum::routing::get(move || async move { axum::Json(doc) }),
                );
            tx.send(resource).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// The claims of a JWT access token, unverified (the test only reads `aud`).
fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_registers_a_client_dynamically_and_logout_deletes_it() {
    let Some(env) = Env::new() else { return };
    let Some(server) = oidc_provider() else {
        return;
    };
    let resource = same_origin_resource(server.issuer.clone());
    let name = derived_name(&resource).replace('/', "-");

    let o = env.run(&["login", "--resource", &resource, "--timeout", "20s"]);
    ok(&o);
    let stderr = text(&o.stderr);
    assert!(stderr.contains("Registered client"), "{stderr}");
    assert!(stderr.contains(&format!("profile `{name}`")), "{stderr}");
    assert_eq!(env.browser_opened(), 1);
    let config = env.config();
    assert!(config.contains("registered = true"), "{config}");
    assert!(!config.contains("interop-"), "{config}");

    // The registration, secrets included, is kept like tokens: 0600, not in the config.
    let file = env
        .home
        .join("tokens")
        .join(format!("{name}.registration.json"));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "registration file mode {mode:o}");
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let rat = kept["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = kept["registration_client_uri"].as_str().unwrap().to_owned();
    assert!(
        !config.contains(&rat),
        "the registration access token is in the config"
    );

    // RFC 8707: the token is for the resource.
    let token = ok(&env.run(&["--profile", &name, "token"]));
    let claims = jwt_claims(token.trim());
    let aud = &claims["aud"];
    assert!(
        aud == &serde_json::json!(resource) || aud == &serde_json::json!([resource]),
        "aud {aud} is not {resource}"
    );

    let http = reqwest::Client::new();
    let read = http.get(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(read.status(), 200, "the registration exists");

    let o = env.run(&["--profile", &name, "logout"]);
    ok(&o);
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("Deleted the client registration"),
        "{stderr}"
    );
    let read = http.get(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(
        read.status(),
        401,
        "the registration is deleted at the server"
    );
    assert!(!file.exists());
    assert!(!env.config().contains(&name), "{}", env.config());
}
