//! `RedisStore` against a real `redis-server` on 127.0.0.1 (one per test binary, started
//! here on a free port with persistence off). Without `redis-server` these tests say why
//! and pass, unless AUTHFLOW_REQUIRE_TOOLS is set.

#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/redis_server.rs"]
mod redis_server;
#[path = "support/skip.rs"]
mod skip;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use redis_server::redis_port;

use authflow::client::BoxFuture;
use authflow::session::{
    RedisStore, SessionError, StoreError, TokenProvider, TokenSet, TokenSource, TokenStore,
};
use authflow::types::{AccessToken, RefreshToken};

static NAMES: AtomicUsize = AtomicUsize::new(0);

/// A fresh name, so that tests running at once do not share keys.
fn unique(what: &str) -> String {
    format!(
        "{what}-{}-{}",
        std::process::id(),
        NAMES.fetch_add(1, Ordering::SeqCst)
    )
}

async fn store(port: u16, name: &str) -> RedisStore {
    RedisStore::connect(&format!("redis://127.0.0.1:{port}/"), name)
        .await
        .unwrap()
}

fn set(n: &str, expires_in: Duration) -> TokenSet {
    let now = SystemTime::now();
    let mut s = TokenSet::new(AccessToken::new(format!("at-{n}")).unwrap())
        .with_expiry(Some(now + expires_in))
        .with_refresh_token(Some(RefreshToken::new(format!("rt-{n}")).unwrap()));
    s.obtained_at = Some(now);
    s
}

fn expired(n: &str) -> TokenSet {
    set(n, Duration::ZERO).with_expiry(Some(SystemTime::now() - Duration::from_secs(1)))
}

/// An authorization server in miniature: rotates refresh tokens and revokes the grant
/// when a rotated one comes back (reuse detection).
#[derive(Clone)]
struct Rotating {
    live: Arc<Mutex<String>>,
    refreshes: Arc<AtomicUsize>,
    reused: Arc<AtomicUsize>,
    lifetime: Duration,
}

impl Rotating {
    fn new(first_rt: &str, lifetime: Duration) -> Self {
        Self {
            live: Arc::new(Mutex::new(first_rt.into())),
            refreshes: Arc::default(),
            reused: Arc::default(),
            lifetime,
        }
    }
}

