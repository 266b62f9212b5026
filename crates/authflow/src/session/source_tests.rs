use std::sync::atomic::AtomicUsize;

use super::*;
use crate::client::{BoxFuture, Error as ClientError, HttpError};
use crate::session::MemoryStore;
use crate::types::RefreshToken;

/// Counts fetches; each takes `delay` and hands out `at-N`.
struct Counting {
    calls: Arc<AtomicUsize>,
    delay: Duration,
    lifetime: Duration,
    fail: Option<fn() -> SessionError>,
}

impl Counting {
    fn new(delay_ms: u64) -> (Self, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let p = Self {
            calls: calls.clone(),
            delay: Duration::from_millis(delay_ms),
            lifetime: Duration::from_secs(3600),
            fail: None,
        };
        (p, calls)
    }
}

impl TokenProvider for Counting {
    fn fetch<'a>(
        &'a self,
        _c: Option<&'a TokenSet>,
    ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(self.delay).await;
            if let Some(f) = self.fail {
                return Err(f());
            }
            let now = SystemTime::now();
            let mut set = TokenSet::new(AccessToken::new(format!("at-{n}")).unwrap())
                .with_expiry(Some(now + self.lifetime))
                .with_refresh_token(Some(RefreshToken::new(format!("rt-{n}")).unwrap()));
            set.obtained_at = Some(now);
            Ok(set)
        })
    }
}

fn expired() -> TokenSet {
    TokenSet::new(AccessToken::new("old").unwrap())
        .with_expiry(Some(SystemTime::now() - Duration::from_secs(1)))
}

