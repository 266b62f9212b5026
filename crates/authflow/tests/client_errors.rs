//! Token endpoints that fail in the ways real deployments do, and the https rule. Every
//! error is checked for leaked codes, verifiers, tokens and the client secret.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use authflow::client::{Error, HttpError, OAuthClient};
use authflow::protocol::{MAX_RESPONSE_BYTES, ResponseError};
use authflow::types::{EndpointUrl, IssuerUrl};
use support::*;

/// Logs in with a confidential client, then breaks the token endpoint with `broken` and
/// exchanges the code. Returns the server, the error and every secret involved.
async fn failed_exchange(broken: Quirks, timeout: Duration) -> (TestServer, Error, Vec<String>) {
    let server = TestServer::start(Quirks::default()).await;
    let client = server.client_with_timeout(basic_credentials(), timeout);
    let (pending, callback) =
        authorize(&client, redirect_for(&basic_credentials()), "api:read").await;
    server.set_quirks(broken);
    let err = client
        .exchange_callback(&pending, &callback)
        .await
        .unwrap_err();
    let mut secrets = server.issued_secrets();
    secrets.extend(pending_secrets(&pending));
    assert!(secrets.iter().any(|s| s.starts_with("CODE-")));
    assert_no_secrets(&err, &secrets);
    (server, err, secrets)
}

const NORMAL: Duration = Duration::from_secs(10);

#[tokio::test]
async fn token_endpoint_redirect_is_not_followed() {
    let (server, err, _) = failed_exchange(
        Quirks {
            token_redirects: true,
            ..Quirks::default()
        },
        NORMAL,
    )
    .await;
    match &err {
        Error::Response {
            source: ResponseError::Status { status, .. },
            ..
        } => assert_eq!(status.as_u16(), 302),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("302"), "{err}");
    assert_eq!(server.requests_to("/token").len(), 1);
    assert!(
        server.requests_to("/elsewhere").is_empty(),
        "credentials were re-sent"
    );
}

#[tokio::test]
async fn oversized_body_with_content_length() {
    let (_, err, _) = failed_exchange(
        Quirks {
            oversized_body: true,
            ..Quirks::default()
        },
        NORMAL,
    )
    .await;
    assert!(
        matches!(&err, Error::Http(HttpError::BodyTooLarge { limit, .. }) if *limit == MAX_RESPONSE_BYTES),
        "{err:?}"
    );
    assert!(err.is_network());
    assert!(!err.is_transient());
}

#[tokio::test]
async fn oversized_chunked_body() {
    let (_, err, _) = failed_exchange(
        Quirks {
            oversized_chunked: true,
            ..Quirks::default()
        },
        NORMAL,
    )
    .await;
    assert!(
        matches!(&err, Error::Http(HttpError::BodyTooLarge { limit, .. }) if *limit == MAX_RESPONSE_BYTES),
        "{err:?}"
    );
}

#[tokio::test]
async fn slow_answer_times_out() {
    let started = Instant::now();
    let (_, err, _) = failed_exchange(
        Quirks {
            slow: true,
            ..Quirks::default()
        },
        Duration::from_millis(300),
    )
    .await;
    assert!(
        matches!(&err, Error::Http(HttpError::Timeout { .. })),
        "{err:?}"
    );
    assert!(err.is_timeout() && err.is_transient());
    assert!(
        started.elapsed() < SLOW_ANSWER,
        "did not wait for the server"
    );
    assert!(
        err.to_string().contains("/token"),
        "names the endpoint: {err}"
    );
}

#[tokio::test]
async fn html_502_page_reports_the_status() {
    let (_, err, _) = failed_exchange(
        Quirks {
            html_502: true,
            ..Quirks::default()
        },
        NORMAL,
    )
    .await;
    match &err {
        Error::Response {
            source:
                ResponseError::Status {
                    status,
                    content_type,
                },
            ..
        } => {
            assert_eq!(status.as_u16(), 502);
            assert_eq!(content_type.as_deref(), Some("text/html"));
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("502"), "{text}");
    assert!(
        !text.contains("Bad Gateway</h1>"),
        "the page is not echoed: {text}"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn invalid_json_is_malformed_and_not_echoed() {
    let (_, err, _) = failed_exchange(
        Quirks {
            invalid_json: true,
            ..Quirks::default()
        },
        NORMAL,
    )
    .await;
    assert!(
        matches!(
            &err,
            Error::Response {
                source: ResponseError::Malformed { format: "JSON", .. },
                ..
            }
        ),
        "{err:?}"
    );
    // assert_no_secrets in failed_exchange already checked LEAKY_TOKEN.
}

#[tokio::test]
async fn connection_refused_is_a_transient_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = OAuthClient::builder(basic_credentials())
        .token_endpoint(EndpointUrl::new(&format!("http://127.0.0.1:{port}/token")).unwrap())
        .build()
        .unwrap();
    let err = client.client_credentials(None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Http(HttpError::Connect { .. })),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_no_secrets(&err, &[]);
}

#[test]
fn plain_http_endpoints_are_refused_except_loopback() {
    let err = EndpointUrl::new("http://example.com/token").unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");
    assert!(EndpointUrl::new("https://example.com/token").is_ok());
    assert!(EndpointUrl::new("http://127.0.0.1:8080/token").is_ok());
    assert!(EndpointUrl::new("http://[::1]:8080/token").is_ok());
    assert!(IssuerUrl::new("http://as.example").is_err());
}

#[tokio::test]
async fn client_send_refuses_plain_http_before_connecting() {
    let server = TestServer::start(Quirks::default()).await;
    let client = server.manual_client(basic_credentials());
    let req = http::Request::post("http://example.com/token")
        .body(b"grant_type=client_credentials".to_vec())
        .unwrap();
    let err = client.send(req).await.unwrap_err();
    assert!(matches!(&err, Error::InvalidValue(_)), "{err:?}");
    assert!(err.to_string().contains("https"), "{err}");
}

/// An `HttpClient` that ignores the body cap it is given, as a careless custom stack might.
struct Uncapped(authflow::client::ReqwestClient);

impl authflow::client::HttpClient for Uncapped {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
        _max_body: usize,
    ) -> authflow::client::BoxFuture<'_, Result<http::Response<bytes::Bytes>, HttpError>> {
        self.0.send(request, usize::MAX)
    }
}

#[tokio::test]
async fn the_parser_caps_the_body_even_when_the_http_client_does_not() {
    let server = TestServer::start(Quirks {
        oversized_body: true,
        ..Quirks::default()
    })
    .await;
    let client = OAuthClient::builder(basic_credentials())
        .endpoints(server.endpoints())
        .http_client(Uncapped(authflow::client::ReqwestClient::new().unwrap()))
        .build()
        .unwrap();
    let err = client.client_credentials(None).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Response {
                source: ResponseError::TooLarge { limit },
                ..
            } if *limit == MAX_RESPONSE_BYTES
        ),
        "{err:?}"
    );
    assert_no_secrets(&err, &server.issued_secrets());
}
