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

#[tokio::test]
async fn device_flow_with_the_library_client() {
    let s = crate::support::start(|b| {
        b.auto_approve(Some("alice".into()))
            .device_interval(std::time::Duration::from_secs(1))
    })
    .await;
    let issuer = IssuerUrl::new(&s.base).unwrap();
    let cli = OAuthClient::builder(Credentials::public(ClientId::new("authflow-cli").unwrap()))
        .discover(&issuer)
        .await
        .unwrap();
    let device = cli
        .device_authorization(Some(&Scope::parse("openid api:read").unwrap()))
        .await
        .unwrap();
    assert_eq!(device.interval, std::time::Duration::from_secs(1));
    let approve = device.verification_uri_complete.clone().unwrap();
    let http = s.http.clone();
    // The "user" approves after two polls or so.
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        let resp = http.get(approve).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    });
    let tokens = cli.poll_device_token(&device).await.unwrap();
    assert!(tokens.refresh_token.is_some());
    let claims = cli
        .verify_id_token(
            tokens.id_token.as_ref().unwrap(),
            None,
            Some(&tokens.access_token),
        )
        .await
        .unwrap();
    assert_eq!(claims.sub, "alice");
}

#[tokio::test]
async fn denied_device_flow_ends_polling_with_access_denied() {
    let s = crate::support::start(|b| b.device_interval(std::time::Duration::from_secs(1))).await;
    let issuer = IssuerUrl::new(&s.base).unwrap();
    let cli = OAuthClient::builder(Credentials::public(ClientId::new("authflow-cli").unwrap()))
        .discover(&issuer)
        .await
        .unwrap();
    let device = cli.device_authorization(None).await.unwrap();
    // Nobody approves within a short wait: still polling.
    let waited = tokio::time::timeout(
        std::time::Duration::from_millis(2500),
        cli.poll_device_token(&device),
    )
    .await;
    assert!(waited.is_err(), "still pending");
    // Deny through the pages (enter code, then cancel the login).
    let resp = s.http.get(s.url("/device")).send().await.unwrap();
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = resp.text().await.unwrap();
    let field = |html: &str, name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = html.find(&marker).unwrap() + marker.len();
        html[start..].split('"').next().unwrap().to_owned()
    };
    let login = s
        .http
        .post(s.url("/device"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", field(&html, "csrf")),
            ("user_code", device.user_code.clone()),
        ])
        .send()
        .await
        .unwrap();
    let login_cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = login.text().await.unwrap();
    s.http
        .post(s.url("/authorize/login"))
        .header("cookie", &login_cookie)
        .form(&[
            ("pending", field(&html, "pending")),
            ("csrf", field(&html, "csrf")),
            ("action", "cancel".into()),
        ])
        .send()
        .await
        .unwrap();
    let err = cli.poll_device_token(&device).await.unwrap_err();
    assert_eq!(err.oauth().map(|e| e.error.as_str()), Some("access_denied"));
}

#[tokio::test]
async fn token_exchange_with_the_library_client() {
    let s = crate::exchange::provider().await;
    let issuer = IssuerUrl::new(&s.base).unwrap();
    let (code, verifier) = s.cli_code("api:read api:write").await;
    let (_, t) = s.exchange_cli(&code, &verifier).await;
    let subject = authflow::types::AccessToken::new(t["access_token"].as_str().unwrap()).unwrap();
    let gateway = OAuthClient::builder(Credentials::secret_basic(
        ClientId::new(crate::exchange::GATEWAY.0).unwrap(),
        ClientSecret::new(crate::exchange::GATEWAY.1).unwrap(),
    ))
    .discover(&issuer)
    .await
    .unwrap();
    let exchanged = gateway
        .exchange_token(
            &subject,
            Some("https://downstream.example/"),
            Some(Scope::parse("api:read").unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(
        exchanged.scope.as_ref().map(ToString::to_string).as_deref(),
        Some("api:read")
    );
    assert!(exchanged.refresh_token.is_none());
    // A downstream API validates it with the library's resource server.
    let api =
        authflow::resource::ResourceServer::builder(issuer.clone(), "https://downstream.example/")
            .discover()
            .await
            .unwrap();
    let p = api.validate(exchanged.access_token.secret()).await.unwrap();
    assert_eq!(p.subject.as_deref(), Some("alice"));
    assert_eq!(p.client_id.as_deref(), Some("gateway"));
    // Asking for more than the subject token holds is an OAuth error.
    let err = gateway
        .exchange_token(&subject, None, Some(Scope::parse("openid").unwrap()))
        .await
        .unwrap_err();
    assert_eq!(err.oauth().map(|e| e.error.as_str()), Some("invalid_scope"));
}
