//! DPoP, PAR, request objects and JWT client authentication in the `authflow` binary,
//! end to end against the embedded provider on 127.0.0.1:0, with `$BROWSER` playing the
//! user (the provider auto-approves as alice). The binary, its home and the browser come
//! from the shared test support in `tests/interop/mod.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod interop;

use std::path::{Path, PathBuf};
use std::process::Output;

use authflow::jose::{JwsAlgorithm, SigningKey};
use authflow::types::{ClientId, ClientSecret, IssuerUrl, RedirectUri, Scope};
use authflow_provider::{
    ClientConfig, GrantType, Provider, ProviderBuilder, TokenEndpointAuthMethod,
};
use base64::Engine as _;
use interop::{CliEnv, has_tool, ok, skip, text};
use serde_json::{Value, json};

/// A secret of the 32 bytes client_secret_jwt needs.
const HMAC_SECRET: &str = "a-shared-secret-of-at-least-32-bytes-for-hs256";

/// Starts a demo provider, changed by `configure`, on its own thread; it lives until the
/// test process ends.
fn provider(configure: impl FnOnce(ProviderBuilder) -> ProviderBuilder + Send + 'static) -> String {
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
            let builder = Provider::builder()
                .demo()
                .issuer(IssuerUrl::new(&issuer).unwrap())
                .auto_approve(Some("alice".into()));
            let provider = configure(builder).build().unwrap();
            tx.send(issuer).unwrap();
            axum::serve(listener, provider.router()).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn loopback() -> RedirectUri {
    RedirectUri::new("http://127.0.0.1/callback").unwrap()
}

fn scope(s: &str) -> Scope {
    Scope::parse(s).unwrap()
}

/// A P-256 client key: the public half as a JWK set with `kid`, the private half as a
/// PEM file (0600) under `dir`.
fn client_key(dir: &Path, kid: &str) -> (Value, PathBuf) {
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let mut jwk = serde_json::to_value(key.public_jwk()).unwrap();
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!("ES256");
    let path = dir.join(format!("{kid}.pem"));
    write_private(&path, key.to_pkcs8_pem().as_bytes());
    (json!({ "keys": [jwk] }), path)
}

fn write_private(path: &Path, bytes: &[u8]) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

/// The home and browser, or `None` (the reason printed) when curl, the "user", is missing.
fn env() -> Option<CliEnv> {
    if !has_tool("curl") {
        return skip("curl", "curl is not installed");
    }
    Some(CliEnv::with_curl())
}

fn token_file(env: &CliEnv, profile: &str) -> PathBuf {
    env.home.join("tokens").join(format!("{profile}.json"))
}

/// The command failed with `code`, one error line that holds `needle`.
#[track_caller]
fn fails_with(o: &Output, code: i32, needle: &str) -> String {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    let last = err.trim_end().lines().last().unwrap_or("");
    assert!(last.starts_with("authflow: "), "error line: {err}");
    assert!(last.contains(needle), "expected `{needle}` in: {last}");
    assert_eq!(
        err.matches("authflow: ").count(),
        1,
        "one error line: {err}"
    );
    err
}

fn json_of(o: &Output) -> Value {
    serde_json::from_str(&ok(o)).unwrap()
}

/// The claims of a JWT access token, unchecked (the test only reads `cnf`).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// What the resource answers a token sent as a plain bearer token, without a proof.
fn status_as_bearer(url: &str, token: &str) -> String {
    let o = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(url)
        .output()
        .unwrap();
    text(&o.stdout)
}

fn login_args<'a>(issuer: &'a str, client_id: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "login",
        "--issuer",
        issuer,
        "--client-id",
        client_id,
        "--scope",
        "openid api:read offline_access",
        "--timeout",
        "20s",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn dpop_login_binds_the_tokens_curl_proves_them_and_refresh_keeps_the_key() {
    let Some(env) = env() else { return };
    let issuer = provider(|b| b);
    let login = env.run(&login_args(&issuer, "authflow-cli", &["--dpop"]));
    ok(&login);
    assert!(
        text(&login.stderr).contains("DPoP-bound (jkt "),
        "{}",
        text(&login.stderr)
    );

    // The key lives with the tokens, in the private token file, never in the config.
    let file = token_file(&env, "default");
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(stored["dpop"].is_object(), "no DPoP key stored: {stored}");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let config = std::fs::read_to_string(env.home.join("config.toml")).unwrap();
    assert!(config.contains("dpop = true"), "{config}");
    assert!(!config.contains("pkcs8"), "{config}");

    let t = json_of(&env.run(&["token", "--json"]));
    assert_eq!(t["token_type"], "DPoP", "{t}");
    let jkt = t["dpop_jkt"].as_str().unwrap().to_owned();
    let token = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        claims(&token)["cnf"]["jkt"],
        jkt.as_str(),
        "bound to the stored key"
    );

    let status = ok(&env.run(&["status"]));
    assert!(
        status.contains(&format!("DPoP-bound (jkt {jkt})")),
        "{status}"
    );
    let status = json_of(&env.run(&["status", "--json"]));
    assert_eq!(status["dpop_jkt"], jkt.as_str());

    // curl proves possession; the same token without a proof is refused.
    let me_url = format!("{issuer}/api/me");
    let me = ok(&env.run(&["curl", &me_url]));
    assert!(me.contains("\"sub\":\"alice\""), "{me}");
    assert_eq!(status_as_bearer(&me_url, &token), "401");
    // userinfo takes the bound token with a proof, like the API.
    let info = ok(&env.run(&["userinfo"]));
    assert!(info.contains("alice"), "{info}");
    assert_eq!(
        status_as_bearer(&format!("{issuer}/userinfo"), &token),
        "401"
    );

    // A refresh brings new tokens bound to the same key.
    ok(&env.run(&["refresh"]));
    let t2 = json_of(&env.run(&["token", "--json"]));
    assert_ne!(t2["access_token"], t["access_token"]);
    assert_eq!(t2["token_type"], "DPoP");
    assert_eq!(t2["dpop_jkt"], jkt.as_str());
    assert_eq!(
        claims(t2["access_token"].as_str().unwrap())["cnf"]["jkt"],
        jkt.as_str()
    );
    let me = ok(&env.run(&["curl", &me_url]));
    assert!(me.contains("alice"), "{me}");
    // Logout revokes the bound tokens and forgets them with their key.
    ok(&env.run(&["logout"]));
    assert!(!file.exists());

    // The profile remembers --dpop; each login makes a key of its own.
    ok(&env.run(&["login", "--timeout", "20s"]));
    let t3 = json_of(&env.run(&["token", "--json"]));
    assert_eq!(t3["token_type"], "DPoP");
    assert_ne!(t3["dpop_jkt"], jkt.as_str(), "a new key for a new login");
    // --dpop=false turns it off again.
    ok(&env.run(&login_args(&issuer, "authflow-cli", &["--dpop=false"])));
    let t4 = json_of(&env.run(&["token", "--json"]));
    assert_eq!(t4["token_type"], "Bearer");
    assert_eq!(t4["dpop_jkt"], Value::Null);
}

