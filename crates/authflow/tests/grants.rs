//! Refresh (with and without rotation), client credentials, the basic→post fallback,
//! revocation and introspection, over real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::SystemTime;

use authflow::client::OAuthClient;
use authflow::protocol::revocation::TokenTypeHint;
use authflow::protocol::{ClientAuthentication, Credentials, TokenResponse};
use authflow::types::{ClientId, ClientSecret, RefreshToken, Scope};
use support::*;

/// A confidential client that went through the code flow, with its tokens.
async fn logged_in(server: &TestServer) -> (OAuthClient, TokenResponse) {
    let client = server.discover(basic_credentials()).await;
    let (pending, callback) = authorize(
        &client,
        redirect_for(&basic_credentials()),
        "api:read api:write",
    )
    .await;
    let tokens = client.exchange_callback(&pending, &callback).await.unwrap();
    server.clear_requests();
    (client, tokens)
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_is_never_good_again() {
    let server = TestServer::start(Quirks::default()).await;
    let (client, first) = logged_in(&server).await;
    let old_rt = first.refresh_token.clone().unwrap();

    let second = client.refresh(&old_rt, None).await.unwrap();
    let new_rt = second
        .refresh_token
        .clone()
        .expect("a rotated refresh token");
    assert_ne!(new_rt, old_rt);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(
        second.scope,
        Some(Scope::parse("api:read api:write").unwrap())
    );

    let sent = &server.requests_to("/token")[0];
    assert_eq!(sent.param("grant_type"), Some("refresh_token"));
    assert_eq!(sent.param("refresh_token"), Some(old_rt.secret()));
    assert_eq!(
        sent.param("scope"),
        None,
        "no scope means as originally granted"
    );
    assert_eq!(sent.auth_method(), "client_secret_basic");

    // Sending the rotated token again is reuse: the server ends the whole grant.
    let err = client.refresh(&old_rt, None).await.unwrap_err();
    assert!(err.is_invalid_grant(), "{err:?}");
    assert_no_secrets(&err, &server.issued_secrets());
    let err = client.refresh(&new_rt, None).await.unwrap_err();
    assert!(
        err.is_invalid_grant(),
        "the newest token died with the grant: {err:?}"
    );
}

#[tokio::test]
async fn refresh_with_a_narrower_scope_sends_it() {
    let server = TestServer::start(Quirks::default()).await;
    let (client, first) = logged_in(&server).await;
    let narrow = Scope::parse("api:read").unwrap();
    let t = client
        .refresh(first.refresh_token.as_ref().unwrap(), Some(narrow.clone()))
        .await
        .unwrap();
    assert_eq!(t.scope, Some(narrow));
    assert_eq!(
        server.requests_to("/token")[0].param("scope"),
        Some("api:read")
    );

    let broader = Scope::parse("api:read admin").unwrap();
    let err = client
        .refresh(t.refresh_token.as_ref().unwrap(), Some(broader))
        .await
        .unwrap_err();
    assert_eq!(err.oauth().unwrap().error, "invalid_scope", "{err:?}");
}

#[tokio::test]
async fn refresh_without_a_new_refresh_token_keeps_the_old_one_usable() {
    let server = TestServer::start(Quirks {
        no_refresh_rotation: true,
        ..Quirks::default()
    })
    .await;
    let (client, first) = logged_in(&server).await;
    let rt = first.refresh_token.unwrap();
    let second = client.refresh(&rt, None).await.unwrap();
    assert!(
        second.refresh_token.is_none(),
        "no new refresh token was sent"
    );
    // The caller keeps the old one, and it still works.
    let third = client.refresh(&rt, None).await.unwrap();
    assert_ne!(third.access_token, second.access_token);
}

#[tokio::test]
async fn client_credentials_with_scope() {
    let server = TestServer::start(Quirks::default()).await;
    let client = server.manual_client(basic_credentials());
    let scope = Scope::parse("api:write").unwrap();
    let t = client
        .client_credentials(Some(scope.clone()))
        .await
        .unwrap();
    assert!(t.access_token.secret().starts_with("AT-"));
    assert!(t.refresh_token.is_none());
    assert_eq!(t.scope, Some(scope));
    let sent = &server.requests_to("/token")[0];
    assert_eq!(sent.param("grant_type"), Some("client_credentials"));
    assert_eq!(sent.param("scope"), Some("api:write"));
    assert_eq!(
        sent.param("client_secret"),
        None,
        "Basic keeps the secret out of the body"
    );
    assert_eq!(sent.header("accept"), Some("application/json"));
}

#[tokio::test]
async fn client_credentials_for_a_public_client_is_refused() {
    let server = TestServer::start(Quirks::default()).await;
    let client = server.manual_client(public_credentials());
    let err = client.client_credentials(None).await.unwrap_err();
    assert_eq!(err.oauth().unwrap().error, "unauthorized_client", "{err:?}");
}

#[tokio::test]
async fn basic_falls_back_to_post_once_and_then_stays_on_post() {
    let server = TestServer::start(Quirks {
        post_only: true,
        ..Quirks::default()
    })
    .await;
    // Configured by hand: no metadata tells the client that only post works.
    let client = server.manual_client(basic_credentials());
    client.client_credentials(None).await.unwrap();
    let reqs = server.requests_to("/token");
    let methods: Vec<_> = reqs.iter().map(|r| r.auth_method()).collect();
    assert_eq!(methods, ["client_secret_basic", "client_secret_post"]);
    assert_eq!(reqs[1].param("client_id"), Some(CONFIDENTIAL_CLIENT));
    assert_eq!(reqs[1].param("client_secret"), Some(CLIENT_SECRET));

    server.clear_requests();
    client.client_credentials(None).await.unwrap();
    let methods: Vec<_> = server
        .requests_to("/token")
        .iter()
        .map(|r| r.auth_method())
        .collect();
    assert_eq!(
        methods,
        ["client_secret_post"],
        "the second call goes straight to post"
    );
}

#[tokio::test]
async fn server_decoding_plus_as_plus_reads_a_space_sent_as_percent_20() {
    // The secret holds a space. This server decodes `+` as a literal plus (as Authlib
    // does); the space goes as `%20`, so Basic works at once, without the post fallback.
    let server = TestServer::start(Quirks {
        basic_plus_as_plus: true,
        ..Quirks::default()
    })
    .await;
    let client = server.manual_client(basic_credentials());
    client.client_credentials(None).await.unwrap();
    let methods: Vec<_> = server
        .requests_to("/token")
        .iter()
        .map(|r| r.auth_method())
        .collect();
    assert_eq!(methods, ["client_secret_basic"]);
}

#[tokio::test]
async fn wrong_secret_reports_the_first_invalid_client_and_keeps_basic() {
    let server = TestServer::start(Quirks::default()).await;
    let wrong = "wrong secret+%:";
    let client = server.manual_client(Credentials::secret_basic(
        ClientId::new(CONFIDENTIAL_CLIENT).unwrap(),
        ClientSecret::new(wrong).unwrap(),
    ));
    let err = client.client_credentials(None).await.unwrap_err();
    assert!(err.is_invalid_client(), "{err:?}");
    assert_eq!(err.oauth().unwrap().status, http::StatusCode::UNAUTHORIZED);
    let text = assert_no_secrets(&err, &[wrong.to_owned()]);
    assert!(
        text.contains("client authentication method"),
        "hint missing: {text}"
    );
    assert_eq!(
        server.requests_to("/token").len(),
        2,
        "one retry with post, no more"
    );

    server.clear_requests();
    client.client_credentials(None).await.unwrap_err();
    assert_eq!(
        server.requests_to("/token")[0].auth_method(),
        "client_secret_basic",
        "a failed fallback does not switch methods"
    );
}

#[tokio::test]
async fn revoke_sends_the_refresh_token_first() {
    let server = TestServer::start(Quirks::default()).await;
    let (client, t) = logged_in(&server).await;
    let rt = t.refresh_token.clone().unwrap();
    client
        .revoke(Some(&t.access_token), Some(&rt))
        .await
        .unwrap();

    assert_eq!(server.revoked(), [rt.secret(), t.access_token.secret()]);
    let reqs = server.requests_to("/revoke");
    let hints: Vec<_> = reqs
        .iter()
        .map(|r| r.param("token_type_hint").unwrap())
        .collect();
    assert_eq!(hints, ["refresh_token", "access_token"]);
    assert!(
        reqs.iter()
            .all(|r| r.auth_method() == "client_secret_basic")
    );

    let err = client.refresh(&rt, None).await.unwrap_err();
    assert!(err.is_invalid_grant(), "{err:?}");
    // Unknown tokens are revoked too, as far as RFC 7009 is concerned.
    client
        .revoke_token("never-issued", Some(TokenTypeHint::AccessToken))
        .await
        .unwrap();
}

#[tokio::test]
async fn introspection_active_and_inactive() {
    let server = TestServer::start(Quirks::default()).await;
    let (client, t) = logged_in(&server).await;
    let info = client
        .introspect(t.access_token.secret(), Some(TokenTypeHint::AccessToken))
        .await
        .unwrap();
    assert!(info.active);
    assert!(info.is_active_at(SystemTime::now()));
    assert_eq!(info.client_id.as_deref(), Some(CONFIDENTIAL_CLIENT));
    assert_eq!(
        info.scope,
        Some(Scope::parse("api:read api:write").unwrap())
    );
    assert_eq!(info.sub.as_deref(), Some("user-1"));
    assert_eq!(info.iss.as_deref(), Some(server.base_url.as_str()));
    assert!(info.exp.unwrap() > SystemTime::now());
    let sent = &server.requests_to("/introspect")[0];
    assert_eq!(sent.param("token"), Some(t.access_token.secret()));
    assert_eq!(sent.param("token_type_hint"), Some("access_token"));

    let info = client.introspect("never-issued", None).await.unwrap();
    assert!(!info.active);
    assert_eq!(info.scope, None);

    client.revoke(Some(&t.access_token), None).await.unwrap();
    let info = client
        .introspect(t.access_token.secret(), None)
        .await
        .unwrap();
    assert!(!info.active, "revoked");
}

#[tokio::test]
async fn client_secret_post_sends_the_secret_intact() {
    let server = TestServer::start(Quirks::default()).await;
    let client = server.manual_client(post_credentials());
    assert!(matches!(
        client.credentials().authentication(),
        ClientAuthentication::SecretPost(_)
    ));
    client.client_credentials(None).await.unwrap();
    let sent = &server.requests_to("/token")[0];
    assert_eq!(sent.auth_method(), "client_secret_post");
    assert_eq!(
        sent.param("client_secret"),
        Some(CLIENT_SECRET),
        "decoded intact"
    );
}

// Regression tests for library bugs found while writing these tests; un-ignore with the fix.

#[tokio::test]
async fn fallback_reports_the_post_answer_once_post_is_accepted() {
    let server = TestServer::start(Quirks {
        post_only: true,
        ..Quirks::default()
    })
    .await;
    let client = server.manual_client(basic_credentials());
    let dead = RefreshToken::new("RT-dead").unwrap();
    let err = client.refresh(&dead, None).await.unwrap_err();
    // Post got past client authentication: the real problem is the refresh token.
    assert!(err.is_invalid_grant(), "{err}");
    server.clear_requests();
    client.refresh(&dead, None).await.unwrap_err();
    let methods: Vec<_> = server
        .requests_to("/token")
        .iter()
        .map(|r| r.auth_method())
        .collect();
    assert_eq!(methods, ["client_secret_post"]);
}

#[tokio::test]
async fn revocation_falls_back_to_post_like_the_token_endpoint() {
    let server = TestServer::start(Quirks {
        post_only: true,
        ..Quirks::default()
    })
    .await;
    // A fresh process logging out: no token request has taught the client to use post.
    let client = server.manual_client(basic_credentials());
    client
        .revoke_token("RT-anything", Some(TokenTypeHint::RefreshToken))
        .await
        .unwrap();
    client.introspect("AT-anything", None).await.unwrap();
}

#[tokio::test]
async fn token_providers_send_their_resource_indicators() {
    use authflow::session::{
        ClientCredentialsProvider, RefreshTokenProvider, TokenProvider, TokenSet,
    };
    use authflow::types::ResourceIndicator;

    let server = TestServer::start(Quirks::default()).await;
    let api = ResourceIndicator::new("https://api.example/v1").unwrap();
    let (client, first) = logged_in(&server).await;
    let scope = Scope::parse("api:read api:write").unwrap();
    let set = TokenSet::from_response(&first, &scope, SystemTime::now());

    let refresh = RefreshTokenProvider::new(client.clone()).resources([api.clone()]);
    refresh.fetch(Some(&set)).await.unwrap();
    let sent = &server.requests_to("/token")[0];
    assert_eq!(sent.param("grant_type"), Some("refresh_token"));
    assert_eq!(sent.param("resource"), Some("https://api.example/v1"));

    server.clear_requests();
    let cc =
        ClientCredentialsProvider::new(client, Scope::parse("api:read").unwrap()).resources([api]);
    cc.fetch(None).await.unwrap();
    let sent = &server.requests_to("/token")[0];
    assert_eq!(sent.param("grant_type"), Some("client_credentials"));
    assert_eq!(sent.param("resource"), Some("https://api.example/v1"));
}
