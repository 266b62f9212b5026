//! Runs the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(args: &[&str]) -> (Running, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authflow"))
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = Vec::new();
    let mut addr = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(a) = line.trim().strip_prefix("listening on ") {
            addr = Some(a.to_owned());
        }
        let done = line.starts_with("log in:");
        lines.push(line);
        if done {
            break;
        }
    }
    (running, addr.expect("no address printed"), lines)
}

#[test]
fn serve_port_0_prints_the_bound_address_and_answers() {
    let (_child, addr, lines) = serve(&["--port", "0", "--auto-approve", "alice"]);
    assert!(
        addr.starts_with("http://127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );
    let text = lines.join("\n");
    for needle in [
        "authflow-cli",
        "demo-web",
        "demo-service",
        "alice / alice-password",
        "issuer",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let v: serde_json::Value =
            reqwest::get(format!("{addr}/.well-known/oauth-authorization-server"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(v["issuer"], addr);
        let resp = reqwest::Client::new()
            .post(format!("{addr}/token"))
            .basic_auth("demo-service", Some("demo-service-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    });
}

#[test]
fn serve_with_config_and_quirk() {
    let dir = std::env::temp_dir().join(format!("authflow-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("provider.toml");
    std::fs::write(
        &path,
        r#"
access_token_ttl = "5s"

[[clients]]
id = "svc"
type = "confidential"
secret = "svc-secret"
grants = ["client_credentials"]
scopes = ["api:read"]
"#,
    )
    .unwrap();
    let (_child, addr, lines) = serve(&[
        "--port",
        "0",
        "--config",
        path.to_str().unwrap(),
        "--quirk",
        "expires-in-as-string",
    ]);
    assert!(
        !lines.join("\n").contains("svc-secret"),
        "file secrets are not printed"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let v: serde_json::Value = reqwest::Client::new()
            .post(format!("{addr}/token"))
            .basic_auth("svc", Some("svc-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["expires_in"], "5");
    });
}

#[test]
fn bad_config_names_the_line_and_fails() {
    let dir = std::env::temp_dir().join(format!("authflow-badcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("provider.toml");
    std::fs::write(&path, "\n\n[[clients]]\nid = \"x\"\ntype = \"sideways\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_authflow"))
        .args(["serve", "--port", "0", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 5"), "{err}");
}

#[test]
fn serve_require_par_and_dpop_nonce_flags() {
    let (_child, addr, lines) = serve(&[
        "--port",
        "0",
        "--auto-approve",
        "alice",
        "--require-par",
        "--dpop-nonce",
    ]);
    let text = lines.join("\n");
    assert!(
        text.contains("PAR required") && text.contains("DPoP nonces required"),
        "{text}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let v: serde_json::Value =
            reqwest::get(format!("{addr}/.well-known/oauth-authorization-server"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(v["require_pushed_authorization_requests"], true);
        assert_eq!(v["pushed_authorization_request_endpoint"], format!("{addr}/par"));
        // Token responses offer a nonce when nonces are required.
        let resp = reqwest::Client::new()
            .post(format!("{addr}/token"))
            .basic_auth("demo-service", Some("demo-service-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get("dpop-nonce").is_some());
        // A front-channel request without request_uri is refused.
        let resp = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!(
                "{addr}/authorize?response_type=code&client_id=demo-web&redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fcallback"
            ))
            .send()
            .await
            .unwrap();
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.contains("error=invalid_request"), "{location}");
        assert!(!location.contains("code="), "{location}");
    });
}
