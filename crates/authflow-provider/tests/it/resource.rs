use std::time::Duration;

use authflow::protocol::www_authenticate::parse_challenges;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{auto, start};

fn challenge(resp: &reqwest::Response) -> authflow::protocol::Challenge {
    let h = resp.headers()["www-authenticate"].to_str().unwrap();
    let mut c = parse_challenges(h).unwrap();
    assert_eq!(c.len(), 1);
    c.remove(0)
}

#[tokio::test]
async fn missing_and_invalid_tokens_get_bearer_challenges() {
    let s = auto().await;
    let resp = s.http.get(s.url("/api/me")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let c = challenge(&resp);
    assert_eq!(c.scheme(), "Bearer");
    assert_eq!(
        c.error(),
        None,
        "RFC 6750 §3.1: no error code without a token"
    );
    assert_eq!(
        c.resource_metadata(),
        Some(format!("{}/.well-known/oauth-protected-resource", s.base).as_str())
    );
    for token in ["garbage", "a.b.c"] {
        let resp = s.api(Method::GET, "/api/me", token).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(challenge(&resp).error(), Some("invalid_token"));
    }
    // Malformed Authorization headers: 400 invalid_request (RFC 6750 §3.1).
    for value in ["Bearer", "Bearer ", "Bearer  \t "] {
        let resp = s
            .http
            .get(s.url("/api/me"))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{value}");
        assert_eq!(challenge(&resp).error(), Some("invalid_request"));
    }
    // A token signed by another provider.
    let other = auto().await;
    let (_, v) = other.service_token(None).await;
    let resp = s
        .api(Method::GET, "/api/me", v["access_token"].as_str().unwrap())
        .await;
    assert_eq!(challenge(&resp).error(), Some("invalid_token"));
}

#[tokio::test]
async fn scopes_are_enforced_with_insufficient_scope() {
    let s = auto().await;
    let (_, v) = s.service_token(Some("api:read")).await;
    let read_only = v["access_token"].as_str().unwrap().to_owned();
    let resp = s.api(Method::GET, "/api/data", &read_only).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = s.api(Method::POST, "/api/data", &read_only).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let c = challenge(&resp);
    assert_eq!(c.error(), Some("insufficient_scope"));
    assert_eq!(c.param("scope"), Some("api:write"));
    let (_, v) = s.service_token(Some("api:write")).await;
    let write_only = v["access_token"].as_str().unwrap().to_owned();
    let resp = s.api(Method::GET, "/api/data", &write_only).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(challenge(&resp).param("scope"), Some("api:read"));
    let resp = s
        .http
        .post(s.url("/api/data"))
        .bearer_auth(&write_only)
        .body("{\"x\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let me: Value = s
        .api(Method::GET, "/api/me", &write_only)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["sub"], "demo-service");
}

#[tokio::test]
async fn expired_tokens_are_invalid() {
    let s = start(|b| b.access_token_ttl(Duration::from_secs(1))).await;
    let (_, v) = s.service_token(None).await;
    assert_eq!(v["expires_in"], 1);
    let at = v["access_token"].as_str().unwrap();
    assert_eq!(
        s.api(Method::GET, "/api/me", at).await.status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let resp = s.api(Method::GET, "/api/me", at).await;
    assert_eq!(challenge(&resp).error(), Some("invalid_token"));
}

#[tokio::test]
async fn userinfo_needs_a_user_token_with_openid() {
    let s = auto().await;
    let (code, verifier) = s.cli_code("openid profile email").await;
    let (_, t) = s.exchange_cli(&code, &verifier).await;
    let v: Value = s
        .api(
            Method::GET,
            "/userinfo",
            t["access_token"].as_str().unwrap(),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["sub"], "alice");
    assert_eq!(v["email"], "alice@example.test");
    assert_eq!(v["name"], "Alice Example");
    let (_, svc) = s.service_token(None).await;
    let resp = s
        .api(
            Method::GET,
            "/userinfo",
            svc["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(challenge(&resp).param("scope"), Some("openid"));
}