#[test]
fn device_login_and_client_credentials_bind_with_dpop() {
    let Some(env) = env() else { return };
    let issuer = provider(|b| b);
    let device = env.run(&[
        "login",
        "--device",
        "--dpop",
        "--issuer",
        &issuer,
        "--client-id",
        "authflow-cli",
        "--scope",
        "api:read",
    ]);
    ok(&device);
    let t = json_of(&env.run(&["token", "--json"]));
    assert_eq!(t["token_type"], "DPoP", "{t}");
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["cnf"]["jkt"],
        t["dpop_jkt"]
    );

    let cc = env
        .cmd(&[
            "--profile",
            "svc",
            "client-credentials",
            "--json",
            "--dpop",
            "--issuer",
            &issuer,
            "--client-id",
            "demo-service",
            "--scope",
            "api:read",
        ])
        .env("AUTHFLOW_CLIENT_SECRET", "demo-service-secret")
        .output()
        .unwrap();
    let cc = json_of(&cc);
    assert_eq!(cc["token_type"], "DPoP", "{cc}");
    let jkt = cc["dpop_jkt"].as_str().unwrap();
    assert_eq!(
        claims(cc["access_token"].as_str().unwrap())["cnf"]["jkt"],
        jkt
    );
    let cached: Value = serde_json::from_str(
        &std::fs::read_to_string(env.home.join("tokens/svc.client-credentials.json")).unwrap(),
    )
    .unwrap();
    assert!(cached["dpop"].is_object(), "the cached token keeps its key");
}

