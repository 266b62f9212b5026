//! `authflow serve --key/--id-token-key`: keys from files, so tokens survive restarts.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod skip;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `authflow serve --port 0 ARGS`; the child and its address.
fn serve(args: &[&str]) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authflow"))
        .args(["serve", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut addr = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(a) = line.trim().strip_prefix("listening on ") {
            addr = Some(a.to_owned());
        }
        if line.starts_with("log in:") {
            break;
        }
    }
    (running, addr.expect("no address printed"))
}

fn rs256_kid(addr: &str) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let jwks: serde_json::Value = reqwest::get(format!("{addr}/jwks"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["alg"] == "RS256")
            .unwrap()
            .clone();
        key["kid"].as_str().unwrap().to_owned()
    })
}

fn openssl_rsa(path: &Path) -> bool {
    Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(path)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn id_token_key_from_a_file_is_used_across_restarts() {
    let dir = std::env::temp_dir().join(format!("authflow-serve-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("rsa.pem");
    if !openssl_rsa(&key) {
        skip::skip(
            "openssl",
            "openssl is not installed (Debian: apt-get install openssl)",
        );
        return;
    }
    let key_arg = key.to_str().unwrap();
    let first = {
        let (_child, addr) = serve(&["--id-token-key", key_arg]);
        rs256_kid(&addr)
    };
    let (_child, addr) = serve(&["--id-token-key", key_arg]);
    assert_eq!(rs256_kid(&addr), first, "the same key after a restart");
    let (_other, addr) = serve(&[]);
    assert_ne!(rs256_kid(&addr), first, "a fresh key without the option");

    // A file that is not an RSA key: one clear error line, no secret echoed.
    let bad = dir.join("bad.pem");
    std::fs::write(
        &bad,
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_authflow"))
        .args(["serve", "--port", "0", "--id-token-key"])
        .arg(&bad)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("RSA"), "{err}");
    assert!(!err.contains("c2VjcmV0"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
