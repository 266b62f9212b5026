//! authflow (library and CLI) against panva's oidc-provider, OpenID Certified, started once
//! for this test binary from `tests/interop/oidc-provider/server.mjs` on 127.0.0.1:0.
//!
//! Skips with a printed reason when `node` or the npm package (bench/oidc-provider, `npm ci`)
//! is missing, unless AUTHFLOW_REQUIRE_TOOLS is set (then it fails).
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

const SPECIAL_SECRET: &str = "s:%+&=/ecret";

fn server() -> Option<&'static ServerProcess> {
    static SERVER: OnceLock<Result<ServerProcess, Missing>> = OnceLock::new();
    shared_server(&SERVER, || {
        if !has_tool("node") {
            return Err(Missing::new("node", "node is not installed"));
        }
        let package = repo().join("bench/oidc-provider/node_modules/oidc-provider/package.json");
        if !package.is_file() {
            return Err(Missing::new(
                "oidc-provider",
                "oidc-provider is not installed (npm ci in bench/oidc-provider)",
            ));
        }
        let mut cmd = Command::new("node");
        cmd.arg(repo().join("tests/interop/oidc-provider/server.mjs"))
            .args(["0", "--exit-on-stdin-close"]);
        Ok(ServerProcess::start("oidc-provider", cmd))
    })
}

fn public() -> Credentials {
    Credentials::public(ClientId::new("interop-public").unwrap())
}

fn confidential() -> Credentials {
    Credentials::secret_basic(
        ClientId::new("interop-confidential").unwrap(),
        ClientSecret::new("interop-confidential-secret").unwrap(),
    )
}

fn special() -> Credentials {
    Credentials::secret_basic(
        ClientId::new("interop-special").unwrap(),
        ClientSecret::new(SPECIAL_SECRET).unwrap(),
    )
}

#[tokio::test]
async fn discovery_code_flow_with_pkce_id_token_and_userinfo() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider: code flow");
    let client = discover(&s.issuer, public()).await;
    assert_eq!(client.issuer().unwrap().as_issuer_str(), s.issuer);
    let (tokens, pending) = code_flow(&client, "openid profile email offline_access", None).await;
    assert!(tokens.refresh_token.is_some(), "offline_access consented");
    let id_token = tokens.id_token.as_ref().expect("an ID token for openid");
    let claims = client
        .verify_id_token(id_token, pending.nonce.as_ref(), Some(&tokens.access_token))
        .await
        .unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.iss, s.issuer);
    assert_eq!(claims.aud, vec!["interop-public".to_owned()]);
    let info = client
        .userinfo(&tokens.access_token, Some(&claims.sub))
        .await
        .unwrap();
    assert_eq!(info["email"], "alice@example.test");
    assert_eq!(info["name"], "Alice Example");
}

#[tokio::test]
async fn confidential_client_code_flow_introspect_and_revoke() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider: confidential, introspect, revoke");
    let client = discover(&s.issuer, confidential()).await;
    let (tokens, _) = code_flow(&client, "openid offline_access", None).await;
    let at = tokens.access_token.secret().to_owned();
    let rt = tokens.refresh_token.clone().unwrap();

    let info = client
        .introspect(&at, Some(TokenTypeHint::AccessToken))
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.sub.as_deref(), Some("alice"));
    assert_eq!(info.client_id.as_deref(), Some("interop-confidential"));
    let info = client
        .introspect(rt.secret(), Some(TokenTypeHint::RefreshToken))
        .await
        .unwrap();
    assert!(info.active);

    client
        .revoke(Some(&tokens.access_token), Some(&rt))
        .await
        .unwrap();
    for token in [at.as_str(), rt.secret()] {
        let info = client.introspect(token, None).await.unwrap();
        assert!(!info.active, "revoked tokens are inactive");
    }
    let err = client.refresh(&rt, None).await.unwrap_err();
    assert!(err.is_invalid_grant(), "{err:?}");
    // Unknown tokens count as revoked (RFC 7009 §2.2).
    client.revoke_token("no-such-token", None).await.unwrap();
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_grant() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider: rotation and reuse detection");
    let client = discover(&s.issuer, public()).await;
    let (tokens, _) = code_flow(&client, "openid offline_access", None).await;
    let rt1 = tokens.refresh_token.unwrap();
    let second = client.refresh(&rt1, None).await.unwrap();
    let rt2 = second.refresh_token.expect("a rotated refresh token");
    assert_ne!(rt1.secret(), rt2.secret());
    assert_ne!(second.access_token.secret(), tokens.access_token.secret());

    // Reuse of the rotated token: refused, and the whole grant goes with it.
    let err = client.refresh(&rt1, None).await.unwrap_err();
    assert!(err.is_invalid_grant(), "{err:?}");
    let err = client.refresh(&rt2, None).await.unwrap_err();
    assert!(
        err.is_invalid_grant(),
        "the newest refresh token is revoked too: {err:?}"
    );
}

