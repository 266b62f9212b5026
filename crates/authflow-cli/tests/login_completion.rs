//! The library's one login-completion path (`OAuthClient::complete_login*`) against the
//! embedded provider on 127.0.0.1:0: the rule set of `authflow::client` ("Finishing a
//! login"), each rule seen succeed or refuse. The provider auto-approves as alice, so the
//! test reads the redirect from `/authorize` itself, as a web application's callback or
//! `authflow login --paste` would receive it.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use authflow::client::{EndpointKind, Endpoints};
use authflow::protocol::id_token::IdTokenError;
use authflow::protocol::{CallbackError, Credentials, PendingAuthorization};
use authflow::random::OsRandom;
use authflow::{ClientId, ClientSecret, Error, IssuerUrl, Nonce, OAuthClient, RedirectUri, Scope};
use authflow_provider::Provider;
use url::Url;

/// A demo provider auto-approving as alice, served until the test's runtime ends.
async fn provider() -> IssuerUrl {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = IssuerUrl::new(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let provider = Provider::builder()
        .demo()
        .issuer(issuer.clone())
        .auto_approve(Some("alice".into()))
        .device_interval(std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, provider.router()).await });
    issuer
}

fn public() -> Credentials {
    Credentials::public(ClientId::new("authflow-cli").unwrap())
}

async fn discover(issuer: &IssuerUrl) -> OAuthClient {
    OAuthClient::builder(public())
        .discover(issuer)
        .await
        .unwrap()
}

/// Starts a login for `scope` and returns the flow and the redirect the provider sends
/// the browser to (nothing listens there: the test hands it to the client itself).
async fn authorize(client: &OAuthClient, scope: &str) -> (PendingAuthorization, Url) {
    // Any port is fine for a loopback redirect (RFC 8252 §7.3).
    let redirect = RedirectUri::new("http://127.0.0.1:9/callback").unwrap();
    let (url, pending) = client
        .authorization_request(redirect)
        .unwrap()
        .scope(Scope::parse(scope).unwrap())
        .build(&mut OsRandom)
        .unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = browser.get(url.as_str()).send().await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let location = resp.headers()["location"].to_str().unwrap();
    (pending, Url::parse(location).unwrap())
}

