//! The bearer-token client against a real resource server on 127.0.0.1:0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use authflow::client::{BoxFuture, ReqwestClient};
use authflow::session::{
    AuthorizedClient, AuthorizedError, SessionError, TokenProvider, TokenSet, TokenSource,
};
use authflow::types::AccessToken;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

/// Accepts only `Bearer good`; `/admin` needs a scope nobody has.
async fn resource() -> String {
    async fn me(h: HeaderMap) -> impl IntoResponse {
        match h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            Some("Bearer good") => (StatusCode::OK, HeaderMap::new(), "hello alice"),
            _ => {
                let mut hm = HeaderMap::new();
                hm.insert(
                    header::WWW_AUTHENTICATE,
                    r#"Bearer realm="api", error="invalid_token", error_description="expired""#
                        .parse()
                        .unwrap(),
                );
                (StatusCode::UNAUTHORIZED, hm, "")
            }
        }
    }
    async fn admin() -> impl IntoResponse {
        let mut hm = HeaderMap::new();
        hm.insert(
            header::WWW_AUTHENTICATE,
            r#"bearer error="insufficient_scope", scope="api:admin""#
                .parse()
                .unwrap(),
        );
        (StatusCode::FORBIDDEN, hm, "")
    }
    async fn json_scope() -> impl IntoResponse {
        (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"insufficient_scope","scope":"api:write"}"#,
        )
    }
    let app = Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin))
        .route("/json-scope", get(json_scope));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

struct Hands(Arc<AtomicUsize>, &'static str);

impl TokenProvider for Hands {
    fn fetch<'a>(
        &'a self,
        _c: Option<&'a TokenSet>,
    ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let t = self.1;
        Box::pin(async move { Ok(TokenSet::new(AccessToken::new(t).unwrap())) })
    }
}

fn client(initial: &str, next: &'static str) -> (AuthorizedClient, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    // A token of unknown lifetime: only the resource's 401 can say it is stale.
    let source = TokenSource::builder()
        .initial(TokenSet::new(AccessToken::new(initial).unwrap()))
        .provider(Hands(calls.clone(), next))
        .build();
    (
        AuthorizedClient::new(source, ReqwestClient::new().unwrap()),
        calls,
    )
}

fn get_req(url: String) -> http::Request<Vec<u8>> {
    http::Request::get(url).body(Vec::new()).unwrap()
}

#[tokio::test]
async fn invalid_token_refreshes_once_and_retries() {
    let base = resource().await;
    let (api, calls) = client("stale", "good");
    let resp = api.send(get_req(format!("{base}/me"))).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body().as_ref(), b"hello alice");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The next call uses the cached new token directly.
    api.send(get_req(format!("{base}/me"))).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn still_rejected_after_refresh_is_a_typed_error() {
    let base = resource().await;
    let (api, calls) = client("stale", "also-stale");
    match api.send(get_req(format!("{base}/me"))).await {
        Err(e @ AuthorizedError::TokenRejected { .. }) => {
            assert!(e.to_string().contains("invalid_token"), "{e}");
            assert!(!e.to_string().contains("also-stale"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one refresh, not a loop");
}

#[tokio::test]
async fn insufficient_scope_names_the_scope_from_header_or_body() {
    let base = resource().await;
    let (api, calls) = client("good", "good");
    match api.send(get_req(format!("{base}/admin"))).await {
        Err(e @ AuthorizedError::InsufficientScope { .. }) => {
            assert!(e.to_string().contains("api:admin"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    match api.send(get_req(format!("{base}/json-scope"))).await {
        Err(AuthorizedError::InsufficientScope { required, .. }) => {
            assert_eq!(required.unwrap().to_string(), "api:write")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a scope problem is not a reason to refresh"
    );
}

#[tokio::test]
async fn never_sends_a_bearer_token_over_plain_http_to_another_host() {
    let (api, calls) = client("good", "good");
    let r = api.send(get_req("http://api.example.com/me".into())).await;
    match r {
        Err(e @ AuthorizedError::InvalidUrl(_)) => assert!(e.to_string().contains("https"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}
