//! Interop: a third-party client, oauth2-rs v5, against the provider.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse, TokenUrl,
};

use crate::support::{CLI_REDIRECT, auto, query};

fn http() -> oauth2::reqwest::Client {
    oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn oauth2_rs_code_pkce_refresh_and_client_credentials() {
    let s = auto().await;
    let http = http();
    let client = BasicClient::new(ClientId::new("authflow-cli".into()))
        .set_auth_uri(AuthUrl::new(s.url("/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(s.url("/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(CLI_REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("api:read".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let resp = http.get(url).send().await.unwrap();
    let q = query(resp.headers()["location"].to_str().unwrap());
    assert_eq!(&q["state"], csrf.secret());
    assert_eq!(q["iss"], s.base);
    let token = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let rt = token.refresh_token().unwrap().clone();
    let refreshed = client
        .exchange_refresh_token(&rt)
        .request_async(&http)
        .await
        .unwrap();
    assert!(refreshed.refresh_token().is_some());
    assert_ne!(refreshed.refresh_token().unwrap().secret(), rt.secret());
    let me = s
        .api(
            reqwest::Method::GET,
            "/api/data",
            refreshed.access_token().secret(),
        )
        .await;
    assert_eq!(me.status(), reqwest::StatusCode::OK);
    // Reuse of the rotated token fails.
    assert!(
        client
            .exchange_refresh_token(&rt)
            .request_async(&http)
            .await
            .is_err()
    );

    let service = BasicClient::new(ClientId::new("demo-service".into()))
        .set_client_secret(ClientSecret::new("demo-service-secret".into()))
        .set_token_uri(TokenUrl::new(s.url("/token")).unwrap());
    let t = service
        .exchange_client_credentials()
        .add_scope(Scope::new("api:read".into()))
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(t.expires_in(), Some(std::time::Duration::from_secs(3600)));
    let bad = BasicClient::new(ClientId::new("demo-service".into()))
        .set_client_secret(ClientSecret::new("nope".into()))
        .set_token_uri(TokenUrl::new(s.url("/token")).unwrap());
    assert!(
        bad.exchange_client_credentials()
            .request_async(&http)
            .await
            .is_err()
    );
}
