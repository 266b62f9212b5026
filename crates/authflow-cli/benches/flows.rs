//! Whole-flow speed against the embedded provider, in process: a full loopback login
//! (authorization URL, the redirect caught by the real listener, code exchange, ID-token
//! check), and one refresh.
//!
//! `cargo bench -p authflow-cli --bench flows`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use authflow::client::OAuthClient;
use authflow::flow::{ListenerOptions, LoopbackListener};
use authflow::protocol::Credentials;
use authflow::random::ThreadRandom;
use authflow::types::{ClientId, IssuerUrl, RedirectUri, Scope};
use authflow_provider::Provider;
use criterion::{Criterion, criterion_group, criterion_main};

struct Setup {
    client: OAuthClient,
    browser: reqwest::Client,
}

async fn setup() -> Setup {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = IssuerUrl::new(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let provider = Provider::builder()
        .demo()
        .issuer(issuer.clone())
        .auto_approve(Some("alice".into()))
        .build()
        .unwrap();
    let router = provider.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = OAuthClient::builder(Credentials::public(ClientId::new("authflow-cli").unwrap()))
        .discover(&issuer)
        .await
        .unwrap();
    // The "browser": follows the provider's redirect to the loopback listener.
    let browser = reqwest::Client::builder().no_proxy().build().unwrap();
    Setup { client, browser }
}

async fn login(s: &Setup, scope: &Scope) -> authflow::protocol::TokenResponse {
    let listener = LoopbackListener::bind(&RedirectUri::new("http://127.0.0.1/callback").unwrap())
        .await
        .unwrap();
    let (url, pending) = s
        .client
        .authorization_request(listener.redirect_uri().clone())
        .unwrap()
        .scope(scope.clone())
        .build(&mut ThreadRandom)
        .unwrap();
    let browser = s.browser.clone();
    let visit = tokio::spawn(async move { browser.get(url).send().await.map(|r| r.status()) });
    let code = listener
        .wait(&pending, &ListenerOptions::default())
        .await
        .unwrap();
    visit.await.unwrap().unwrap();
    let tokens = s.client.exchange_code(&pending, code).await.unwrap();
    if let Some(id) = &tokens.id_token {
        s.client
            .verify_id_token(id, pending.nonce.as_ref(), Some(&tokens.access_token))
            .await
            .unwrap();
    }
    tokens
}

fn flows(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(setup());
    let scope = Scope::parse("openid api:read offline_access").unwrap();
    let mut g = c.benchmark_group("flows");
    g.bench_function("loopback_login", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(login(&s, &scope).await) })
    });
    let first = rt.block_on(login(&s, &scope));
    let rt_token = std::sync::Mutex::new(first.refresh_token.unwrap());
    g.bench_function("refresh", |b| {
        b.to_async(&rt).iter(|| async {
            let current = rt_token.lock().unwrap().clone();
            let fresh = s.client.refresh(&current, None).await.unwrap();
            // Rotation: the next iteration must use the new refresh token.
            *rt_token.lock().unwrap() = fresh.refresh_token.clone().unwrap();
            black_box(fresh)
        })
    });
    g.finish();
}

criterion_group!(benches, flows);
criterion_main!(benches);
