//! The library's own async client against the provider.

use authflow::client::OAuthClient;
use authflow::protocol::Credentials;
use authflow::random::OsRandom;
use authflow::types::{ClientId, ClientSecret, IssuerUrl, RedirectUri, Scope};
use reqwest::StatusCode;

use crate::support::{CLI_REDIRECT, auto};

#[tokio::test]
async fn code_flow_refresh_revoke_with_the_library_client() {
    let s = auto().await;
    let issuer = IssuerUrl::new(&s.base).unwrap();
    let cli = OAuthClient::builder(Credentials::public(ClientId::new("authflow-cli").unwrap()))
        .discover(&issuer)
        .await
        .unwrap();
    let (url, pending) = cli
        .authorization_request(RedirectUri::new(CLI_REDIRECT).unwrap())
        .unwrap()
        .scope(Scope::parse("openid api:read api:write").unwrap())
        .build(&mut OsRandom)
        .unwrap();
    let resp = s.http.get(url.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let callback = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let tokens = cli.exchange_callback(&pending, &callback).await.unwrap();
    // The ID token is RS256 (OIDC Discovery §3) and the library verifies it, with nonce
    // and at_hash (SHA-256 for RS256).
    let id_token = tokens.id_token.clone().expect("an ID token for openid");
    let claims = cli
        .verify_id_token(
            &id_token,
            pending.nonce.as_ref(),
            Some(&tokens.access_token),
        )
        .await
        .unwrap();
    assert_eq!(claims.sub, "alice");
    assert!(claims.all.contains_key("at_hash"));
    let header = jsonwebtoken::decode_header(id_token.secret()).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some(s.provider.id_token_key().kid()));
    let rt = tokens.refresh_token.clone().unwrap();
    let refreshed = cli
        .refresh(&rt, Some(Scope::parse("api:read").unwrap()))
        .await
        .unwrap();
    assert!(refreshed.scope.as_ref().unwrap().contains("api:read"));
    let rt2 = refreshed.refresh_token.clone().unwrap();
    assert_ne!(rt.secret(), rt2.secret());
    // Reusing the rotated token is an OAuth error from the library's point of view.
    assert!(cli.refresh(&rt, None).await.is_err());
    // The grant is now gone.
    assert!(cli.refresh(&rt2, None).await.is_err());

    // A fresh login, revoked through the library.
    let (url, pending) = cli
        .authorization_request(RedirectUri::new(CLI_REDIRECT).unwrap())
        .unwrap()
        .scope(Scope::parse("api:read").unwrap())
        .build(&mut OsRandom)
        .unwrap();
    let resp = s.http.get(url.as_str()).send().await.unwrap();
    let callback = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let tokens = cli.exchange_callback(&pending, &callback).await.unwrap();
    cli.revoke(Some(&tokens.access_token), tokens.refresh_token.as_ref())
        .await
        .unwrap();
    let resp = s
        .api(
            reqwest::Method::GET,
            "/api/me",
            tokens.access_token.secret(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn client_credentials_and_introspection_with_the_library_client() {
    let s = auto().await;
    let issuer = IssuerUrl::new(&s.base).unwrap();
    let svc = OAuthClient::builder(Credentials::secret_basic(
        ClientId::new("demo-service").unwrap(),
        ClientSecret::new("demo-service-secret").unwrap(),
    ))
    .discover(&issuer)
    .await
    .unwrap();
    let t = svc
        .client_credentials(Some(Scope::parse("api:read").unwrap()))
        .await
        .unwrap();
    assert!(t.expires_in.is_some());
    let rs = OAuthClient::builder(Credentials::secret_post(
        ClientId::new(crate::support::RS.0).unwrap(),
        ClientSecret::new(crate::support::RS.1).unwrap(),
    ))
    .discover(&issuer)
    .await
    .unwrap();
    let info = rs.introspect(t.access_token.secret(), None).await.unwrap();
    assert!(info.active);
    assert!(info.scope.unwrap().contains("api:read"));
    // The service may introspect its own token too.
    let info = svc.introspect(t.access_token.secret(), None).await.unwrap();
    assert!(info.active);
    let bad = OAuthClient::builder(Credentials::secret_basic(
        ClientId::new("demo-service").unwrap(),
        ClientSecret::new("wrong").unwrap(),
    ))
    .discover(&issuer)
    .await
    .unwrap();
    assert!(bad.client_credentials(None).await.is_err());
}
