//! Refresh stampede: 10,000 tasks ask an expired `TokenSource` for a token at once. Counts
//! the refresh requests that reach the embedded provider (must be exactly one) and reports
//! the callers' wait times against one refresh round trip measured on its own.
//!
//! `cargo bench -p authflow-cli --bench stampede` prints one line per figure:
//! `stampede <name> <value>`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use authflow::client::OAuthClient;
use authflow::flow::{ListenerOptions, LoopbackListener};
use authflow::protocol::Credentials;
use authflow::random::ThreadRandom;
use authflow::session::{RefreshTokenProvider, TokenSet, TokenSource};
use authflow::types::{ClientId, IssuerUrl, RedirectUri, Scope};
use authflow_provider::Provider;

const TASKS: usize = 10_000;
const ROUNDS: usize = 5;

fn main() {
    if !std::env::args().any(|a| a == "--bench") || std::env::args().any(|a| a == "--list") {
        // Not `cargo bench` (e.g. `cargo test --benches` in CI): a quick smoke run only.
        println!("stampede: run with `cargo bench --bench stampede`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counter = refreshes.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = IssuerUrl::new(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let provider = Provider::builder()
        .demo()
        .issuer(issuer.clone())
        .auto_approve(Some("alice".into()))
        .build()
        .unwrap();
    // Counts the requests that reach the token endpoint.
    let router = provider.router().layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let counter = counter.clone();
            async move {
                if req.uri().path() == "/token" {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                next.run(req).await
            }
        },
    ));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = OAuthClient::builder(Credentials::public(ClientId::new("authflow-cli").unwrap()))
        .discover(&issuer)
        .await
        .unwrap();
    let mut current = login(&client).await;

    let mut single = Vec::new();
    let mut p50s = Vec::new();
    let mut p99s = Vec::new();
    let mut maxes = Vec::new();
    let mut counts = Vec::new();
    for _ in 0..ROUNDS {
        // One refresh round trip on its own.
        let t = Instant::now();
        let rt = current.refresh_token.clone().unwrap();
        let resp = client.refresh(&rt, None).await.unwrap();
        single.push(t.elapsed());
        current = current.refreshed(&resp, SystemTime::now());

        // The same set, now expired: 10,000 callers at once.
        let mut expired = current
            .clone()
            .with_expiry(Some(SystemTime::now() - Duration::from_secs(1)));
        expired.obtained_at = Some(SystemTime::now() - Duration::from_secs(3600));
        let source = TokenSource::builder()
            .initial(expired)
            .provider(RefreshTokenProvider::new(client.clone()))
            .build();
        let before = refreshes.load(Ordering::SeqCst);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..TASKS {
            let s = source.clone();
            tasks.spawn(async move {
                // Each caller's own wait: from its call to its token.
                let asked = Instant::now();
                s.token().await.unwrap();
                asked.elapsed()
            });
        }
        let mut waits = Vec::with_capacity(TASKS);
        while let Some(w) = tasks.join_next().await {
            waits.push(w.unwrap());
        }
        counts.push(refreshes.load(Ordering::SeqCst) - before);
        waits.sort();
        p50s.push(waits[TASKS / 2]);
        p99s.push(waits[TASKS * 99 / 100]);
        maxes.push(waits[TASKS - 1]);
        current = (*source.cached().unwrap()).clone();
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let one = median(&mut single);
    let p50 = median(&mut p50s);
    let p99 = median(&mut p99s);
    let counts: Vec<String> = counts.iter().map(ToString::to_string).collect();
    println!("stampede tasks {TASKS}");
    println!("stampede rounds {ROUNDS}");
    println!("stampede refreshes_per_round {}", counts.join(","));
    let us = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e6);
    println!("stampede single_refresh_us {}", us(one));
    println!("stampede p50_wait_us {}", us(p50));
    println!("stampede p99_wait_us {}", us(p99));
    println!("stampede max_wait_us {}", us(median(&mut maxes)));
    println!(
        "stampede p99_over_refresh {:.2}",
        p99.as_secs_f64() / one.as_secs_f64()
    );
}

/// A login through the code flow (auto-approve), for a first refresh token.
async fn login(client: &OAuthClient) -> TokenSet {
    let listener = LoopbackListener::bind(&RedirectUri::new("http://127.0.0.1/callback").unwrap())
        .await
        .unwrap();
    let scope = Scope::parse("api:read offline_access").unwrap();
    let (url, pending) = client
        .authorization_request(listener.redirect_uri().clone())
        .unwrap()
        .scope(scope.clone())
        .build(&mut ThreadRandom)
        .unwrap();
    let visit = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status()) });
    let code = listener
        .wait(&pending, &ListenerOptions::default())
        .await
        .unwrap();
    visit.await.unwrap().unwrap();
    let resp = client.exchange_code(&pending, code).await.unwrap();
    TokenSet::from_response(&resp, &scope, SystemTime::now())
}