/// `callback` with one query parameter replaced.
fn with_param(callback: &Url, name: &str, value: &str) -> Url {
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    let mut out = callback.clone();
    out.query_pairs_mut().clear().extend_pairs(pairs);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openid_login_carries_verified_claims_and_the_tokens() {
    let issuer = provider().await;
    let client = discover(&issuer).await;
    let (pending, callback) = authorize(&client, "openid profile api:read offline_access").await;
    let login = client.complete_login(&pending, &callback).await.unwrap();
    let claims = login.claims.expect("verified claims");
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.iss, issuer.as_issuer_str());
    assert_eq!(claims.aud, ["authflow-cli"]);
    assert!(login.tokens.refresh_token.is_some());
    assert!(login.tokens.id_token.is_some());
    assert!(
        login
            .tokens
            .scope
            .as_ref()
            .is_some_and(|s| s.contains("api:read"))
    );
    // The code was used once: the same redirect cannot log in again.
    let again = client
        .complete_login(&pending, &callback)
        .await
        .unwrap_err();
    assert!(again.is_invalid_grant(), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_oauth_login_needs_no_id_token() {
    let issuer = provider().await;
    let client = discover(&issuer).await;
    let (pending, callback) = authorize(&client, "api:read").await;
    let login = client.complete_login(&pending, &callback).await.unwrap();
    assert!(login.claims.is_none());
    assert!(login.tokens.id_token.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_that_fails_its_checks_never_uses_the_code() {
    let issuer = provider().await;
    let client = discover(&issuer).await;
    let (pending, callback) = authorize(&client, "openid").await;

    let forged = with_param(&callback, "state", "forged");
    match client.complete_login(&pending, &forged).await {
        Err(Error::Callback(CallbackError::StateMismatch)) => {}
        other => panic!("{other:?}"),
    }
    let mixed_up = with_param(&callback, "iss", "https://evil.example");
    match client.complete_login(&pending, &mixed_up).await {
        Err(Error::Callback(CallbackError::IssuerMismatch { found, .. })) => {
            assert_eq!(found, "https://evil.example");
        }
        other => panic!("{other:?}"),
    }
    // Neither refusal spent the code.
    let login = client.complete_login(&pending, &callback).await.unwrap();
    assert_eq!(login.claims.unwrap().sub, "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_started_at_one_issuer_is_refused_at_another() {
    let (a, b) = (provider().await, provider().await);
    let at_a = discover(&a).await;
    let at_b = discover(&b).await;
    let (pending, callback) = authorize(&at_a, "openid").await;
    let code = pending.validate_callback(&callback).unwrap();
    match at_b.complete_login_code(&pending, code).await {
        Err(e @ Error::MixUp { .. }) => {
            assert!(e.is_login_refused());
            assert!(e.to_string().contains(a.as_issuer_str()), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_with_another_nonce_is_refused() {
    let issuer = provider().await;
    let client = discover(&issuer).await;
    let (mut pending, callback) = authorize(&client, "openid").await;
    pending.nonce = Some(Nonce::new("not-the-nonce-that-was-sent").unwrap());
    match client.complete_login(&pending, &callback).await {
        Err(Error::IdToken(IdTokenError::Claim { claim, .. })) => assert_eq!(claim, "nonce"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_is_never_accepted_unverified() {
    let issuer = provider().await;
    let discovered = discover(&issuer).await;
    // The same server, configured by hand without its jwks_uri.
    let mut endpoints = Endpoints::from_metadata(discovered.metadata().unwrap());
    endpoints.jwks = None;
    let client = OAuthClient::builder(public())
        .endpoints(endpoints)
        .issuer(issuer.clone())
        .build()
        .unwrap();
    let (pending, callback) = authorize(&client, "openid api:read").await;
    match client.complete_login(&pending, &callback).await {
        Err(e @ Error::MissingEndpoint(EndpointKind::Jwks)) => {
            assert!(e.is_config());
            assert!(e.to_string().contains("jwks_uri"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // Refused before the exchange: the code is still good, no tokens were left at the server.
    let login = discovered
        .complete_login(&pending, &callback)
        .await
        .unwrap();
    assert!(login.claims.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_requested_without_an_id_token_is_refused() {
    let issuer = provider().await;
    let service = OAuthClient::builder(Credentials::secret_basic(
        ClientId::new("demo-service").unwrap(),
        ClientSecret::new("demo-service-secret").unwrap(),
    ))
    .discover(&issuer)
    .await
    .unwrap();
    // A grant that never carries an ID token, finished as a login that asked for `openid`.
    let resp = service
        .client_credentials(Some(Scope::parse("api:read").unwrap()))
        .await
        .unwrap();
    let asked = Scope::parse("openid api:read").unwrap();
    match service.complete_login_response(&resp, &asked, None).await {
        Err(Error::MissingIdToken) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_login_is_finished_by_the_same_rules() {
    let issuer = provider().await;
    let client = discover(&issuer).await;
    let scope = Scope::parse("openid api:read").unwrap();
    let device = client.device_authorization(Some(&scope)).await.unwrap();
    // The user opens verification_uri_complete; the provider approves as alice.
    let page = reqwest::get(device.verification_uri_complete.clone().unwrap())
        .await
        .unwrap();
    assert!(page.status().is_success(), "{}", page.status());
    let resp = client.poll_device_token(&device).await.unwrap();
    let login = client
        .complete_login_response(&resp, &scope, None)
        .await
        .unwrap();
    assert_eq!(login.claims.unwrap().sub, "alice");
}
