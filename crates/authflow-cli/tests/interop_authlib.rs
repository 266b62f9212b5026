//! authflow (library and CLI) against an authorization server built on Authlib (Python,
//! Flask): `tests/interop/authlib/server.py`, started once for this test binary on
//! 127.0.0.1:0. A second, independent reading of RFC 6749, 7009, 7636, 7662, 8414 and 9207.
//!
//! Skips with a printed reason when the venv of scripts/install-interop is missing, unless
//! AUTHFLOW_REQUIRE_TOOLS is set (then it fails).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod interop;

use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use authflow::protocol::Credentials;
use authflow::protocol::revocation::TokenTypeHint;
use authflow::session::{RefreshTokenProvider, TokenSet, TokenSource};
use authflow::types::{ClientId, ClientSecret, Scope};
use interop::*;

/// Registered for client_secret_basic only: a fallback to post cannot hide a Basic bug.
const SPECIAL_SECRET: &str = "s:%+&=/ ecret";

fn server() -> Option<&'static ServerProcess> {
    static SERVER: OnceLock<Result<ServerProcess, Missing>> = OnceLock::new();
    shared_server(&SERVER, || {
        let python = venv_python();
        if !python.is_file() {
            return Err(Missing::new(
                "authlib",
                format!("the Authlib venv is missing ({})", python.display()),
            ));
        }
        let mut cmd = Command::new(python);
        cmd.arg(repo().join("tests/interop/authlib/server.py"))
            .args(["0", "--exit-on-stdin-close"]);
        Ok(ServerProcess::start("authlib", cmd))
    })
}

fn public() -> Credentials {
    Credentials::public(ClientId::new("authlib-public").unwrap())
}

fn confidential() -> Credentials {
    Credentials::secret_basic(
        ClientId::new("authlib-confidential").unwrap(),
        ClientSecret::new("authlib-confidential-secret").unwrap(),
    )
}

fn special() -> Credentials {
    Credentials::secret_basic(
        ClientId::new("authlib-special").unwrap(),
        ClientSecret::new(SPECIAL_SECRET).unwrap(),
    )
}

#[tokio::test]
async fn rfc8414_discovery_code_flow_refresh_rotation_and_reuse_detection() {
    let Some(s) = server() else { return };
    let _t = Timer::start("authlib: code flow, rotation");
    let client = discover(&s.issuer, public()).await;
    assert_eq!(client.issuer().unwrap().as_issuer_str(), s.issuer);
    let (tokens, _) = code_flow(&client, "profile offline_access", None).await;
    let rt1 = tokens.refresh_token.clone().expect("a refresh token");
    let second = client.refresh(&rt1, None).await.unwrap();
    let rt2 = second.refresh_token.clone().expect("rotated");
    assert_ne!(rt1.secret(), rt2.secret());
    let err = client.refresh(&rt1, None).await.unwrap_err();
    assert!(err.is_invalid_grant(), "{err:?}");
    let err = client.refresh(&rt2, None).await.unwrap_err();
    assert!(err.is_invalid_grant(), "reuse ended the grant: {err:?}");
}

#[tokio::test]
async fn concurrent_refresh_through_a_token_source_keeps_the_grant() {
    let Some(s) = server() else { return };
    let _t = Timer::start("authlib: concurrent refresh");
    let client = discover(&s.issuer, public()).await;
    let (tokens, _) = code_flow(&client, "profile offline_access", None).await;
    let initial = TokenSet::from_response(
        &tokens,
        &Scope::parse("profile offline_access").unwrap(),
        SystemTime::now(),
    )
    .with_expiry(Some(SystemTime::now() - Duration::from_secs(60)));
    let source = Arc::new(
        TokenSource::builder()
            .initial(initial)
            .provider(RefreshTokenProvider::new(client.clone()))
            .build(),
    );
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.token().await })
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for t in tasks {
        seen.insert(t.await.unwrap().unwrap().access_token.secret().to_owned());
    }
    assert_eq!(seen.len(), 1, "one refresh for 16 callers");
    let again = source.force_refresh().await.unwrap();
    assert!(
        !seen.contains(again.access_token.secret()),
        "the grant is alive"
    );
}

