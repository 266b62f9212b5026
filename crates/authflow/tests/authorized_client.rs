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
    // `POST /echo`: the body and the `x-trace` header back, for `Bearer good` only.
    async fn echo(h: HeaderMap, body: axum::body::Bytes) -> axum::response::Response {
        match h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            Some("Bearer good") => {
                let trace = h.get("x-trace").cloned();
                let mut resp = body.into_response();
                if let Some(t) = trace {
                    resp.headers_mut().insert("x-seen", t);
                }
                resp
            }
            _ => me(h).await.into_response(),
        }
    }
    async fn slow() -> &'static str {
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        "late"
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
    // Redirects: `/hop` within this server, `/away?to=URL` anywhere.
    async fn hop() -> impl IntoResponse {
        (StatusCode::FOUND, [(header::LOCATION, "/me")])
    }
    async fn away(axum::extract::RawQuery(q): axum::extract::RawQuery) -> impl IntoResponse {
        let to = q.unwrap_or_default().trim_start_matches("to=").to_owned();
        (StatusCode::FOUND, [(header::LOCATION, to)])
    }
    let app = Router::new()
        .route("/me", get(me))
        .route("/echo", axum::routing::post(echo))
        .route("/slow", get(slow))
        .route("/admin", get(admin))
        .route("/json-scope", get(json_scope))
        .route("/hop", get(hop))
        .route("/away", get(away));
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

/// The same rules for a request built with reqwest (`AuthorizedClient::execute`).
mod execute {
    use super::*;

    fn post(url: String, body: reqwest::Body) -> reqwest::Request {
        let mut r = reqwest::Request::new(reqwest::Method::POST, url.parse().unwrap());
        *r.body_mut() = Some(body);
        r
    }

    fn streaming(s: &'static str) -> reqwest::Body {
        reqwest::Body::wrap(http_body_util::Full::new(bytes::Bytes::from(s)))
    }

