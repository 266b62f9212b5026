//! The authorization code flow with PKCE over real sockets: discovery, the authorization
//! redirect, the callback checks and the code exchange.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use authflow::client::Error;
use authflow::protocol::{CallbackError, Credentials, TokenType};
use authflow::types::Scope;
use support::*;

/// Runs discover → authorize → exchange and checks what the token endpoint received.
async fn full_flow(credentials: Credentials, expected_auth: &str) {
    let server = TestServer::start(Quirks::default()).await;
    let client = server.discover(credentials.clone()).await;
    let redirect = redirect_for(&credentials);
    let (pending, callback) = authorize(&client, redirect.clone(), "openid api:read").await;

    // The authorization request as the server saw it.
    let auth = &server.requests_to("/authorize")[0];
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(auth.query.as_deref().unwrap().as_bytes())
            .into_owned()
            .collect();
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(q("code_challenge_method"), Some("S256"));
    assert_eq!(
        q("code_challenge"),
        Some(pending.code_verifier.s256_challenge().as_str())
    );
    assert_eq!(q("redirect_uri"), Some(redirect.as_str()));
    assert_eq!(q("response_type"), Some("code"));

    assert_eq!(callback.as_str().split('?').next(), Some(redirect.as_str()));
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(server.base_url.as_str())
    );

    let tokens = client.exchange_callback(&pending, &callback).await.unwrap();
    assert!(tokens.access_token.secret().starts_with("AT-"));
    assert!(
        tokens
            .refresh_token
            .as_ref()
            .unwrap()
            .secret()
            .starts_with("RT-")
    );
    assert_eq!(tokens.token_type, TokenType::Bearer);
    assert_eq!(
        tokens.expires_in,
        Some(std::time::Duration::from_secs(3600))
    );
    assert_eq!(tokens.scope, Some(Scope::parse("openid api:read").unwrap()));

    let reqs = server.requests_to("/token");
    assert_eq!(reqs.len(), 1, "one token request, no retry");
    let t = &reqs[0];
    assert_eq!(t.method, http::Method::POST);
    assert_eq!(t.header("accept"), Some("application/json"));
    assert_eq!(
        t.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(t.param("grant_type"), Some("authorization_code"));
    assert_eq!(t.param("code"), query_param(&callback, "code").as_deref());
    assert_eq!(
        t.param("redirect_uri"),
        Some(redirect.as_str()),
        "exact redirect URI"
    );
    assert_eq!(
        t.param("code_verifier"),
        Some(pending.code_verifier.secret())
    );
    assert_eq!(t.auth_method(), expected_auth);
}

#[tokio::test]
async fn public_client_code_flow_with_pkce() {
    full_flow(public_credentials(), "none").await;
}

#[tokio::test]
async fn client_secret_basic_code_flow() {
    full_flow(basic_credentials(), "client_secret_basic").await;
}

#[tokio::test]
async fn client_secret_post_code_flow() {
    full_flow(post_credentials(), "client_secret_post").await;
}

#[tokio::test]
async fn basic_credentials_are_form_encoded_before_base64() {
    use base64::Engine as _;
    let server = TestServer::start(Quirks::default()).await;
    let client = server.manual_client(basic_credentials());
    client.client_credentials(None).await.unwrap();
    let header = server.requests_to("/token")[0]
        .header("authorization")
        .unwrap()
        .to_owned();
    let b64 = header.strip_prefix("Basic ").unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    // RFC 6749 §2.3.1, written out by hand rather than with the library's encoder; the
    // space as `%20`, which percent-only decoders (Authlib) read as a space too.
    assert_eq!(
        String::from_utf8(raw).unwrap(),
        "web-app:p%3Aa%25s%2Bs%26w%3Do%2Fr%20d"
    );
}

#[tokio::test]
async fn replayed_code_is_invalid_grant_with_fields_intact() {
    let server = TestServer::start(Quirks::default()).await;
    let client = server.discover(public_credentials()).await;
    let (pending, callback) = authorize(&client, loopback_redirect(), "api:read").await;
    let first = client.exchange_callback(&pending, &callback).await.unwrap();

    let err = client
        .exchange_callback(&pending, &callback)
        .await
        .unwrap_err();
    assert!(err.is_invalid_grant(), "{err:?}");
    let o = err.oauth().unwrap();
    assert_eq!(o.status, http::StatusCode::BAD_REQUEST);
    assert_eq!(o.error, "invalid_grant");
    assert_eq!(
        o.error_description.as_deref(),
        Some("the authorization code was already used")
    );
    assert_eq!(
        o.error_uri.as_deref(),
        Some("https://docs.as.example/errors#invalid_grant")
    );
    let mut secrets = server.issued_secrets();
    secrets.extend(pending_secrets(&pending));
    let text = assert_no_secrets(&err, &secrets);
    assert!(text.contains("already used"), "{text}");

    // The replay ended the grant the first exchange started.
    let confidential = server.manual_client(basic_credentials());
    let info = confidential
        .introspect(first.access_token.secret(), None)
        .await
        .unwrap();
    assert!(!info.active, "tokens from a replayed code must be revoked");
}