#[test]
fn par_is_used_when_asked_and_when_the_server_requires_it() {
    let Some(env) = env() else { return };
    let issuer = provider(|b| {
        b.client(
            ClientConfig::public(ClientId::new("par-only").unwrap())
                .redirect_uri(loopback())
                .scope(scope("openid api:read offline_access"))
                .require_pushed_authorization_requests(true),
        )
    });
    // Not pushed: the provider refuses the request at /authorize.
    let o = env.run(&login_args(&issuer, "par-only", &[]));
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("pushed"), "{}", text(&o.stderr));
    ok(&env.run(&login_args(&issuer, "par-only", &["--par"])));
    let me = ok(&env.run(&["curl", &format!("{issuer}/api/me")]));
    assert!(me.contains("alice"), "{me}");
    // Remembered by the profile.
    let config = std::fs::read_to_string(env.home.join("config.toml")).unwrap();
    assert!(config.contains("par = true"), "{config}");
    ok(&env.run(&["login", "--timeout", "20s"]));

    // A server whose metadata requires PAR gets it without asking.
    let strict = provider(|b| b.require_pushed_authorization_requests(true));
    let o = env.run(&login_args(
        &strict,
        "authflow-cli",
        &["--par=false", "--dpop"],
    ));
    ok(&o);
    let t = json_of(&env.run(&["token", "--json"]));
    assert_eq!(t["token_type"], "DPoP", "PAR and DPoP together: {t}");
}

#[test]
fn private_key_jwt_with_signed_pushed_requests() {
    let Some(env) = env() else { return };
    let (jwks, key) = client_key(&env.home, "k1");
    // A confidential client's loopback redirect is matched with its port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let registered = RedirectUri::new(&redirect).unwrap();
    let issuer = provider(move |b| {
        b.client(
            ClientConfig::private_key_jwt(ClientId::new("signed-app").unwrap())
                .jwks(jwks)
                .redirect_uri(registered)
                .grants([
                    GrantType::AuthorizationCode,
                    GrantType::RefreshToken,
                    GrantType::ClientCredentials,
                ])
                .scope(scope("openid api:read offline_access"))
                .require_signed_request_object(true),
        )
    });
    let key_arg = key.to_str().unwrap();
    // The parameters must come signed: a plain request is refused.
    let o = env.run(&login_args(
        &issuer,
        "signed-app",
        &[
            "--auth-method",
            "private_key_jwt",
            "--client-key",
            key_arg,
            "--redirect-uri",
            &redirect,
        ],
    ));
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("request object"),
        "{}",
        text(&o.stderr)
    );

    for extra in [&[][..], &["--par"][..]] {
        let mut args = vec![
            "--auth-method",
            "private_key_jwt",
            "--client-key",
            key_arg,
            "--client-key-id",
            "k1",
            "--request-object",
            "--redirect-uri",
            &redirect,
        ];
        args.extend_from_slice(extra);
        let o = env.run(&login_args(&issuer, "signed-app", &args));
        ok(&o);
        let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
        assert!(!all.contains("PRIVATE KEY"), "{all}");
    }
    let config = std::fs::read_to_string(env.home.join("config.toml")).unwrap();
    for line in [
        "auth_method = \"private_key_jwt\"",
        &format!("client_key = \"{key_arg}\""),
        "client_key_id = \"k1\"",
        "request_object = true",
        "par = true",
    ] {
        assert!(config.contains(line), "{line} missing in {config}");
    }
    // The profile alone authenticates refreshes and the client credentials grant.
    ok(&env.run(&["refresh"]));
    let me = ok(&env.run(&["curl", &format!("{issuer}/api/me")]));
    assert!(me.contains("alice"), "{me}");
    let cc = ok(&env.run(&["client-credentials"]));
    assert_eq!(cc.trim().split('.').count(), 3, "{cc}");

    // A key the server does not know is refused.
    let other = env.home.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let (_, unknown) = client_key(&other, "k1");
    let o = env.run(&[
        "--profile",
        "stranger",
        "client-credentials",
        "--issuer",
        &issuer,
        "--client-id",
        "signed-app",
        "--client-key",
        unknown.to_str().unwrap(),
    ]);
    fails_with(&o, 4, "invalid_client");
}