#[tokio::test]
async fn concurrent_refresh_through_a_token_source_keeps_the_grant() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider: concurrent refresh");
    let client = discover(&s.issuer, public()).await;
    let (tokens, _) = code_flow(&client, "openid offline_access", None).await;
    let first_at = tokens.access_token.secret().to_owned();
    // Already expired: every caller wants a refresh at once.
    let initial = TokenSet::from_response(
        &tokens,
        &Scope::parse("openid offline_access").unwrap(),
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
        let set = t
            .await
            .unwrap()
            .expect("no refresh failed (no reuse detected)");
        seen.insert(set.access_token.secret().to_owned());
    }
    assert_eq!(seen.len(), 1, "one refresh served all 16 callers");
    assert!(!seen.contains(&first_at));
    // The grant is alive: the current refresh token still refreshes.
    let again = source.force_refresh().await.unwrap();
    assert!(!seen.contains(again.access_token.secret()));
    let info = client.userinfo(&again.access_token, None).await.unwrap();
    assert_eq!(info["sub"], "alice");
}

#[tokio::test]
async fn client_credentials_with_basic_auth_and_a_secret_full_of_delimiters() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider: client credentials");
    for creds in [confidential(), special()] {
        let id = creds.client_id().as_str().to_owned();
        // The clients are registered for client_secret_basic only: oidc-provider refuses
        // any other method, so a fallback to post cannot hide a Basic encoding bug.
        let client = discover(&s.issuer, creds).await;
        let tokens = client.client_credentials(None).await.unwrap();
        let info = client
            .introspect(tokens.access_token.secret(), None)
            .await
            .unwrap();
        assert!(info.active, "{id}");
        assert_eq!(info.client_id.as_deref(), Some(id.as_str()));
    }
    let wrong = discover(
        &s.issuer,
        Credentials::secret_basic(
            ClientId::new("interop-special").unwrap(),
            ClientSecret::new("s:%+&=/ecreT").unwrap(),
        ),
    )
    .await;
    let err = wrong.client_credentials(None).await.unwrap_err();
    assert!(err.is_invalid_client(), "{err:?}");
}

