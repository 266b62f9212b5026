//! panva's openid-client (v6, an OpenID Certified relying party) against `authflow serve`:
//! DPoP with server nonces, PAR, JAR inside PAR and private_key_jwt, driven by
//! `tests/interop/openid-client/client.mjs` (one scenario per test).
//!
//! Each test starts its own `authflow serve --port 0 --config FILE` (auto-approving as
//! alice, `dpop_nonce = true`) with the clients the script expects; the private_key_jwt key
//! is generated here with `SigningKey` and handed to the script as a PEM file.
//!
//! Skips with a printed reason when `node` or the npm package (`npm ci` in
//! tests/interop/openid-client) is missing, unless AUTHFLOW_REQUIRE_TOOLS is set (then it
//! fails).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod interop;

use std::path::PathBuf;
use std::process::Command;

use authflow::jose::{JwsAlgorithm, SigningKey};
use interop::*;
use serde_json::Value;

const KID: &str = "oc-key-1";

/// A provider configuration in a fresh folder, and the client key.
struct Setup {
    dir: PathBuf,
    key_pem: PathBuf,
}

impl Setup {
    fn new() -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "openid-client-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let key = SigningKey::generate(JwsAlgorithm::ES256)
            .unwrap()
            .with_key_id(KID);
        let jwks = serde_json::json!({ "keys": [
            key.public_jwk().to_object(Some(KID), Some(JwsAlgorithm::ES256)),
        ]});
        std::fs::write(dir.join("clients.jwks.json"), jwks.to_string()).unwrap();
        let key_pem = dir.join("client-key.pem");
        {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key_pem)
                .unwrap();
            f.write_all(key.to_pkcs8_pem().as_bytes()).unwrap();
        }
        // The clients client.mjs expects (see its header).
        std::fs::write(
            dir.join("provider.toml"),
            r#"auto_approve = "alice"
dpop_nonce = true

[[clients]]
id = "oc-dpop"
type = "public"
redirect_uris = ["http://127.0.0.1/callback"]
grants = ["authorization_code", "refresh_token"]
scopes = ["openid", "profile", "offline_access", "api:read"]
require_pushed_authorization_requests = true
dpop_bound_access_tokens = true

[[clients]]
id = "oc-pkjwt"
type = "confidential"
token_endpoint_auth_method = "private_key_jwt"
jwks_file = "clients.jwks.json"
grants = ["client_credentials"]
scopes = ["api:read"]

[[clients]]
id = "oc-jar"
type = "confidential"
token_endpoint_auth_method = "private_key_jwt"
jwks_file = "clients.jwks.json"
redirect_uris = ["http://127.0.0.1:9/callback"]
grants = ["authorization_code", "refresh_token"]
scopes = ["openid", "profile", "offline_access", "api:read"]
require_signed_request_object = true

[[users]]
username = "alice"
password = "alice-password"
name = "Alice Example"
email = "alice@example.test"
"#,
        )
        .unwrap();
        Self { dir, key_pem }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What client.mjs reported for one scenario, and its summary line.
struct Report {
    scenario: Value,
    summary: Value,
}