fn transient() -> SessionError {
    ClientError::Http(HttpError::Timeout {
        url: "http://127.0.0.1/token".into(),
    })
    .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_callers_one_refresh() {
    let (p, calls) = Counting::new(50);
    let source = TokenSource::builder()
        .initial(expired())
        .provider(p)
        .build();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10_000 {
        let s = source.clone();
        tasks.spawn(async move { s.token().await.map(|t| t.access_token.secret().to_owned()) });
    }
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.unwrap().unwrap(), "at-1");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // And the fast path afterwards does not fetch.
    assert_eq!(source.token().await.unwrap().access_token.secret(), "at-1");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_cancelled_waiter_does_not_cancel_the_refresh() {
    let (p, calls) = Counting::new(200);
    let source = TokenSource::builder()
        .initial(expired())
        .provider(p)
        .build();
    let first = source.clone();
    let cancelled = tokio::time::timeout(
        Duration::from_millis(20),
        async move { first.token().await },
    )
    .await;
    assert!(cancelled.is_err(), "the first caller gave up");
    let t = source.token().await.unwrap();
    assert_eq!(t.access_token.secret(), "at-1");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn refreshes_ahead_of_expiry_by_the_skew() {
    let (p, calls) = Counting::new(0);
    let now = SystemTime::now();
    let mut soon = TokenSet::new(AccessToken::new("soon").unwrap())
        .with_expiry(Some(now + Duration::from_secs(30)));
    soon.obtained_at = Some(now - Duration::from_secs(3570));
    let source = TokenSource::builder().initial(soon).provider(p).build();
    // 30 s left of a one-hour token: inside the 60 s skew.
    assert_eq!(source.token().await.unwrap().access_token.secret(), "at-1");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn rejection_forces_one_refresh_and_stale_rejections_are_ignored() {
    let (p, calls) = Counting::new(0);
    let unknown = TokenSet::new(AccessToken::new("no-expiry").unwrap());
    let source = TokenSource::builder().initial(unknown).provider(p).build();
    assert_eq!(
        source.token().await.unwrap().access_token.secret(),
        "no-expiry"
    );
    let rejected = AccessToken::new("no-expiry").unwrap();
    assert_eq!(
        source
            .refresh_after_rejection(&rejected)
            .await
            .unwrap()
            .access_token
            .secret(),
        "at-1"
    );
    // A second task reporting the same old token gets the new one without a fetch.
    assert_eq!(
        source
            .refresh_after_rejection(&rejected)
            .await
            .unwrap()
            .access_token
            .secret(),
        "at-1"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn transient_failure_keeps_a_still_valid_token_and_backs_off() {
    let (mut p, calls) = Counting::new(0);
    p.fail = Some(transient);
    let now = SystemTime::now();
    let valid = TokenSet::new(AccessToken::new("still-good").unwrap())
        .with_expiry(Some(now + Duration::from_secs(20)));
    let source = TokenSource::builder().initial(valid).provider(p).build();
    assert_eq!(
        source.token().await.unwrap().access_token.secret(),
        "still-good"
    );
    assert_eq!(
        source.token().await.unwrap().access_token.secret(),
        "still-good"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "backoff: no second attempt at once"
    );
}

#[tokio::test]
async fn transient_failure_with_an_expired_token_is_an_error() {
    let (mut p, _) = Counting::new(0);
    p.fail = Some(transient);
    let source = TokenSource::builder()
        .initial(expired())
        .provider(p)
        .build();
    let e = source.token().await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
}

#[tokio::test]
async fn login_required_clears_the_store() {
    let (mut p, _) = Counting::new(0);
    p.fail = Some(|| SessionError::LoginRequired("refresh token refused".into()));
    let store = Arc::new(MemoryStore::new());
    store.save(&expired()).await.unwrap();
    let source = TokenSource::builder()
        .shared_store(store.clone())
        .provider(p)
        .build();
    assert!(source.token().await.unwrap_err().is_login_required());
    assert!(store.load().await.unwrap().is_none());
    assert!(source.cached().is_none());
}

#[tokio::test]
async fn under_the_lock_a_fresher_stored_token_wins_over_a_fetch() {
    let (p, calls) = Counting::new(0);
    let store = Arc::new(MemoryStore::new());
    // Another process refreshed already: the store holds a fresh set.
    let mut fresh = TokenSet::new(AccessToken::new("from-other-process").unwrap())
        .with_expiry(Some(SystemTime::now() + Duration::from_secs(3600)));
    fresh.obtained_at = Some(SystemTime::now());
    store.save(&fresh).await.unwrap();
    let source = TokenSource::builder()
        .initial(expired())
        .shared_store(store.clone())
        .provider(p)
        .build();
    assert_eq!(
        source.token().await.unwrap().access_token.secret(),
        "from-other-process"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn new_tokens_are_persisted_before_they_are_handed_out() {
    let (p, _) = Counting::new(0);
    let store = Arc::new(MemoryStore::new());
    let source = TokenSource::builder()
        .initial(expired())
        .shared_store(store.clone())
        .provider(p)
        .build();
    let t = source.token().await.unwrap();
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.access_token, t.access_token);
    assert_eq!(stored.refresh_token.unwrap().secret(), "rt-1");
}

/// Panics on the first fetch, then works.
struct PanicsOnce(Arc<AtomicUsize>);

impl TokenProvider for PanicsOnce {
    fn fetch<'a>(
        &'a self,
        _c: Option<&'a TokenSet>,
    ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            assert!(n > 0, "provider bug on the first call");
            Ok(TokenSet::new(AccessToken::new("after-panic").unwrap()))
        })
    }
}

#[tokio::test]
async fn a_panicking_refresh_does_not_break_the_source() {
    let calls = Arc::new(AtomicUsize::new(0));
    let source = TokenSource::builder()
        .initial(expired())
        .provider(PanicsOnce(calls.clone()))
        .build();
    assert!(matches!(
        source.token().await,
        Err(SessionError::Internal(_))
    ));
    assert_eq!(
        source.token().await.unwrap().access_token.secret(),
        "after-panic"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// A store whose saves fail.
struct FailingSave(MemoryStore);

impl TokenStore for FailingSave {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>, crate::session::StoreError>> {
        self.0.load()
    }
    fn save<'a>(
        &'a self,
        _t: &'a TokenSet,
    ) -> BoxFuture<'a, Result<(), crate::session::StoreError>> {
        Box::pin(async { Err(crate::session::StoreError::Backend("disk full".into())) })
    }
    fn clear(&self) -> BoxFuture<'_, Result<(), crate::session::StoreError>> {
        self.0.clear()
    }
}

#[tokio::test]
async fn a_failed_save_keeps_the_rotated_token_in_memory() {
    let (p, calls) = Counting::new(0);
    let source = TokenSource::builder()
        .initial(expired())
        .store(FailingSave(MemoryStore::new()))
        .provider(p)
        .build();
    let e = source.token().await.unwrap_err();
    assert!(e.to_string().contains("disk full"), "{e}");
    // The new refresh token is not thrown away: the next caller uses the new set.
    let cached = source.cached().unwrap();
    assert_eq!(cached.refresh_token.as_ref().unwrap().secret(), "rt-1");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_cached_token_is_a_snapshot_of_the_current_set() {
    let (p, calls) = Counting::new(0);
    let valid = TokenSet::new(AccessToken::new("at-0").unwrap())
        .with_expiry(Some(SystemTime::now() + Duration::from_secs(3600)));
    let source = TokenSource::builder().initial(valid).provider(p).build();
    let cached = source.cached().unwrap();
    let count = Arc::strong_count(&cached);
    let held = source.token().await.unwrap();
    assert!(Arc::ptr_eq(held.as_arc(), &cached));
    assert_eq!(
        Arc::strong_count(&cached),
        count,
        "a cached token is read without taking a reference"
    );
    drop(cached);
    // A refresh replaces the set; the guard still reads the one it was given.
    let fresh = source.force_refresh().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(held.access_token.secret(), "at-0");
    let kept = held.into_arc();
    assert_eq!(kept.access_token.secret(), "at-0");
    assert!(Arc::ptr_eq(source.token().await.unwrap().as_arc(), &fresh));
    assert!(!format!("{:?}", source.token().await.unwrap()).contains("at-1"));
}
