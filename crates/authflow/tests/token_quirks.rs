//! Token responses the way real providers send them (provider-quirks.md, "Token endpoint
//! answers"), each parsed from a real socket into the right `TokenResponse` or error.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{Duration, SystemTime};

use authflow::client::Error;
use authflow::protocol::{TokenResponse, TokenType};
use authflow::types::{RefreshToken, Scope};
use support::*;

const HOUR: Option<Duration> = Some(Duration::from_secs(3600));
const SCOPE: &str = "api:read api:write";

/// A client credentials grant against a server with `quirks`.
async fn client_credentials(quirks: Quirks) -> TokenResponse {
    let server = TestServer::start(quirks).await;
    let client = server.manual_client(basic_credentials());
    let before = SystemTime::now();
    let t = client
        .client_credentials(Some(Scope::parse(SCOPE).unwrap()))
        .await
        .unwrap();
    if let Some(at) = t.expires_at {
        let lifetime = at.duration_since(before).unwrap();
        assert!(lifetime >= Duration::from_secs(3600) && lifetime < Duration::from_secs(3660));
    }
    assert!(t.access_token.secret().starts_with("AT-"));
    assert!(
        server
            .issued_secrets()
            .contains(&t.access_token.secret().to_owned())
    );
    t
}

/// The code flow against a server with `quirks`: refresh tokens come through too.
async fn code_flow(quirks: Quirks) -> TokenResponse {
    let server = TestServer::start(quirks).await;
    let client = server.discover(public_credentials()).await;
    let (pending, callback) = authorize(&client, loopback_redirect(), SCOPE).await;
    client.exchange_callback(&pending, &callback).await.unwrap()
}

fn scope() -> Option<Scope> {
    Some(Scope::parse(SCOPE).unwrap())
}

#[tokio::test]
async fn plain_json_baseline() {
    let t = client_credentials(Quirks::default()).await;
    assert_eq!(t.token_type, TokenType::Bearer);
    assert_eq!(t.expires_in, HOUR);
    assert_eq!(t.scope, scope());
}

#[tokio::test]
async fn error_in_a_200_body_is_an_error() {
    let server = TestServer::start(Quirks {
        error_in_200: true,
        ..Quirks::default()
    })
    .await;
    let client = server.manual_client(basic_credentials());
    let bogus = RefreshToken::new("RT-bogus-but-secret").unwrap();
    let err = client.refresh(&bogus, None).await.unwrap_err();
    assert!(matches!(err, Error::OAuth { .. }), "{err:?}");
    assert!(err.is_invalid_grant());
    let o = err.oauth().unwrap();
    assert_eq!(o.status, http::StatusCode::OK);
    assert_eq!(
        o.error_description.as_deref(),
        Some("unknown refresh token")
    );
    assert_eq!(
        o.error_uri.as_deref(),
        Some("https://docs.as.example/errors#invalid_grant")
    );
    assert_no_secrets(&err, &["RT-bogus-but-secret".to_owned()]);
}

#[tokio::test]
async fn form_encoded_body() {
    let t = code_flow(Quirks {
        form_encoded_token: true,
        ..Quirks::default()
    })
    .await;
    assert_eq!(t.token_type, TokenType::Bearer);
    assert_eq!(t.expires_in, HOUR, "a form value is a numeric string");
    assert!(t.refresh_token.unwrap().secret().starts_with("RT-"));
    assert_eq!(t.scope, scope());
}

#[tokio::test]
async fn text_plain_body() {
    let t = code_flow(Quirks {
        text_plain_token: true,
        ..Quirks::default()
    })
    .await;
    assert_eq!(t.expires_in, HOUR);
    assert!(t.refresh_token.is_some());
    assert_eq!(t.scope, scope());
}

#[tokio::test]
async fn expires_in_as_a_string() {
    let t = client_credentials(Quirks {
        expires_in_string: true,
        ..Quirks::default()
    })
    .await;
    assert_eq!(t.expires_in, HOUR);
    assert!(t.expires_at.is_some());
}

#[tokio::test]
async fn expires_instead_of_expires_in() {
    let t = client_credentials(Quirks {
        expires_instead_of_expires_in: true,
        ..Quirks::default()
    })
    .await;
    assert_eq!(t.expires_in, HOUR);
    assert!(
        !t.extra.contains_key("expires"),
        "read, not left as an extra"
    );
}

#[tokio::test]
async fn no_expires_in_means_unknown_lifetime() {
    let t = client_credentials(Quirks {
        no_expires_in: true,
        ..Quirks::default()
    })
    .await;
    assert_eq!(t.expires_in, None);
    assert_eq!(t.expires_at, None);
    let far = SystemTime::now() + Duration::from_secs(100 * 365 * 24 * 3600);
    assert!(
        !t.expires_within(far, Duration::ZERO),
        "unknown is not expired"
    );
}

#[tokio::test]
async fn token_type_lowercase() {
    let t = client_credentials(Quirks {
        token_type_lowercase: true,
        ..Quirks::default()
    })
    .await;
    assert_eq!(t.token_type, TokenType::Bearer);
}

#[tokio::test]
async fn token_type_missing() {
    let t = client_credentials(Quirks {
        token_type_missing: true,
        ..Quirks::default()
    })
    .await;
    assert_eq!(t.token_type, TokenType::Bearer);
}

#[tokio::test]
async fn comma_separated_scope() {
    let t = client_credentials(Quirks {
        comma_scope: true,
        ..Quirks::default()
    })
    .await;
    assert_eq!(t.scope, scope());
}

#[tokio::test]
async fn missing_scope_means_as_requested() {
    let t = client_credentials(Quirks {
        no_scope: true,
        ..Quirks::default()
    })
    .await;
    assert_eq!(t.scope, None);
    let requested = Scope::parse(SCOPE).unwrap();
    assert_eq!(t.granted_scope(&requested), requested);
}

#[tokio::test]
async fn github_style_answer_all_at_once() {
    // Form body, lower-case type, comma scope, no lifetime: an OAuth app at GitHub.
    let t = code_flow(Quirks {
        form_encoded_token: true,
        token_type_lowercase: true,
        comma_scope: true,
        no_expires_in: true,
        ..Quirks::default()
    })
    .await;
    assert_eq!(t.token_type, TokenType::Bearer);
    assert_eq!(t.expires_in, None);
    assert_eq!(t.scope, scope());
    assert!(t.refresh_token.is_some());
}

#[tokio::test]
async fn token_responses_carry_no_store() {
    // Not a client rule, but the test server must behave like a correct one.
    let server = TestServer::start(Quirks::default()).await;
    let http = reqwest::Client::new();
    let resp = http
        .post(server.url("/token"))
        .basic_auth(CONFIDENTIAL_CLIENT, Some(url_encoded(CLIENT_SECRET)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
}

fn url_encoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