/// Runs `scenario` of client.mjs against a fresh `authflow serve`; `None` when skipped.
fn run(scenario: &str) -> Option<Report> {
    if !has_tool("node") {
        return skip("node", "node is not installed");
    }
    let script_dir = repo().join("tests/interop/openid-client");
    if !script_dir
        .join("node_modules/openid-client/package.json")
        .is_file()
    {
        return skip(
            "openid-client",
            "openid-client is not installed (npm ci in tests/interop/openid-client)",
        );
    }
    let setup = Setup::new();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_authflow"));
    serve
        .args(["serve", "--port", "0", "--config"])
        .arg(setup.dir.join("provider.toml"))
        .env("NO_COLOR", "1")
        .env_remove("AUTHFLOW_LOG");
    let server = ServerProcess::start("authflow-serve", serve);
    let out = Command::new("node")
        .arg(script_dir.join("client.mjs"))
        .arg(&server.issuer)
        .arg(&setup.key_pem)
        .arg(KID)
        .arg(scenario)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let find = |pred: &dyn Fn(&Value) -> bool| lines.iter().find(|v| pred(v)).cloned();
    let report = find(&|v| v["scenario"] == scenario);
    let summary = find(&|v| v["summary"] == true);
    let (Some(scenario_line), Some(summary)) = (report, summary) else {
        panic!(
            "client.mjs exited {:?} without its report\nstdout: {stdout}\nstderr: {}\nserver: {}",
            out.status.code(),
            text(&out.stderr),
            server.stderr()
        );
    };
    assert!(
        scenario_line["ok"] == true && out.status.success(),
        "openid-client, {scenario}: {scenario_line}\nserver log:\n{}",
        server.stderr()
    );
    Some(Report {
        scenario: scenario_line,
        summary,
    })
}

fn proofs_went_to(r: &Report, path: &str) -> bool {
    r.summary["proofs_to"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == path)
}

#[test]
fn dpop_code_flow_through_required_par_with_a_bound_refresh_token() {
    let _t = Timer::start("openid-client: DPoP + PAR code flow");
    let Some(r) = run("dpop_par_code_flow") else {
        return;
    };
    // The script checked: a plain authorization request is refused (PAR required for the
    // client), the token is DPoP-bound and works at /api/me with a proof but not as a
    // bearer token, the refresh token refuses another key and refreshes with the right one.
    assert_eq!(r.scenario["token_type"], "dpop");
    assert_eq!(r.scenario["refreshed_token_type"], "dpop");
    // The provider demanded its nonce and openid-client followed it.
    assert!(
        r.scenario["use_dpop_nonce"].as_u64().unwrap() >= 1,
        "{}",
        r.scenario
    );
    for path in ["/par", "/token", "/api/me"] {
        assert!(proofs_went_to(&r, path), "{path}: {}", r.summary);
    }
}

#[test]
fn private_key_jwt_client_credentials_with_dpop() {
    let _t = Timer::start("openid-client: private_key_jwt + DPoP");
    let Some(r) = run("private_key_jwt_client_credentials_with_dpop") else {
        return;
    };
    // The script checked: the key generated here authenticates, another key with the same
    // kid is `invalid_client`, the DPoP token reads /api/data.
    assert_eq!(r.scenario["token_type"], "dpop");
    assert!(proofs_went_to(&r, "/api/data"), "{}", r.summary);
}

#[test]
fn signed_request_object_inside_par_with_dpop() {
    let _t = Timer::start("openid-client: JAR inside PAR");
    let Some(r) = run("jar_inside_par_with_dpop") else {
        return;
    };
    assert_eq!(
        r.scenario["unsigned_refused_with"], "invalid_request",
        "{}",
        r.scenario
    );
    assert!(proofs_went_to(&r, "/par"), "{}", r.summary);
}

/// openid-client sends a DPoP-bound token to UserInfo with `Authorization: DPoP` and a
/// proof (RFC 9449 §7; oidc-provider accepts it). `authflow serve`'s /userinfo takes
/// bearer tokens only: 401 with a bare `Bearer` challenge.
#[test]
fn dpop_bound_token_at_userinfo() {
    let Some(r) = run("dpop_userinfo") else {
        return;
    };
    assert_eq!(r.scenario["sub"], "alice");
}

/// oauth4webapi signs with an Ed25519 key under the fully-specified `alg` "Ed25519"
/// (RFC 9864, which deprecates "EdDSA"). authflow's `JwsAlgorithm` knows only "EdDSA", so
/// the provider answers 400 `invalid_dpop_proof` ("the DPoP proof's `alg` is not accepted
/// here").
#[test]
fn ed25519_dpop_proof_with_the_fully_specified_alg() {
    let Some(r) = run("ed25519_dpop_proof") else {
        return;
    };
    assert_eq!(r.scenario["token_type"], "dpop");
}
