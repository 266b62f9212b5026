//! Step-up on `403 insufficient_scope`: one new authorization for the union of scopes,
//! one more try, then the typed error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use authflow::client::{BoxFuture, ReqwestClient};
use authflow::session::{
    AuthorizedClient, AuthorizedError, MemoryStore, SessionError, StepUp, TokenSet, TokenSource,
    TokenSourceBuilder, TokenStore,
};
use authflow::types::{AccessToken, Scope};
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

/// `/read` needs `api:read`, `/write` needs `api:write`. Tokens: `t-read` has read;
/// `t-rw` has both; `t-liar` claims both but the resource gives it read only.
async fn resource() -> String {
    fn scopes(h: &HeaderMap) -> &'static [&'static str] {
        // The scheme is not checked here (DPoP proofs have their own tests): only the token.
        let token = h
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .map(|(_, t)| t);
        match token {
            Some("t-read" | "t-liar") => &["api:read"],
            Some("t-rw") => &["api:read", "api:write"],
            _ => &[],
        }
    }
    fn need(h: &HeaderMap, scope: &'static str) -> axum::response::Response {
        if scopes(h).contains(&scope) {
            return (StatusCode::OK, scope).into_response();
        }
        let challenge = format!(r#"Bearer error="insufficient_scope", scope="{scope}""#);
        (
            StatusCode::FORBIDDEN,
            [(header::WWW_AUTHENTICATE, challenge)],
            "",
        )
            .into_response()
    }
    let app = Router::new()
        .route(
            "/read",
            get(|h: HeaderMap| async move { need(&h, "api:read") }),
        )
        .route(
            "/write",
            get(|h: HeaderMap| async move { need(&h, "api:write") }),
        )
        // The refusal as a JSON body only, as some APIs send it.
        .route(
            "/json-write",
            get(|| async {
                (
                    StatusCode::FORBIDDEN,
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"error":"insufficient_scope","scope":"api:write"}"#,
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Answers a step-up with `token` granted `granted`, and records what it was asked.
struct Reauthorize {
    token: &'static str,
    granted: &'static str,
    asked: Arc<Mutex<Vec<String>>>,
    /// Binds the new tokens to this key (DPoP).
    dpop: Option<authflow::protocol::dpop::DpopProver>,
}

impl StepUp for Reauthorize {
    fn step_up<'a>(
        &'a self,
        _current: Option<&'a TokenSet>,
        scope: &'a Scope,
    ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
        self.asked.lock().unwrap().push(scope.to_string());
        Box::pin(async move {
            // Slow enough for concurrent callers to pile up behind it.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let mut set =
                TokenSet::new(AccessToken::new(self.token).unwrap()).with_dpop(self.dpop.clone());
            set.scope = Some(Scope::parse(self.granted).unwrap());
            Ok(set)
        })
    }
}

fn read_only(token: &str, granted: &str) -> TokenSet {
    let mut set = TokenSet::new(AccessToken::new(token).unwrap());
    set.scope = Some(Scope::parse(granted).unwrap());
    set
}

struct Setup {
    api: AuthorizedClient,
    asked: Arc<Mutex<Vec<String>>>,
    store: Arc<MemoryStore>,
}

async fn setup(initial: TokenSet, token: &'static str, granted: &'static str) -> Setup {
    setup_with(initial, token, granted, |b| b).await
}

async fn setup_with(
    initial: TokenSet,
    token: &'static str,
    granted: &'static str,
    configure: impl FnOnce(TokenSourceBuilder) -> TokenSourceBuilder,
) -> Setup {
    let asked = Arc::new(Mutex::new(Vec::new()));
    // Logged in: the store holds the tokens (an empty store means logged out).
    let store = Arc::new(MemoryStore::new());
    store.save(&initial).await.unwrap();
    let dpop = initial.dpop.clone();
    let builder = TokenSource::builder()
        .initial(initial)
        .shared_store(store.clone())
        .step_up(Reauthorize {
            token,
            granted,
            asked: asked.clone(),
            dpop,
        });
    let source = configure(builder).build();
    Setup {
        api: AuthorizedClient::new(source, ReqwestClient::new().unwrap()),
        asked,
        store,
    }
}

fn get_req(url: String) -> http::Request<Vec<u8>> {
    http::Request::get(url).body(Vec::new()).unwrap()
}

#[tokio::test]
async fn insufficient_scope_steps_up_to_the_union_once_and_retries() {
    let base = resource().await;
    let s = setup(
        read_only("t-read", "openid api:read"),
        "t-rw",
        "openid api:read api:write",
    )
    .await;
    let resp = s.api.send(get_req(format!("{base}/write"))).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(*s.asked.lock().unwrap(), ["openid api:read api:write"]);
    // Saved, and used from now on without another step-up.
    let saved = s.store.load().await.unwrap().unwrap();
    assert_eq!(saved.access_token.secret(), "t-rw");
    let resp = s.api.send(get_req(format!("{base}/write"))).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.asked.lock().unwrap().len(), 1);

    // The same through `execute`.
    let s = setup(
        read_only("t-read", "api:read"),
        "t-rw",
        "api:read api:write",
    )
    .await;
    let req = reqwest::Request::new(
        reqwest::Method::GET,
        format!("{base}/write").parse().unwrap(),
    );
    assert_eq!(s.api.execute(req).await.unwrap().status(), 200);
    assert_eq!(*s.asked.lock().unwrap(), ["api:read api:write"]);
}

#[tokio::test]
async fn a_step_up_that_does_not_help_ends_in_the_typed_error() {
    let base = resource().await;
    // The new tokens still lack the scope: one step-up, then the error.
    let s = setup(read_only("t-read", "api:read"), "t-read", "api:read").await;
    match s.api.send(get_req(format!("{base}/write"))).await {
        Err(AuthorizedError::InsufficientScope { required, .. }) => {
            assert_eq!(required.unwrap().to_string(), "api:write")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.asked.lock().unwrap().len(), 1, "one step-up, not a loop");

    // Granted the scope already, refused anyway: no step-up can help, none is tried.
    let s = setup(
        read_only("t-liar", "api:read api:write"),
        "t-rw",
        "api:read api:write",
    )
    .await;
    let r = s.api.send(get_req(format!("{base}/write"))).await;
    assert_scope_refused(&r);
    assert!(s.asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn concurrent_refusals_share_one_step_up() {
    let base = resource().await;
    let s = setup(
        read_only("t-read", "api:read"),
        "t-rw",
        "api:read api:write",
    )
    .await;
    let calls = (0..6).map(|_| {
        let api = s.api.clone();
        let url = format!("{base}/write");
        tokio::spawn(async move { api.send(get_req(url)).await.map(|r| r.status()) })
    });
    for c in calls {
        assert_eq!(c.await.unwrap().unwrap(), 200);
    }
    assert_eq!(s.asked.lock().unwrap().len(), 1, "one browser, not six");
}

#[tokio::test]
async fn without_a_step_up_the_scope_error_comes_back_at_once() {
    let base = resource().await;
    let source = TokenSource::fixed(read_only("t-read", "api:read"));
    assert!(!source.can_step_up());
    let api = AuthorizedClient::new(source, ReqwestClient::new().unwrap());
    let r = api.send(get_req(format!("{base}/write"))).await;
    assert_scope_refused(&r);
    assert_eq!(
        api.send(get_req(format!("{base}/read")))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn the_middleware_steps_up_too() {
    let base = resource().await;
    let s = setup(
        read_only("t-read", "api:read"),
        "t-rw",
        "api:read api:write",
    )
    .await;
    let mw = middleware(&s);
    let resp = mw.get(format!("{base}/write")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(*s.asked.lock().unwrap(), ["api:read api:write"]);

    // Still refused after the step-up: the typed error, inside reqwest-middleware's.
    let s = setup(read_only("t-read", "api:read"), "t-read", "api:read").await;
    let mw = middleware(&s);
    let err = mw.get(format!("{base}/write")).send().await.unwrap_err();
    assert!(err.to_string().contains("api:write"), "{err}");
    assert_eq!(s.asked.lock().unwrap().len(), 1);
}

fn dpop_bound(token: &str, granted: &str) -> TokenSet {
    use authflow::jose::{JwsAlgorithm, SigningKey};
    let key = SigningKey::generate(JwsAlgorithm::EdDSA).unwrap();
    let mut set =
        read_only(token, granted).with_dpop(Some(authflow::protocol::dpop::DpopProver::new(key)));
    set.token_type = "DPoP".into();
    set
}

#[tokio::test]
async fn dpop_bound_tokens_step_up_through_both_front_ends() {
    let base = resource().await;
    let s = setup(
        dpop_bound("t-read", "api:read"),
        "t-rw",
        "api:read api:write",
    )
    .await;
    assert_eq!(
        s.api
            .send(get_req(format!("{base}/write")))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(s.asked.lock().unwrap().len(), 1);

    let s = setup(
        dpop_bound("t-read", "api:read"),
        "t-rw",
        "api:read api:write",
    )
    .await;
    let mw = middleware(&s);
    let resp = mw.get(format!("{base}/write")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.asked.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn step_up_stays_within_what_the_application_allows() {
    let base = resource().await;
    let s = setup_with(
        read_only("t-read", "api:read"),
        "t-rw",
        "api:read api:write",
        |b| b.step_up_within(Scope::parse("api:read profile").unwrap()),
    )
    .await;
    let r = s.api.send(get_req(format!("{base}/write"))).await;
    assert_scope_refused(&r);
    assert!(
        s.asked.lock().unwrap().is_empty(),
        "api:write is not for this app"
    );
}

#[tokio::test]
async fn a_scope_asked_for_and_refused_is_not_asked_for_again() {
    let base = resource().await;
    // The user declines api:write: the new tokens have api:read only.
    let s = setup(read_only("t-read", "api:read"), "t-read", "api:read").await;
    for _ in 0..3 {
        let r = s.api.send(get_req(format!("{base}/write"))).await;
        assert_scope_refused(&r);
    }
    assert_eq!(
        s.asked.lock().unwrap().len(),
        1,
        "one browser, not one per call"
    );
}

#[tokio::test]
async fn a_json_body_alone_starts_no_step_up() {
    let base = resource().await;
    let s = setup(
        read_only("t-read", "api:read"),
        "t-rw",
        "api:read api:write",
    )
    .await;
    match s.api.send(get_req(format!("{base}/json-write"))).await {
        Err(AuthorizedError::InsufficientScope { required, .. }) => {
            assert_eq!(required.unwrap().to_string(), "api:write")
        }
        other => panic!("{other:?}"),
    }
    assert!(s.asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_logout_elsewhere_during_a_step_up_is_kept() {
    let base = resource().await;
    let s = setup(
        read_only("t-read", "api:read"),
        "t-rw",
        "api:read api:write",
    )
    .await;
    // Another process logs out: the store is empty while this one holds tokens in memory.
    s.store.clear().await.unwrap();
    let r = s.api.send(get_req(format!("{base}/write"))).await;
    assert!(
        matches!(&r, Err(AuthorizedError::Session(e)) if e.is_login_required()),
        "{r:?}"
    );
    assert!(s.store.load().await.unwrap().is_none(), "the logout stands");
}

/// A reqwest-middleware client over the set-up's token source.
fn middleware(s: &Setup) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authflow::session::BearerMiddleware::new(
            s.api.source().clone(),
        ))
        .build()
}

#[track_caller]
fn assert_scope_refused(r: &Result<http::Response<bytes::Bytes>, AuthorizedError>) {
    assert!(
        matches!(r, Err(AuthorizedError::InsufficientScope { .. })),
        "{r:?}"
    );
}