#[tokio::test]
async fn confidential_client_introspect_and_revoke() {
    let Some(s) = server() else { return };
    let _t = Timer::start("authlib: introspect, revoke");
    let client = discover(&s.issuer, confidential()).await;
    let (tokens, _) = code_flow(&client, "profile offline_access", None).await;
    let at = tokens.access_token.secret().to_owned();
    let rt = tokens.refresh_token.clone().unwrap();
    let info = client
        .introspect(&at, Some(TokenTypeHint::AccessToken))
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.sub.as_deref(), Some("alice"));
    assert_eq!(info.client_id.as_deref(), Some("authlib-confidential"));
    assert_eq!(
        info.scope,
        Some(Scope::parse("profile offline_access").unwrap())
    );
    client
        .revoke(Some(&tokens.access_token), Some(&rt))
        .await
        .unwrap();
    for token in [at.as_str(), rt.secret()] {
        assert!(!client.introspect(token, None).await.unwrap().active);
    }
    assert!(
        client
            .refresh(&rt, None)
            .await
            .unwrap_err()
            .is_invalid_grant()
    );
}

#[tokio::test]
async fn client_credentials_with_basic_auth_and_a_secret_with_delimiters_and_a_space() {
    let Some(s) = server() else { return };
    let _t = Timer::start("authlib: client credentials");
    for creds in [confidential(), special()] {
        let id = creds.client_id().as_str().to_owned();
        let client = discover(&s.issuer, creds).await;
        let tokens = client
            .client_credentials(Some(Scope::parse("api:read").unwrap()))
            .await
            .unwrap_or_else(|e| panic!("{id}: {e:?}"));
        assert_eq!(tokens.scope, Some(Scope::parse("api:read").unwrap()));
        let info = client
            .introspect(tokens.access_token.secret(), None)
            .await
            .unwrap();
        assert!(info.active, "{id}");
    }
}

#[test]
fn cli_login_token_curl_refresh_logout() {
    let Some(s) = server() else { return };
    if !has_tool("curl") {
        skip::<()>("curl", "curl is not installed");
        return;
    }
    let _t = Timer::start("authlib: CLI");
    let env = CliEnv::with_curl();
    ok(&env.run(&[
        "login",
        "--issuer",
        &s.issuer,
        "--client-id",
        "authlib-public",
        "--scope",
        "profile offline_access",
        "--timeout",
        "30s",
    ]));
    let token = ok(&env.run(&["token"]));
    let me = ok(&env.run(&["curl", &format!("{}/api/me", s.issuer)]));
    assert!(me.contains("\"sub\":\"alice\""), "{me}");
    ok(&env.run(&["refresh"]));
    let fresh = ok(&env.run(&["token"]));
    assert_ne!(fresh, token);
    let me = ok(&env.run(&["curl", &format!("{}/api/me", s.issuer)]));
    assert!(me.contains("alice"), "{me}");
    ok(&env.run(&["logout"]));
    assert_eq!(env.run(&["token"]).status.code(), Some(3));
    let o = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {}", fresh.trim()))
        .arg(format!("{}/api/me", s.issuer))
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "401", "revoked at the server");
}

#[test]
fn cli_client_credentials_with_the_special_secret() {
    let Some(s) = server() else { return };
    let _t = Timer::start("authlib: CLI client credentials");
    let env = CliEnv::with_curl();
    let o = env
        .cmd(&[
            "client-credentials",
            "--issuer",
            &s.issuer,
            "--client-id",
            "authlib-special",
            "--scope",
            "api:read",
        ])
        .env("AUTHFLOW_CLIENT_SECRET", SPECIAL_SECRET)
        .output()
        .unwrap();
    let token = ok(&o);
    assert_eq!(token.lines().count(), 1, "{token}");
}
