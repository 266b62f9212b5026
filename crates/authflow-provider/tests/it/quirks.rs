use authflow_provider::{Quirk, Quirks};
use reqwest::{Method, StatusCode};

use crate::support::{self, CLI_REDIRECT, Server, pkce, start};

async fn with(q: Quirk) -> Server {
    start(|b| {
        b.auto_approve(Some("alice".into()))
            .quirks(Quirks::none().with(q))
    })
    .await
}

#[tokio::test]
async fn error_in_200() {
    let s = with(Quirk::ErrorIn200).await;
    let (status, _, v) = s
        .token(
            &[("grant_type", "client_credentials")],
            Some(("demo-service", "bad")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["error"], "invalid_client");
}

#[tokio::test]
async fn form_encoded_token_response() {
    let s = with(Quirk::FormEncodedTokenResponse).await;
    let resp = s
        .http
        .post(s.url("/token"))
        .basic_auth("demo-service", Some("demo-service-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    let body = resp.text().await.unwrap();
    let q = support::query(&format!("http://x/?{body}"));
    assert_eq!(q["token_type"], "Bearer");
    assert_eq!(q["expires_in"], "3600");
    assert!(q["access_token"].contains('.'));
}

#[tokio::test]
async fn expires_in_as_string() {
    let s = with(Quirk::ExpiresInAsString).await;
    let (_, v) = s.service_token(None).await;
    assert_eq!(v["expires_in"], "3600");
}

#[tokio::test]
async fn no_iss_on_redirect() {
    let s = with(Quirk::NoIssOnRedirect).await;
    let (_, ch) = pkce();
    let q = s
        .authorize_redirect(&[
            ("response_type", "code"),
            ("client_id", "authflow-cli"),
            ("redirect_uri", CLI_REDIRECT),
            ("code_challenge", &ch),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert!(q.contains_key("code") && !q.contains_key("iss"));
    let meta: serde_json::Value = s
        .http
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["authorization_response_iss_parameter_supported"],
        false
    );
}

#[tokio::test]
async fn no_refresh_rotation() {
    let s = with(Quirk::NoRefreshRotation).await;
    let (code, verifier) = s.cli_code("api:read").await;
    let (_, t) = s.exchange_cli(&code, &verifier).await;
    let rt = t["refresh_token"].as_str().unwrap();
    for _ in 0..3 {
        let (status, v) = s.refresh_cli(rt, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(v.get("refresh_token").is_none());
    }
}

#[tokio::test]
async fn lowercase_bearer_challenge() {
    let s = with(Quirk::LowercaseBearerChallenge).await;
    let resp = s.api(Method::GET, "/api/me", "garbage").await;
    let h = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(h.starts_with("bearer "), "{h}");
}

#[tokio::test]
async fn lowercase_token_type() {
    let s = with(Quirk::LowercaseTokenType).await;
    let (_, v) = s.service_token(None).await;
    assert_eq!(v["token_type"], "bearer");
}

#[tokio::test]
async fn strict_by_default() {
    let s = start(|b| b).await;
    let (_, v) = s.service_token(None).await;
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
}