#[tokio::test]
async fn state_mismatch_never_reaches_the_token_endpoint() {
    let server = TestServer::start(Quirks::default()).await;
    let client = server.discover(public_credentials()).await;
    let (pending, callback) = authorize(&client, loopback_redirect(), "api:read").await;
    let mut forged = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "forged-state".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);

    let err = client
        .exchange_callback(&pending, &forged)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::StateMismatch)),
        "{err:?}"
    );
    let mut secrets = server.issued_secrets();
    secrets.extend(pending_secrets(&pending));
    assert_no_secrets(&err, &secrets);
    assert!(server.requests_to("/token").is_empty());
}

#[tokio::test]
async fn iss_from_another_server_is_refused() {
    let server = TestServer::start(Quirks {
        wrong_iss_on_redirect: true,
        ..Quirks::default()
    })
    .await;
    let client = server.discover(public_credentials()).await;
    let (pending, callback) = authorize(&client, loopback_redirect(), "api:read").await;
    let err = client
        .exchange_callback(&pending, &callback)
        .await
        .unwrap_err();
    match &err {
        Error::Callback(CallbackError::IssuerMismatch { expected, found }) => {
            assert_eq!(expected, &server.base_url);
            assert_eq!(found, "https://evil.example");
        }
        other => panic!("{other:?}"),
    }
    let mut secrets = server.issued_secrets();
    secrets.extend(pending_secrets(&pending));
    assert_no_secrets(&err, &secrets);
    assert!(server.requests_to("/token").is_empty());
}

#[tokio::test]
async fn missing_iss_is_refused_when_the_server_announces_it() {
    let server = TestServer::start(Quirks {
        omit_iss_on_redirect: true,
        ..Quirks::default()
    })
    .await;
    let client = server.discover(public_credentials()).await;
    let (pending, callback) = authorize(&client, loopback_redirect(), "api:read").await;
    let err = client
        .exchange_callback(&pending, &callback)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::MissingIssuer)),
        "{err:?}"
    );
    assert!(server.requests_to("/token").is_empty());
}

#[tokio::test]
async fn missing_iss_is_fine_when_the_server_never_sends_it() {
    let server = TestServer::start(Quirks {
        no_iss: true,
        ..Quirks::default()
    })
    .await;
    let client = server.discover(public_credentials()).await;
    let (pending, callback) = authorize(&client, loopback_redirect(), "api:read").await;
    assert_eq!(query_param(&callback, "iss"), None);
    client.exchange_callback(&pending, &callback).await.unwrap();
}

#[tokio::test]
async fn access_denied_surfaces_as_a_callback_error() {
    let server = TestServer::start(Quirks {
        deny: true,
        ..Quirks::default()
    })
    .await;
    let client = server.discover(public_credentials()).await;
    let (pending, callback) = authorize(&client, loopback_redirect(), "api:read").await;
    let err = client
        .exchange_callback(&pending, &callback)
        .await
        .unwrap_err();
    match &err {
        Error::Callback(CallbackError::Authorization(e)) => {
            assert_eq!(e.error, "access_denied");
            assert_eq!(e.error_description.as_deref(), Some("the user declined"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("access_denied"), "{err}");
    assert!(server.requests_to("/token").is_empty());
}

#[tokio::test]
async fn unregistered_redirect_is_never_redirected_to() {
    let server = TestServer::start(Quirks::default()).await;
    let client = server.discover(public_credentials()).await;
    let redirect = authflow::types::RedirectUri::new("http://127.0.0.1:5000/elsewhere").unwrap();
    let (url, _pending) = client
        .authorization_request(redirect)
        .unwrap()
        .build(&mut authflow::random::OsRandom)
        .unwrap();
    let (status, location) = visit(&url).await;
    assert_eq!(status, http::StatusCode::BAD_REQUEST);
    assert_eq!(location, None);
}
