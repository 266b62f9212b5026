//! Discovery (RFC 8414, then OpenID Connect Discovery) against a real server: the issuer
//! check, the fallback on 404, the https rule and what the metadata changes in the client.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use authflow::client::{Error, OAuthClient};
use authflow::protocol::discovery::DiscoveryError;
use authflow::types::IssuerUrl;
use support::*;

async fn discover_err(quirks: Quirks) -> (TestServer, Error) {
    let server = TestServer::start(quirks).await;
    let err = OAuthClient::builder(basic_credentials())
        .discover(&server.issuer)
        .await
        .unwrap_err();
    assert_no_secrets(&err, &[]);
    (server, err)
}

#[tokio::test]
async fn rfc8414_document_configures_every_endpoint() {
    let server = TestServer::start(Quirks::default()).await;
    let client = server.discover(public_credentials()).await;
    let e = client.endpoints();
    assert_eq!(e.authorization, Some(server.endpoint("/authorize")));
    assert_eq!(e.token, Some(server.endpoint("/token")));
    assert_eq!(e.revocation, Some(server.endpoint("/revoke")));
    assert_eq!(e.introspection, Some(server.endpoint("/introspect")));
    assert_eq!(client.issuer(), Some(&server.issuer));
    let m = client.metadata().unwrap();
    assert_eq!(m.issuer, server.base_url);
    assert!(m.authorization_response_iss_parameter_supported);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "the RFC 8414 document was enough");
    assert_eq!(reqs[0].method, http::Method::GET);
    assert_eq!(reqs[0].path, "/.well-known/oauth-authorization-server");
    assert_eq!(reqs[0].header("accept"), Some("application/json"));
}

#[tokio::test]
async fn rfc8414_404_falls_back_to_openid_configuration() {
    let server = TestServer::start(Quirks {
        no_oauth_metadata: true,
        ..Quirks::default()
    })
    .await;
    let client = server.discover(public_credentials()).await;
    let paths: Vec<_> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration"
        ]
    );
    let m = client.metadata().unwrap();
    assert_eq!(
        m.extra.get("openid_document"),
        Some(&serde_json::json!(true))
    );
    assert_eq!(client.endpoints().token, Some(server.endpoint("/token")));
}

#[tokio::test]
async fn wrong_issuer_in_metadata_is_refused() {
    let (server, err) = discover_err(Quirks {
        wrong_issuer: true,
        ..Quirks::default()
    })
    .await;
    match &err {
        Error::Discovery(DiscoveryError::IssuerMismatch { expected, found }) => {
            assert_eq!(expected, &server.base_url);
            assert_eq!(found, "https://evil.example");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("https://evil.example"), "{err}");
    assert_eq!(
        server.requests().len(),
        1,
        "no fallback past a wrong issuer"
    );
}

#[tokio::test]
async fn plain_http_endpoint_in_metadata_is_refused_by_name() {
    let (_, err) = discover_err(Quirks {
        insecure_endpoint_in_metadata: true,
        ..Quirks::default()
    })
    .await;
    assert!(
        matches!(
            &err,
            Error::Discovery(DiscoveryError::InvalidEndpoint {
                field: "revocation_endpoint",
                ..
            })
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("revocation_endpoint"), "{text}");
    assert!(text.contains("http://as.example/revoke"), "{text}");
}

#[tokio::test]
async fn no_metadata_at_all_names_the_url() {
    let server = TestServer::start(Quirks::default()).await;
    // No well-known URL exists for this path: RFC 8414 path-inserted, OpenID Connect
    // path-inserted and path-appended are tried, in that order.
    let issuer = IssuerUrl::new(&server.url("/tenant")).unwrap();
    let err = OAuthClient::builder(public_credentials())
        .discover(&issuer)
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 3, "every document was tried");
    assert!(err.to_string().contains("404"), "{err}");
    assert!(err.to_string().contains("/tenant"), "{err}");
}

#[tokio::test]
async fn metadata_listing_only_post_makes_a_basic_client_use_post_at_once() {
    let server = TestServer::start(Quirks {
        post_only: true,
        ..Quirks::default()
    })
    .await;
    let client = server.discover(basic_credentials()).await;
    client.client_credentials(None).await.unwrap();
    let methods: Vec<_> = server
        .requests_to("/token")
        .iter()
        .map(|r| r.auth_method())
        .collect();
    assert_eq!(
        methods,
        ["client_secret_post"],
        "no failed Basic attempt first"
    );
}

#[tokio::test]
async fn metadata_fetched_once_builds_the_client_without_another_request() {
    let server = TestServer::start(Quirks::default()).await;
    let http = authflow::client::ReqwestClient::new().unwrap();
    let metadata = authflow::client::discover_authorization_server(&http, &server.issuer)
        .await
        .unwrap();
    server.clear_requests();
    let client = OAuthClient::builder(public_credentials())
        .with_metadata(&server.issuer, metadata.clone())
        .unwrap();
    assert_eq!(client.endpoints().token, Some(server.endpoint("/token")));
    assert_eq!(client.issuer(), Some(&server.issuer));
    assert!(server.requests().is_empty());

    // Metadata of another issuer is refused, as discovery would.
    let other = IssuerUrl::new("https://other.example").unwrap();
    let err = OAuthClient::builder(public_credentials())
        .with_metadata(&other, metadata)
        .unwrap_err();
    assert!(
        matches!(err, Error::Discovery(DiscoveryError::IssuerMismatch { .. })),
        "{err:?}"
    );
}