    #[tokio::test]
    async fn invalid_token_refreshes_once_and_replays_the_body() {
        let base = resource().await;
        let (api, calls) = client("stale", "good");
        let resp = api
            .execute(post(format!("{base}/echo"), "payload".into()))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.body().as_ref(),
            b"payload",
            "the retry carried the body"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let get =
            reqwest::Request::new(reqwest::Method::GET, format!("{base}/me").parse().unwrap());
        assert_eq!(api.execute(get).await.unwrap().status(), 200);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_streaming_body_is_not_replayed_but_the_token_is_refreshed() {
        let base = resource().await;
        let (api, calls) = client("stale", "good");
        match api
            .execute(post(format!("{base}/echo"), streaming("x")))
            .await
        {
            Err(AuthorizedError::TokenRejected { response, .. }) => {
                assert_eq!(response.status(), 401)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let resp = api
            .execute(post(format!("{base}/echo"), streaming("streamed")))
            .await
            .unwrap();
        assert_eq!(
            resp.body().as_ref(),
            b"streamed",
            "the next request carries the new token"
        );
    }

    #[tokio::test]
    async fn still_rejected_after_refresh_and_insufficient_scope_are_typed_errors() {
        let base = resource().await;
        let (api, calls) = client("stale", "also-stale");
        match api.execute(post(format!("{base}/echo"), "x".into())).await {
            Err(e @ AuthorizedError::TokenRejected { .. }) => {
                assert!(!e.to_string().contains("also-stale"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one refresh, not a loop");
        let (api, _) = client("good", "good");
        let admin = reqwest::Request::new(
            reqwest::Method::GET,
            format!("{base}/admin").parse().unwrap(),
        );
        match api.execute(admin).await {
            Err(e @ AuthorizedError::InsufficientScope { .. }) => {
                assert!(e.to_string().contains("api:admin"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    fn get(url: &str) -> reqwest::Request {
        reqwest::Request::new(reqwest::Method::GET, url.parse().unwrap())
    }

    #[tokio::test]
    async fn loopback_spellings_are_allowed_over_plain_http() {
        let base = resource().await;
        let port = base.rsplit(':').next().unwrap();
        let (api, _) = client("good", "good");
        for url in [
            format!("HTTP://LOCALHOST:{port}/me"),
            format!("http://127.1:{port}/me"),
        ] {
            assert_eq!(api.execute(get(&url)).await.unwrap().status(), 200, "{url}");
        }
        // Allowed, though nothing listens there: the error is the connection's.
        match api.execute(get("http://[::1]:1/me")).await {
            Err(AuthorizedError::Http(e)) => assert!(e.to_string().contains("connect"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn never_sends_a_bearer_token_over_plain_http_to_another_host() {
        let (api, calls) = client("good", "good");
        for url in [
            "http://api.example.com/me",
            "http://127.0.0.1@api.example.com/me",
            "http://[::ffff:127.0.0.1]/me",
        ] {
            let r = reqwest::Request::new(reqwest::Method::GET, url.parse().unwrap());
            match api.execute(r).await {
                Err(e @ AuthorizedError::InvalidUrl(_)) => {
                    assert!(e.to_string().contains("https"), "{e}")
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    /// An `HttpClient` that is not reqwest: it implements `send` only.
    struct OnlySend(ReqwestClient);

    impl authflow::client::HttpClient for OnlySend {
        fn send(
            &self,
            request: http::Request<Vec<u8>>,
            max_body: usize,
        ) -> BoxFuture<'_, Result<http::Response<bytes::Bytes>, authflow::client::HttpError>>
        {
            self.0.send(request, max_body)
        }
    }

    /// The same client over `ReqwestClient` and over `OnlySend`.
    fn both(initial: &str, next: &'static str) -> [(AuthorizedClient, Arc<AtomicUsize>); 2] {
        let (direct, calls) = client(initial, next);
        let other = AuthorizedClient::new(
            direct.source().clone(),
            OnlySend(ReqwestClient::new().unwrap()),
        );
        [(direct, calls.clone()), (other, calls)]
    }

    #[tokio::test]
    async fn headers_timeout_and_body_cap_hold_on_either_client() {
        let base = resource().await;
        for (api, _) in both("good", "good") {
            let mut req = post(format!("{base}/echo"), "payload".into());
            req.headers_mut().insert("x-trace", "7".parse().unwrap());
            let resp = api.execute(req).await.unwrap();
            assert_eq!(
                resp.headers()["x-seen"],
                "7",
                "the caller's headers went along"
            );
            // reqwest's per-request timeout lives in the request's extensions.
            let mut slow = get(&format!("{base}/slow"));
            *slow.timeout_mut() = Some(std::time::Duration::from_millis(200));
            match api.execute(slow).await {
                Err(AuthorizedError::Http(authflow::client::HttpError::Timeout { .. })) => {}
                other => panic!("{other:?}"),
            }
            let capped = api.clone().max_body(3);
            match capped
                .execute(post(format!("{base}/echo"), "payload".into()))
                .await
            {
                Err(AuthorizedError::Http(authflow::client::HttpError::BodyTooLarge {
                    limit: 3,
                    ..
                })) => {}
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn another_http_client_gets_the_request_as_an_http_request() {
        let base = resource().await;
        let [_, (api, calls)] = both("stale", "good");
        let resp = api
            .execute(post(format!("{base}/echo"), "payload".into()))
            .await
            .unwrap();
        assert_eq!(resp.body().as_ref(), b"payload");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // A stream cannot become an `http::Request<Vec<u8>>`: a clear error, no request.
        match api
            .execute(post(format!("{base}/echo"), streaming("x")))
            .await
        {
            Err(e @ AuthorizedError::Http(_)) => {
                assert!(e.to_string().contains("streaming request body"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
}

/// The same rules through reqwest-middleware.
mod middleware {
    use super::*;
    use authflow::session::BearerMiddleware;
    use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};

    fn client(initial: &str, next: &'static str) -> (ClientWithMiddleware, Arc<AtomicUsize>) {
        let (api, calls) = super::client(initial, next);
        let mw = BearerMiddleware::new(api.source().clone());
        (
            ClientBuilder::new(reqwest::Client::new()).with(mw).build(),
            calls,
        )
    }

    fn authorized_error(e: reqwest_middleware::Error) -> AuthorizedError {
        match e {
            reqwest_middleware::Error::Middleware(e) => e.downcast().unwrap(),
            other => panic!("not a middleware error: {other:?}"),
        }
    }

    #[tokio::test]
    async fn invalid_token_refreshes_once_and_retries() {
        let base = resource().await;
        let (api, calls) = client("stale", "good");
        let resp = api.get(format!("{base}/me")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "hello alice");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let resp = api.get(format!("{base}/me")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_streaming_body_is_not_replayed_but_the_token_is_refreshed() {
        let base = resource().await;
        let (api, calls) = client("stale", "good");
        let body = reqwest::Body::wrap(http_body_util::Full::new(bytes::Bytes::from("x")));
        let e = authorized_error(
            api.get(format!("{base}/me"))
                .body(body)
                .send()
                .await
                .unwrap_err(),
        );
        assert!(matches!(e, AuthorizedError::TokenRejected { .. }), "{e:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let resp = api.get(format!("{base}/me")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "the next request carries the new token");
    }

    #[tokio::test]
    async fn still_rejected_after_refresh_is_a_typed_error() {
        let base = resource().await;
        let (api, calls) = client("stale", "also-stale");
        let e = authorized_error(api.get(format!("{base}/me")).send().await.unwrap_err());
        match &e {
            AuthorizedError::TokenRejected {
                challenge,
                response,
            } => {
                assert_eq!(challenge.error, "invalid_token");
                assert_eq!(response.status(), 401);
            }
            other => panic!("{other:?}"),
        }
        assert!(!e.to_string().contains("also-stale"), "{e}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one refresh, not a loop");
    }

    #[tokio::test]
    async fn insufficient_scope_in_the_challenge_is_a_typed_error() {
        let base = resource().await;
        let (api, calls) = client("good", "good");
        match authorized_error(api.get(format!("{base}/admin")).send().await.unwrap_err()) {
            e @ AuthorizedError::InsufficientScope { .. } => {
                assert!(e.to_string().contains("api:admin"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        // The body-only form passes through as a plain 403, body unread.
        let resp = api.get(format!("{base}/json-scope")).send().await.unwrap();
        assert_eq!(resp.status(), 403);
        assert!(resp.text().await.unwrap().contains("api:write"));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    /// Another origin that redirects `/1` to `/2` and records the Authorization headers
    /// it receives.
    async fn other_origin() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let app = Router::new()
            .route(
                "/1",
                get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/2")]) }),
            )
            .route(
                "/2",
                get(move |h: HeaderMap| async move {
                    if let Some(v) = h.get(header::AUTHORIZATION) {
                        log.lock().unwrap().push(v.to_str().unwrap().to_owned());
                    }
                    "other"
                }),
            );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        // `localhost`: another origin than the resource's 127.0.0.1, still loopback.
        let base = format!("http://localhost:{}", l.local_addr().unwrap().port());
        tokio::spawn(async move { axum::serve(l, app).await });
        (base, seen)
    }

    #[tokio::test]
    async fn the_redirect_policy_keeps_the_token_within_the_origin() {
        let base = resource().await;
        let (other, seen) = other_origin().await;
        let (api, calls) = super::client("good", "good");
        let http = reqwest::Client::builder()
            .redirect(BearerMiddleware::redirect_policy())
            .build()
            .unwrap();
        let api = ClientBuilder::new(http)
            .with(BearerMiddleware::new(api.source().clone()))
            .build();
        // Within the origin: followed, with the token.
        let resp = api.get(format!("{base}/hop")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "hello alice");
        // To another origin (which would redirect within itself): not followed.
        let resp = api
            .get(format!("{base}/away?to={other}/1"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        assert!(
            seen.lock().unwrap().is_empty(),
            "{:?}",
            seen.lock().unwrap()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn never_sends_a_bearer_token_over_plain_http_to_another_host() {
        let (api, calls) = client("good", "good");
        let e = authorized_error(
            api.get("http://api.example.com/me")
                .send()
                .await
                .unwrap_err(),
        );
        assert!(
            matches!(e, AuthorizedError::InvalidUrl(_)) && e.to_string().contains("https"),
            "{e}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}
