//! Issue 6 acceptance, in one process: the library's `TokenSource` refreshing against the
//! real provider over a socket (rotation and reuse detection on, as by default), with the
//! provider's router wrapped in a layer that counts refresh requests.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use authflow::client::OAuthClient;
use authflow::protocol::Credentials;
use authflow::random::OsRandom;
use authflow::session::{FileStore, MemoryStore, RefreshTokenProvider, TokenSet, TokenSource};
use authflow::types::{ClientId, IssuerUrl, RedirectUri, Scope};
use authflow_provider::Provider;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;

const REDIRECT: &str = "http://127.0.0.1:43210/callback";

/// The provider on 127.0.0.1:0 behind a layer that counts `grant_type=refresh_token`
/// requests to `/token` (and how many of them the provider answered 200).
struct Counted {
    base: String,
    refreshes: Arc<AtomicUsize>,
    refreshed_ok: Arc<AtomicUsize>,
}

async fn provider() -> Counted {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let provider = Provider::builder()
        .demo()
        .issuer(IssuerUrl::new(&base).unwrap())
        .auto_approve(Some("alice".into()))
        .access_token_ttl(Duration::from_secs(3600))
        .build()
        .unwrap();
    let refreshes = Arc::new(AtomicUsize::new(0));
    let refreshed_ok = Arc::new(AtomicUsize::new(0));
    let (seen, ok) = (refreshes.clone(), refreshed_ok.clone());
    let router = provider.router().layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let (seen, ok) = (seen.clone(), ok.clone());
            async move {
                let is_token = req.method() == http::Method::POST && req.uri().path() == "/token";
                if !is_token {
                    return next.run(req).await;
                }
                let (parts, body) = req.into_parts();
                let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap();
                let refresh = url::form_urlencoded::parse(&bytes)
                    .any(|(k, v)| k == "grant_type" && v == "refresh_token");
                if refresh {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
                let resp = next
                    .run(Request::from_parts(parts, Body::from(bytes)))
                    .await;
                if refresh && resp.status().is_success() {
                    ok.fetch_add(1, Ordering::SeqCst);
                }
                resp
            }
        },
    ));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Counted {
        base,
        refreshes,
        refreshed_ok,
    }
}

/// Logs in as alice (auto-approve) with the public CLI client; the client and the tokens.
async fn login(base: &str) -> (OAuthClient, TokenSet) {
    let issuer = IssuerUrl::new(base).unwrap();
    let client = OAuthClient::builder(Credentials::public(ClientId::new("authflow-cli").unwrap()))
        .discover(&issuer)
        .await
        .unwrap();
    let scope = Scope::parse("api:read offline_access").unwrap();
    let (url, pending) = client
        .authorization_request(RedirectUri::new(REDIRECT).unwrap())
        .unwrap()
        .scope(scope.clone())
        .build(&mut OsRandom)
        .unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = browser.get(url.as_str()).send().await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let callback = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let tokens = client.exchange_callback(&pending, &callback).await.unwrap();
    assert!(
        tokens.refresh_token.is_some(),
        "offline_access gives a refresh token"
    );
    let set = TokenSet::from_response(&tokens, &scope, SystemTime::now());
    (client, set)
}

/// The same grant, but the client believes the access token expired a minute ago.
fn expired(set: &TokenSet) -> TokenSet {
    set.clone()
        .with_expiry(Some(SystemTime::now() - Duration::from_secs(60)))
}

async fn me_status(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_tasks_on_an_expired_token_cause_one_refresh_at_the_provider() {
    let p = provider().await;
    let (client, set) = login(&p.base).await;
    let old = set.access_token.secret().to_owned();
    let store = MemoryStore::new();
    authflow::session::TokenStore::save(&store, &expired(&set))
        .await
        .unwrap();
    let source = TokenSource::builder()
        .initial(expired(&set))
        .provider(RefreshTokenProvider::new(client))
        .store(store)
        .build();

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10_000 {
        let s = source.clone();
        tasks.spawn(async move { s.token().await.map(|t| t.access_token.secret().to_owned()) });
    }
    let mut tokens = std::collections::HashSet::new();
    while let Some(r) = tasks.join_next().await {
        tokens.insert(r.unwrap().unwrap());
    }
    eprintln!("10000 tasks served in {:?}", started.elapsed());

    assert_eq!(p.refreshes.load(Ordering::SeqCst), 1, "refresh requests");
    assert_eq!(tokens.len(), 1, "every task got the same token");
    let new = tokens.into_iter().next().unwrap();
    assert_ne!(new, old, "the token was refreshed");
    assert_eq!(me_status(&p.base, &new).await, 200);

    // The rotated refresh token is the live one: the grant survives another refresh.
    let again = source.force_refresh().await.unwrap();
    assert_eq!(p.refreshed_ok.load(Ordering::SeqCst), 2);
    assert_eq!(me_status(&p.base, again.access_token.secret()).await, 200);
}

/// Eight sources with their own handles on one token file stand for eight processes:
/// the file lock and the re-read under it keep it to one refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_sources_sharing_one_token_file_cause_one_refresh() {
    let p = provider().await;
    let (client, set) = login(&p.base).await;
    let dir = std::env::temp_dir().join(format!(
        "authflow-acceptance-{}-{}",
        std::process::id(),
        p.base.rsplit(':').next().unwrap()
    ));
    let path = dir.join("tokens/default.json");
    FileStore::new(&path).save_blocking(&expired(&set)).unwrap();

    let sources: Vec<TokenSource> = (0..8)
        .map(|_| {
            TokenSource::builder()
                .initial(expired(&set))
                .provider(RefreshTokenProvider::new(client.clone()))
                .store(FileStore::new(&path))
                .build()
        })
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..2_000 {
        let s = sources[i % sources.len()].clone();
        tasks.spawn(async move { s.token().await.map(|t| t.access_token.secret().to_owned()) });
    }
    let mut tokens = std::collections::HashSet::new();
    while let Some(r) = tasks.join_next().await {
        tokens.insert(r.unwrap().unwrap());
    }
    assert_eq!(p.refreshes.load(Ordering::SeqCst), 1, "refresh requests");
    assert_eq!(tokens.len(), 1, "{} distinct tokens", tokens.len());
    let stored = FileStore::new(&path).load_blocking().unwrap().unwrap();
    assert_eq!(
        &stored.access_token.secret().to_owned(),
        tokens.iter().next().unwrap()
    );
    assert_ne!(
        stored.refresh_token, set.refresh_token,
        "the rotated token was saved"
    );
    assert_eq!(me_status(&p.base, stored.access_token.secret()).await, 200);
    std::fs::remove_dir_all(dir).unwrap();
}