#[test]
fn client_secret_jwt_for_client_credentials() {
    let Some(env) = env() else { return };
    let issuer = provider(|b| {
        b.client(
            ClientConfig::confidential(
                ClientId::new("hmac-svc").unwrap(),
                ClientSecret::new(HMAC_SECRET).unwrap(),
            )
            .token_endpoint_auth_method(TokenEndpointAuthMethod::ClientSecretJwt)
            .grants([GrantType::ClientCredentials])
            .scope(scope("api:read")),
        )
    });
    let args = |profile: &'static str| {
        [
            "--profile",
            profile,
            "client-credentials",
            "--json",
            "--issuer",
            issuer.as_str(),
            "--client-id",
            "hmac-svc",
            "--auth-method",
            "client_secret_jwt",
        ]
        .map(str::to_owned)
    };
    let good = env
        .cmd(&args("good").iter().map(String::as_str).collect::<Vec<_>>())
        .env("AUTHFLOW_CLIENT_SECRET", HMAC_SECRET)
        .output()
        .unwrap();
    assert_eq!(json_of(&good)["token_type"], "Bearer");
    let wrong = "another-secret-of-at-least-32-bytes-long!!";
    let bad = env
        .cmd(&args("bad").iter().map(String::as_str).collect::<Vec<_>>())
        .env("AUTHFLOW_CLIENT_SECRET", wrong)
        .output()
        .unwrap();
    let err = fails_with(&bad, 4, "invalid_client");
    assert!(!err.contains(wrong) && !err.contains(HMAC_SECRET), "{err}");
}

#[test]
fn an_unusable_client_key_is_a_configuration_error_naming_the_file() {
    let Some(env) = env() else { return };
    // Nothing listens here: every error below comes before any request.
    let issuer = "http://127.0.0.1:9";
    let missing = env.home.join("no-such-key.pem");
    let missing = missing.to_str().unwrap();
    let with_key = |key: &str| {
        env.run(&[
            "login",
            "--issuer",
            issuer,
            "--client-id",
            "app",
            "--auth-method",
            "private_key_jwt",
            "--client-key",
            key,
        ])
    };
    fails_with(&with_key(missing), 6, missing);

    // Not a key: named, and its content never shown.
    let junk = env.home.join("junk.pem");
    write_private(
        &junk,
        b"-----BEGIN PRIVATE KEY-----\nTUFSS0VSLWRvLW5vdC1wcmludA==\n-----END PRIVATE KEY-----\n",
    );
    let junk = junk.to_str().unwrap();
    let err = fails_with(&with_key(junk), 6, junk);
    assert!(!err.contains("TUFSS0VS"), "{err}");

    // A key file that is a folder.
    let dir = env.home.to_str().unwrap();
    fails_with(&with_key(dir), 6, dir);

    // private_key_jwt and request objects need a key.
    fails_with(
        &env.run(&[
            "client-credentials",
            "--issuer",
            issuer,
            "--client-id",
            "app",
            "--auth-method",
            "private_key_jwt",
        ]),
        6,
        "--client-key",
    );
    fails_with(
        &env.run(&[
            "login",
            "--issuer",
            issuer,
            "--client-id",
            "app",
            "--request-object",
        ]),
        6,
        "--client-key",
    );
    // A profile refuses a key it could not use, and is not saved.
    fails_with(
        &env.run(&[
            "profile",
            "add",
            "work",
            "--issuer",
            issuer,
            "--client-id",
            "app",
            "--client-key",
            missing,
        ]),
        6,
        missing,
    );
    assert!(!env.home.join("config.toml").exists());
}