impl TokenProvider for Rotating {
    fn fetch<'a>(
        &'a self,
        current: Option<&'a TokenSet>,
    ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
        Box::pin(async move {
            let rt = current
                .and_then(|c| c.refresh_token.as_ref())
                .map(|r| r.secret().to_owned())
                .unwrap_or_default();
            // The network round trip, during which others pile up.
            tokio::time::sleep(Duration::from_millis(30)).await;
            let n = {
                let mut live = self.live.lock().unwrap();
                if *live != rt {
                    self.reused.fetch_add(1, Ordering::SeqCst);
                    *live = "revoked".into();
                    return Err(SessionError::LoginRequired("refresh token reused".into()));
                }
                let n = self.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
                *live = format!("rt-{n}");
                n
            };
            Ok(set(&n.to_string(), self.lifetime))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_on_two_hosts_refresh_once_per_expiry() {
    let Some(port) = redis_port() else { return };
    let name = unique("fleet");
    // Whole seconds: stores keep expiry times to the second.
    let lifetime = Duration::from_secs(2);
    let server = Rotating::new("rt-0", lifetime);
    // Two hosts × two workers: four handles, four sources, one identity.
    let mut sources = Vec::new();
    for _ in 0..4 {
        let source = TokenSource::builder()
            .store(store(port, &name).await)
            .provider(server.clone())
            .build();
        sources.push(source);
    }
    store(port, &name).await.save(&expired("0")).await.unwrap();

    let started = Instant::now();
    for round in 1..=3 {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..1_000 {
            let s = sources[i % 4].clone();
            tasks.spawn(async move { s.token().await.map(|t| t.access_token.secret().to_owned()) });
        }
        let mut seen = std::collections::HashSet::new();
        while let Some(r) = tasks.join_next().await {
            seen.insert(r.unwrap().unwrap());
        }
        assert_eq!(seen.len(), 1, "round {round}: {seen:?}");
        assert!(
            seen.contains(&format!("at-{round}")),
            "round {round}: {seen:?}"
        );
        assert_eq!(
            server.refreshes.load(Ordering::SeqCst),
            round,
            "one refresh per expiry"
        );
        // Let this round's token expire.
        tokio::time::sleep(lifetime + Duration::from_millis(50)).await;
    }
    assert_eq!(
        server.reused.load(Ordering::SeqCst),
        0,
        "no rotated token was reused"
    );
    let stored = store(port, &name).await.load().await.unwrap().unwrap();
    assert_eq!(stored.refresh_token.unwrap().secret(), "rt-3");
    eprintln!(
        "3 expiries × 1000 calls on 4 workers: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_stalled_holder_cannot_overwrite_a_newer_token_set() {
    let Some(port) = redis_port() else { return };
    let name = unique("stall");
    let a = store(port, &name)
        .await
        .lock_ttl(Duration::from_millis(100));
    let b = store(port, &name).await;

    let a_lock = a.lock().await.unwrap();
    let a_fence = a.held_fence().unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await; // A stalls past the expiry.
    let b_lock = b.lock().await.unwrap();
    assert!(b.held_fence().unwrap() > a_fence, "fences only grow");

    // Refused even before B has written: B took the lock, so B's view must win.
    let err = a
        .save(&set("a", Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Fenced { .. }), "{err}");
    b.save(&set("b", Duration::from_secs(60))).await.unwrap();
    let err = a
        .save(&set("a", Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Fenced { .. }), "{err}");
    assert!(err.to_string().contains("refused"), "{err}");
    let err = a.clear().await.unwrap_err();
    assert!(matches!(err, StoreError::Fenced { .. }), "{err}");
    assert_eq!(
        b.load().await.unwrap().unwrap().access_token.secret(),
        "at-b",
        "the newer set is intact"
    );

    // A releasing its expired lock must not release B's.
    drop(a_lock);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let c = store(port, &name)
        .await
        .lock_timeout(Duration::from_millis(100));
    let err = c.lock().await.unwrap_err();
    assert!(err.to_string().contains("held the Redis lock"), "{err}");
    drop(b_lock);
    let c = c.lock_timeout(Duration::from_secs(5));
    let _c_lock = c.lock().await.unwrap();
}

#[tokio::test]
async fn a_stalled_source_keeps_the_newer_tokens_of_another_worker() {
    // End to end: worker A refreshes but stalls past the lock expiry before saving; B
    // refreshes meanwhile. A's late save is refused and the store keeps B's tokens.
    let Some(port) = redis_port() else { return };
    let name = unique("stall-source");
    struct Slow(Duration, &'static str);
    impl TokenProvider for Slow {
        fn fetch<'a>(
            &'a self,
            _c: Option<&'a TokenSet>,
        ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
            Box::pin(async move {
                tokio::time::sleep(self.0).await;
                Ok(set(self.1, Duration::from_secs(3600)))
            })
        }
    }
    store(port, &name).await.save(&expired("0")).await.unwrap();
    let a = TokenSource::builder()
        .store(
            store(port, &name)
                .await
                .lock_ttl(Duration::from_millis(100)),
        )
        .provider(Slow(Duration::from_millis(300), "a"))
        .build();
    let b = TokenSource::builder()
        .store(store(port, &name).await)
        .provider(Slow(Duration::from_millis(10), "b"))
        .build();
    let a_task = tokio::spawn({
        let a = a.clone();
        async move { a.token().await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(b.token().await.unwrap().access_token.secret(), "at-b");
    let err = a_task.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    let stored = store(port, &name).await.load().await.unwrap().unwrap();
    assert_eq!(stored.access_token.secret(), "at-b");
}

#[tokio::test]
async fn save_load_clear_and_a_corrupt_value_is_kept_aside() {
    let Some(port) = redis_port() else { return };
    let name = unique("basic");
    let s = store(port, &name).await;
    assert!(s.load().await.unwrap().is_none());
    s.save(&set("1", Duration::from_secs(60))).await.unwrap();
    s.save(&set("2", Duration::from_secs(60))).await.unwrap();
    let loaded = s.load().await.unwrap().unwrap();
    assert_eq!(loaded.refresh_token.unwrap().secret(), "rt-2");
    s.clear().await.unwrap();
    assert!(s.load().await.unwrap().is_none());
    assert!(!format!("{s:?}").contains("127.0.0.1"), "no URL in Debug");

    let key = format!("authflow:{{{name}}}:tokens");
    let o = Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "HSET",
            &key,
            "tokens",
        ])
        .arg("{\"version\":1,\"access_token\":\"SECRET")
        .output();
    let Ok(o) = o else {
        skip::skip(
            "redis-cli",
            "redis-cli is not installed, so the corrupt-value part did not run (scripts/install-test-tools installs it with redis-server)",
        );
        return;
    };
    assert!(o.status.success());
    let err = s.load().await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("corrupt") && msg.contains("log in again"),
        "{msg}"
    );
    assert!(
        !msg.contains("SECRET") && !format!("{err:?}").contains("SECRET"),
        "{msg}"
    );
    assert!(
        s.load().await.unwrap().is_none(),
        "moved aside, not left in place"
    );
}

#[tokio::test]
async fn connection_errors_do_not_show_the_url() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = RedisStore::connect(&format!("redis://:hunter2@127.0.0.1:{port}/"), "x")
        .await
        .unwrap_err();
    let msg = format!("{err} {err:?}");
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(msg.contains("redis store"), "{msg}");
    let err = RedisStore::connect("not a url hunter2", "x")
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
}
