//! Other people's clients against the embedded provider (on 127.0.0.1:0, auto-approving
//! as alice): the `openidconnect` crate (code + PKCE, ID token checked against our JWKS:
//! RS256 ID tokens beside the EdDSA access-token key) and a Python client on Authlib's
//! `OAuth2Session` (tests/interop/authlib/client.py: code + PKCE, ID token, refresh,
//! client credentials).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod interop;

use std::process::Command;
use std::time::Duration;

use authflow::types::{ClientId, ClientSecret, IssuerUrl, RedirectUri, Scope};
use authflow_provider::{ClientConfig, GrantType, Provider, UserConfig};
use interop::*;

const CLIENT: &str = "third-party";
const SECRET: &str = "third-party-secret";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// The provider with one confidential client for the third-party libraries.
async fn provider() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let provider = Provider::builder()
        .issuer(IssuerUrl::new(&issuer).unwrap())
        .client(
            ClientConfig::confidential(
                ClientId::new(CLIENT).unwrap(),
                ClientSecret::new(SECRET).unwrap(),
            )
            // Confidential clients get exact matching, port included (any port is for
            // public clients only); nothing listens there: the code is read from Location.
            .redirect_uri(RedirectUri::new(REDIRECT).unwrap())
            .grants([
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::ClientCredentials,
            ])
            .scope(Scope::parse("openid profile email offline_access api:read").unwrap()),
        )
        .user(
            UserConfig::new("alice", "alice-password")
                .name("Alice Example")
                .email("alice@example.test"),
        )
        .auto_approve(Some("alice".into()))
        .build()
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, provider.router()).await.unwrap() });
    issuer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openidconnect_crate_code_flow_with_pkce_and_id_token_validation() {
    use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
    use openidconnect::{
        AccessTokenHash, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse,
        PkceCodeChallenge, RedirectUrl, TokenResponse as _,
    };
    let _t = Timer::start("openidconnect crate");
    let issuer = provider().await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = CoreProviderMetadata::discover_async(
        openidconnect::IssuerUrl::new(issuer.clone()).unwrap(),
        &http,
    )
    .await
    .unwrap();
    let redirect = REDIRECT;
    let client = CoreClient::from_provider_metadata(
        metadata,
        openidconnect::ClientId::new(CLIENT.into()),
        Some(openidconnect::ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(openidconnect::Scope::new("profile".into()))
        .add_scope(openidconnect::Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    let mut location = url.to_string();
    for _ in 0..10 {
        let resp = http.get(&location).send().await.unwrap();
        assert!(
            resp.status().is_redirection(),
            "{location}: {}",
            resp.status()
        );
        let next = resp.headers()["location"].to_str().unwrap();
        location = url::Url::parse(&location)
            .unwrap()
            .join(next)
            .unwrap()
            .to_string();
        if location.starts_with(redirect) {
            break;
        }
    }
    let back = url::Url::parse(&location).unwrap();
    let q = |k: &str| {
        back.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(q("state").as_deref(), Some(csrf.secret().as_str()));
    let code = q("code").expect("a code on the redirect");

    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    assert!(token.refresh_token().is_some());
    let id_token = token.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).unwrap();
    assert_eq!(claims.subject().as_str(), "alice");
    assert_eq!(claims.issuer().as_str(), issuer);
    // at_hash binds the (EdDSA-signed JWT) access token to the RS256 ID token.
    let expected = claims.access_token_hash().expect("at_hash");
    let actual = AccessTokenHash::from_token(
        token.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual, expected);

    let refreshed = client
        .exchange_refresh_token(token.refresh_token().unwrap())
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.access_token().secret(),
        token.access_token().secret()
    );
    let cc = client
        .exchange_client_credentials()
        .unwrap()
        .add_scope(openidconnect::Scope::new("api:read".into()))
        .request_async(&http)
        .await
        .unwrap();
    assert!(!cc.access_token().secret().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_authlib_client_code_flow_refresh_and_client_credentials() {
    let python = venv_python();
    if !python.is_file() {
        skip::<()>(
            "authlib",
            &format!("the Python venv is missing ({})", python.display()),
        );
        return;
    }
    let _t = Timer::start("python authlib client");
    let issuer = provider().await;
    let script = repo().join("tests/interop/authlib/client.py");
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::from({
            let mut c = Command::new(python);
            c.arg(script).args([&issuer, CLIENT, SECRET]);
            c
        })
        .output(),
    )
    .await
    .expect("client.py finishes")
    .unwrap();
    let stdout = ok(&out);
    let seen: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(seen["sub"], "alice", "{seen}");
    assert_eq!(seen["api_sub"], "alice", "{seen}");
    assert_eq!(seen["id_token_alg"], "RS256", "{seen}");
    assert_eq!(seen["rotated"], true, "{seen}");
    assert_eq!(seen["iss_on_redirect"], true, "{seen}");
    assert_eq!(seen["client_credentials_scope"], "api:read", "{seen}");
}