/// `doctor --json`'s finding for `check`: (level, detail).
fn finding(report: &Value, check: &str) -> (String, String) {
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no `{check}` finding: {report}"));
    (
        f["level"].as_str().unwrap().to_owned(),
        f["detail"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn doctor_reports_dpop_par_request_objects_and_jwt_client_auth() {
    let Some(env) = env() else { return };
    let issuer = provider(|b| b);
    let report = json_of(&env.run(&["doctor", "--json", &issuer]));
    let (level, detail) = finding(&report, "DPoP");
    assert_eq!(level, "ok");
    assert!(detail.contains("ES256"), "{detail}");
    let (level, detail) = finding(&report, "PAR");
    assert_eq!(level, "ok");
    assert!(
        detail.contains(&format!("{issuer}/par")) && detail.contains("not required"),
        "{detail}"
    );
    let (level, detail) = finding(&report, "request objects");
    assert_eq!(level, "ok");
    assert!(
        detail.contains("by value") && detail.contains("ES256"),
        "{detail}"
    );
    let (level, detail) = finding(&report, "JWT client auth");
    assert_eq!(level, "ok");
    assert!(
        detail.contains("private_key_jwt") && detail.contains("client_secret_jwt"),
        "{detail}"
    );

    let strict = provider(|b| b.require_pushed_authorization_requests(true));
    let report = json_of(&env.run(&["doctor", "--json", &strict]));
    let (_, detail) = finding(&report, "PAR");
    assert!(detail.contains("required for every"), "{detail}");

    // The text form has a line for each.
    let shown = ok(&env.run(&["doctor", &issuer]));
    for check in ["DPoP", "PAR", "request objects", "JWT client auth"] {
        assert!(
            shown
                .lines()
                .any(|l| l.trim_start().starts_with("ok") && l.contains(check)),
            "{check} in:\n{shown}"
        );
    }
}

#[test]
fn doctor_fails_a_server_that_requires_par_without_an_endpoint() {
    let Some(env) = env() else { return };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", l.local_addr().unwrap());
            let meta = json!({
                "issuer": base,
                "token_endpoint": format!("{base}/token"),
                "require_pushed_authorization_requests": true,
                "dpop_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            });
            let app = axum::Router::new().route(
                "/.well-known/oauth-authorization-server",
                axum::routing::get(move || {
                    let m = meta.clone();
                    async move { axum::Json(m) }
                }),
            );
            tx.send(base).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    let base = rx.recv().unwrap();
    let o = env.run(&["doctor", "--json", &base]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(finding(&report, "PAR").0, "FAIL");
    let (level, detail) = finding(&report, "DPoP");
    assert_eq!(level, "warn", "{detail}");
    assert_eq!(finding(&report, "request objects").0, "info");
    assert_eq!(finding(&report, "JWT client auth").0, "info");
}

#[test]
fn help_shows_the_new_options_with_examples() {
    let Some(env) = env() else { return };
    let help = ok(&env.run(&["login", "--help"]));
    for needle in [
        "--dpop",
        "--par",
        "--request-object",
        "--client-key <FILE>",
        "--client-key-id <KID>",
        "private_key_jwt",
        "client_secret_jwt",
        "authflow login --dpop",
        // The example's line continuation survives.
        "private_key_jwt \\\n",
    ] {
        assert!(help.contains(needle), "{needle} missing in:\n{help}");
    }
    let help = ok(&env.run(&["client-credentials", "--help"]));
    assert!(help.contains("--dpop --json"), "{help}");
}
