//! `authflow serve --store redis://...`: two processes with one issuer share codes and
//! refresh tokens, and a restarted process keeps them. Against a real `redis-server`
//! started on a free 127.0.0.1 port; without it the test reports its skip and passes,
//! unless AUTHFLOW_REQUIRE_TOOLS is set.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod skip;

/// The test binary's `redis-server` (`authflow_testkit::redis`).
mod redis_server {
    /// Its URL, or `None` (the running test's skip reported) when it is not installed.
    pub fn redis_url() -> Option<String> {
        authflow_testkit::redis::shared(crate::skip::skip).map(|r| r.url())
    }
}

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use authflow::random::OsRandom;
use authflow::types::PkceVerifier;
use reqwest::StatusCode;
use serde_json::Value;

const REDIRECT: &str = "http://127.0.0.1:43210/callback";

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `authflow serve --port 0 --auto-approve alice ARGS`; the child, its address and
/// its banner.
fn serve(args: &[&str]) -> (Running, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authflow"))
        .args(["serve", "--port", "0", "--auto-approve", "alice"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let (mut addr, mut banner) = (None, String::new());
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if let Some(a) = line.trim().strip_prefix("listening on ") {
            addr = Some(a.to_owned());
        }
        if line.starts_with("log in:") {
            break;
        }
    }
    (running, addr.expect("no address printed"), banner)
}

async fn code(http: &reqwest::Client, base: &str) -> (String, String) {
    let v = PkceVerifier::generate(&mut OsRandom);
    let mut url = url::Url::parse(&format!("{base}/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", "authflow-cli"),
        ("redirect_uri", REDIRECT),
        ("scope", "api:read offline_access"),
        ("code_challenge", &v.s256_challenge()),
        ("code_challenge_method", "S256"),
    ]);
    let resp = http.get(url).send().await.unwrap();
    let loc = resp.headers()["location"].to_str().unwrap();
    let q: HashMap<String, String> = url::Url::parse(loc)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    (q["code"].clone(), v.secret().to_owned())
}

async fn token(http: &reqwest::Client, base: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = http
        .post(format!("{base}/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

async fn refresh(http: &reqwest::Client, base: &str, rt: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "authflow-cli"),
        ("refresh_token", rt),
    ];
    token(http, base, &form).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_on_one_redis_share_grants_across_a_restart() {
    let Some(url) = redis_server::redis_url() else {
        return;
    };
    let store = ["--store", url.as_str()];
    let (_a, a, banner) = serve(&store);
    assert!(banner.contains("state in redis://127.0.0.1:"), "{banner}");
    let issuer = ["--store", url.as_str(), "--issuer", a.as_str()];
    let (_b, b, _) = serve(&issuer);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // A code from A, redeemed at B; B's access token accepted at A (keys kept in Redis).
    let (code, verifier) = code(&http, &a).await;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("client_id", "authflow-cli"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, t0) = token(&http, &b, &exchange).await;
    assert_eq!(status, StatusCode::OK, "{t0}");
    let me = http
        .get(format!("{a}/api/me"))
        .bearer_auth(t0["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    // A restarts: the refresh token issued before still works.
    drop(_a);
    let (_a2, a2, _) = serve(&issuer);
    let rt0 = t0["refresh_token"].as_str().unwrap();
    let (status, t1) = refresh(&http, &a2, rt0).await;
    assert_eq!(status, StatusCode::OK, "{t1}");

    // Rotated at A: a reuse at B, which revokes the grant for both.
    let (status, v) = refresh(&http, &b, rt0).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = refresh(&http, &a2, t1["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[test]
fn a_bad_store_location_is_one_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_authflow"))
        .args([
            "serve",
            "--port",
            "0",
            "--store",
            "rediss://:hunter2@127.0.0.1/0",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}