#[tokio::test]
async fn device_flow_approved_in_the_verification_page() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider: device flow");
    let client = discover(&s.issuer, public()).await;
    let device = client
        .device_authorization(Some(&Scope::parse("openid offline_access").unwrap()))
        .await
        .unwrap();
    let complete = device
        .verification_uri_complete
        .clone()
        .expect("oidc-provider sends verification_uri_complete");
    // The user: opens the page, confirms the code (a form with an xsrf token), and is
    // logged in and consents through the interaction.
    let ua = user_agent();
    let page = ua
        .get(&complete)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let field = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = page
            .find(&marker)
            .unwrap_or_else(|| panic!("{name} in {page}"))
            + marker.len();
        page[start..][..page[start..].find('"').unwrap()].to_owned()
    };
    let form = [
        ("xsrf", field("xsrf")),
        ("user_code", field("user_code")),
        ("confirm", "yes".to_owned()),
    ];
    let poll = {
        let client = client.clone();
        let device = device.clone();
        tokio::spawn(async move { client.poll_device_token(&device).await })
    };
    let done = ua
        .post(format!("{}/device", s.issuer))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(done.status().is_success());
    assert!(done.text().await.unwrap().contains("Sign-in Success"));
    let tokens = tokio::time::timeout(Duration::from_secs(20), poll)
        .await
        .expect("polling ends")
        .unwrap()
        .unwrap();
    assert!(tokens.refresh_token.is_some());
    let claims = client
        .verify_id_token(tokens.id_token.as_ref().unwrap(), None, None)
        .await
        .unwrap();
    assert_eq!(claims.sub, "alice");
}

#[test]
fn cli_login_token_curl_userinfo_refresh_logout_with_the_public_client() {
    let Some(s) = server() else { return };
    if !has_tool("curl") {
        skip::<()>("curl", "curl is not installed");
        return;
    }
    let _t = Timer::start("oidc-provider: CLI, public client");
    let env = CliEnv::with_curl();
    ok(&env.run(&[
        "login",
        "--issuer",
        &s.issuer,
        "--client-id",
        "interop-public",
        "--scope",
        "openid profile offline_access",
        "--timeout",
        "30s",
    ]));
    let token = ok(&env.run(&["token"]));
    assert_eq!(token.lines().count(), 1, "{token}");
    let me = ok(&env.run(&["curl", &format!("{}/me", s.issuer)]));
    assert!(me.contains("\"sub\":\"alice\""), "{me}");
    let info = ok(&env.run(&["userinfo"]));
    assert!(info.contains("Alice Example"), "{info}");
    let status: serde_json::Value =
        serde_json::from_str(&ok(&env.run(&["status", "--json"]))).unwrap();
    assert_eq!(status["logged_in"], true);
    assert_eq!(status["user"], "alice");
    assert_eq!(status["refresh_token"], true);

    ok(&env.run(&["refresh"]));
    let fresh = ok(&env.run(&["token"]));
    assert_ne!(fresh, token, "rotated");
    ok(&env.run(&["logout"]));
    let o = env.run(&["token"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    // Revoked at the server: userinfo refuses the last access token.
    let o = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {}", fresh.trim()))
        .arg(format!("{}/me", s.issuer))
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "401");
}

#[test]
fn cli_login_with_a_secret_full_of_delimiters() {
    let Some(s) = server() else { return };
    if !has_tool("curl") {
        skip::<()>("curl", "curl is not installed");
        return;
    }
    let _t = Timer::start("oidc-provider: CLI, special secret");
    let env = CliEnv::with_curl();
    let login = env
        .cmd(&[
            "login",
            "--issuer",
            &s.issuer,
            "--client-id",
            "interop-special",
            "--scope",
            "openid offline_access",
            "--timeout",
            "30s",
        ])
        .env("AUTHFLOW_CLIENT_SECRET", SPECIAL_SECRET)
        .output()
        .unwrap();
    ok(&login);
    assert!(!text(&login.stderr).contains(SPECIAL_SECRET));
    let with_secret = |args: &[&str]| {
        env.cmd(args)
            .env("AUTHFLOW_CLIENT_SECRET", SPECIAL_SECRET)
            .output()
            .unwrap()
    };
    let token = ok(&with_secret(&["token"]));
    let info = ok(&with_secret(&["introspect", "--json"]));
    assert!(
        info.contains("\"active\":true") || info.contains("\"active\": true"),
        "{info}"
    );
    ok(&with_secret(&["refresh"]));
    assert_ne!(ok(&with_secret(&["token"])), token);
    ok(&with_secret(&["logout"]));
}
