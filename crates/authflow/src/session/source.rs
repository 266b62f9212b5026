//! [`TokenSource`]: hands out a valid access token, refreshing ahead of expiry, one
//! refresh at a time however many tasks ask.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use tokio::sync::watch;

use super::error::SessionError;
use super::provider::TokenProvider;
use super::step_up::{StepUp, union};
use super::store::TokenStore;
use super::token_guard::TokenGuard;
use super::token_set::TokenSet;
use crate::types::{AccessToken, Scope};

type Outcome = Option<Result<Arc<TokenSet>, SessionError>>;

/// A source of valid access tokens.
///
/// - Fast path: a lock-free read of the cached set (`ArcSwap`), no allocation, and no
///   shared reference count (see [`TokenGuard`]).
/// - Refresh ahead of expiry by the skew (default: the smaller of 60 s and 10 % of the
///   token's lifetime); a token of unknown lifetime is used until a resource rejects it
///   ([`refresh_after_rejection`](Self::refresh_after_rejection)).
/// - Single-flight: one refresh runs in its own task; every caller waits for its result,
///   and a caller that gives up does not cancel it for the others.
/// - With a store: refresh runs under the store's lock, re-reads the store first (another
///   process may have refreshed), and persists the new set before anyone sees it.
///
/// Cheap to clone.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    current: ArcSwapOption<TokenSet>,
    provider: Option<Arc<dyn TokenProvider>>,
    store: Option<Arc<dyn TokenStore>>,
    skew: Option<Duration>,
    step_up: Option<Arc<dyn StepUp>>,
    /// The scopes a step-up may ask for; `None`: any a resource names.
    step_up_within: Option<Scope>,
    /// One step-up at a time (each may open a browser), and the scopes a step-up asked for
    /// and did not get: not asked for again by this source.
    stepping_up: tokio::sync::Mutex<Scope>,
    inflight: Mutex<Option<watch::Receiver<Outcome>>>,
    /// After a transient failure, no new attempt before this time (ms since the epoch)
    /// while the current token is still valid.
    retry_after_ms: AtomicU64,
    failures: AtomicU64,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("current", &self.inner.current.load().as_deref())
            .field("has_store", &self.inner.store.is_some())
            .finish_non_exhaustive()
    }
}

/// Configures a [`TokenSource`].
#[must_use]
pub struct TokenSourceBuilder {
    initial: Option<TokenSet>,
    provider: Option<Arc<dyn TokenProvider>>,
    store: Option<Arc<dyn TokenStore>>,
    skew: Option<Duration>,
    step_up: Option<Arc<dyn StepUp>>,
    step_up_within: Option<Scope>,
}

impl TokenSourceBuilder {
    /// Lets the source widen its grant when a resource answers `403 insufficient_scope`
    /// (see [`StepUp`]). Without it, that answer is an error for the caller.
    pub fn step_up(mut self, step_up: impl StepUp) -> Self {
        self.step_up = Some(Arc::new(step_up));
        self
    }

    /// Limits step-up to these scopes (say, the resource's RFC 9728 `scopes_supported`, or
    /// what the application is registered for): a resource that asks for another is
    /// answered with the `insufficient_scope` error, and no new authorization is started.
    pub fn step_up_within(mut self, allowed: Scope) -> Self {
        self.step_up_within = Some(allowed);
        self
    }

    /// The tokens to start with. With a store, the store is the truth: these serve until
    /// the first refresh, which reads the store (an empty store means logged out).
    pub fn initial(mut self, tokens: TokenSet) -> Self {
        self.initial = Some(tokens);
        self
    }

    /// Where new tokens come from.
    pub fn provider(mut self, provider: impl TokenProvider) -> Self {
        self.provider = Some(Arc::new(provider));
        self
    }

    /// Where tokens are persisted, and whose lock serialises refreshes across processes.
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// A shared store.
    pub fn shared_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// A fixed refresh skew instead of the default.
    pub fn skew(mut self, skew: Duration) -> Self {
        self.skew = Some(skew);
        self
    }

    /// Builds the source.
    pub fn build(self) -> TokenSource {
        TokenSource {
            inner: Arc::new(Inner {
                current: ArcSwapOption::new(self.initial.map(Arc::new)),
                provider: self.provider,
                store: self.store,
                skew: self.skew,
                step_up: self.step_up,
                step_up_within: self.step_up_within,
                stepping_up: tokio::sync::Mutex::new(Scope::empty()),
                inflight: Mutex::new(None),
                retry_after_ms: AtomicU64::new(0),
                failures: AtomicU64::new(0),
            }),
        }
    }
}

impl TokenSource {
    /// Starts configuring a source.
    pub fn builder() -> TokenSourceBuilder {
        TokenSourceBuilder {
            initial: None,
            provider: None,
            store: None,
            skew: None,
            step_up: None,
            step_up_within: None,
        }
    }

    /// A source that always hands out `tokens` and never refreshes.
    pub fn fixed(tokens: TokenSet) -> Self {
        Self::builder().initial(tokens).build()
    }

    /// A valid token set. The access token is `result.access_token`.
    ///
    /// Must run inside a tokio runtime: a refresh runs as its own task.
    pub async fn token(&self) -> Result<TokenGuard, SessionError> {
        match self.usable() {
            Some(cur) => Ok(cur),
            // Boxed: the refresh future is large, and callers (every authorized request)
            // hold this one in theirs.
            None => Box::pin(self.refresh(None)).await.map(TokenGuard::from),
        }
    }

    /// The cached set if it can be used as it is, without I/O.
    fn usable(&self) -> Option<TokenGuard> {
        let now = SystemTime::now();
        // `load`, not `load_full`: no reference count shared by every reader.
        let cur = TokenGuard::loaded(self.inner.current.load())?;
        if !cur.needs_refresh(now, self.skew_for(&cur)) {
            return Some(cur);
        }
        // Backing off after a transient failure: a still-valid token is good enough.
        (!cur.is_expired(now) && millis(now) < self.inner.retry_after_ms.load(Ordering::Relaxed))
            .then_some(cur)
    }

    /// The cached set without any I/O, if there is one.
    pub fn cached(&self) -> Option<Arc<TokenSet>> {
        self.inner.current.load_full()
    }

    /// Call after a resource answered `401 invalid_token` for `rejected`: refreshes unless
    /// another task already replaced that token, and returns the newer set.
    pub async fn refresh_after_rejection(
        &self,
        rejected: &AccessToken,
    ) -> Result<Arc<TokenSet>, SessionError> {
        if let Some(cur) = self.inner.current.load_full()
            && &cur.access_token != rejected
        {
            return Ok(cur);
        }
        self.refresh(Some(rejected.clone())).await
    }

    /// Whether this source can widen its grant ([`TokenSourceBuilder::step_up`]).
    pub fn can_step_up(&self) -> bool {
        self.inner.step_up.is_some()
    }

    /// Call after a resource answered `403 insufficient_scope` naming `required` to the
    /// token `used`: new tokens for the union of the current scope and `required`, saved
    /// to the store, one step-up at a time (a caller that waited gets the set another
    /// stepped up to). `None` when a step-up cannot help: no [`StepUp`] was given;
    /// `required` is empty, outside [`step_up_within`](TokenSourceBuilder::step_up_within),
    /// or was asked for before and not granted; or the current tokens were granted
    /// `required` already and the resource refuses anyway. New tokens that still lack
    /// `required` are kept (they are the newest), and `None` is returned.
    pub async fn step_up(
        &self,
        required: &Scope,
        used: &AccessToken,
    ) -> Result<Option<Arc<TokenSet>>, SessionError> {
        let Some(step_up) = &self.inner.step_up else {
            return Ok(None);
        };
        if required.is_empty()
            || self
                .inner
                .step_up_within
                .as_ref()
                .is_some_and(|allowed| !required.is_subset_of(allowed))
        {
            return Ok(None);
        }
        let mut refused = self.inner.stepping_up.lock().await;
        let current = self.inner.current.load_full();
        let granted = current.as_ref().and_then(|c| c.scope.as_ref());
        if granted.is_some_and(|g| required.is_subset_of(g)) {
            // Stepped up by another caller meanwhile, or the resource wants more than scope.
            return Ok(current.filter(|c| &c.access_token != used));
        }
        if required.iter().all(|t| refused.contains(t.as_str())) {
            return Ok(None);
        }
        let scope = union(granted, required);
        tracing::debug!(%scope, "resource answered insufficient_scope; stepping up");
        let fresh = Arc::new(step_up.step_up(current.as_deref(), &scope).await?);
        if let Some(store) = &self.inner.store {
            let _lock = store.lock().await?;
            // The store is the truth: another process logged out meanwhile.
            if store.load().await?.is_none() && current.is_some() {
                self.inner.current.store(None);
                return Err(SessionError::LoginRequired(
                    "logged out while stepping up".into(),
                ));
            }
            store.save(&fresh).await?;
        }
        self.inner.current.store(Some(fresh.clone()));
        let got = fresh
            .scope
            .as_ref()
            .is_none_or(|g| required.is_subset_of(g));
        if !got {
            tracing::warn!(%required, "the step-up did not grant the scope the resource asked for");
            for t in required.iter() {
                refused.insert(t.clone());
            }
            return Ok(None);
        }
        Ok(Some(fresh))
    }

    /// Forces a refresh now (single-flight like any other).
    pub async fn force_refresh(&self) -> Result<Arc<TokenSet>, SessionError> {
        let current = self
            .inner
            .current
            .load_full()
            .map(|c| c.access_token.clone());
        self.refresh(current).await
    }

    fn skew_for(&self, set: &TokenSet) -> Duration {
        self.inner.skew.unwrap_or_else(|| set.refresh_skew())
    }

    /// Joins the refresh in flight, or starts one. `rejected`: the token a resource
    /// refused, which must be replaced even if its clock says it is valid.
    async fn refresh(&self, rejected: Option<AccessToken>) -> Result<Arc<TokenSet>, SessionError> {
        let mut rx = {
            let mut slot = self
                .inner
                .inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match slot.as_ref() {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    *slot = Some(rx.clone());
                    let this = self.clone();
                    // The guard publishes a result and frees the slot however the task
                    // ends: normally, by panic, or because its runtime shut down.
                    let mut guard = Inflight {
                        inner: self.inner.clone(),
                        tx: Some(tx),
                    };
                    tokio::spawn(async move {
                        let result = this.run_refresh(rejected).await;
                        if result.is_ok() {
                            this.inner.failures.store(0, Ordering::Relaxed);
                        }
                        guard.finish(result);
                    });
                    rx
                }
            }
        };
        loop {
            if let Some(result) = rx.borrow_and_update().clone() {
                return result;
            }
            if rx.changed().await.is_err() {
                return Err(SessionError::Internal(
                    "the refresh task ended without a result".into(),
                ));
            }
        }
    }

    async fn run_refresh(
        &self,
        rejected: Option<AccessToken>,
    ) -> Result<Arc<TokenSet>, SessionError> {
        let now = SystemTime::now();
        let _lock = match &self.inner.store {
            Some(store) => Some(store.lock().await?),
            None => None,
        };
        // Under the lock, another process may have refreshed already.
        let mut current = self.inner.current.load_full();
        if let Some(store) = &self.inner.store {
            match store.load().await? {
                Some(stored) => {
                    let stored = Arc::new(stored);
                    let replaced = rejected.as_ref().is_none_or(|r| &stored.access_token != r);
                    if replaced && !stored.needs_refresh(now, self.skew_for(&stored)) {
                        self.inner.current.store(Some(stored.clone()));
                        return Ok(stored);
                    }
                    current = Some(stored);
                }
                // The store is the truth: empty means another process logged out, and
                // refreshing from memory would undo that.
                None => current = None,
            }
        }
        if let Some(cur) = &current {
            let replaced = rejected.as_ref().is_none_or(|r| &cur.access_token != r);
            if replaced && !cur.needs_refresh(now, self.skew_for(cur)) {
                self.inner.current.store(Some(cur.clone()));
                return Ok(cur.clone());
            }
        }
        let Some(provider) = &self.inner.provider else {
            return match current {
                Some(cur) if !cur.is_expired(now) && rejected.is_none() => Ok(cur),
                _ => Err(SessionError::LoginRequired(
                    "the token expired and this source cannot get a new one".into(),
                )),
            };
        };
        match provider.fetch(current.as_deref()).await {
            Ok(fresh) => {
                // Persist first: a rotated refresh token must not exist only in memory.
                let saved = match &self.inner.store {
                    Some(store) => store.save(&fresh).await,
                    None => Ok(()),
                };
                let fresh = Arc::new(fresh);
                // Even when saving failed, memory keeps the new set: the old refresh
                // token may already be dead, and this is now the only copy.
                self.inner.current.store(Some(fresh.clone()));
                match saved {
                    Ok(()) => Ok(fresh),
                    Err(e) => {
                        tracing::error!(error = %e, "refreshed tokens could not be saved");
                        Err(e.into())
                    }
                }
            }
            Err(e) if e.is_login_required() => {
                if let Some(store) = &self.inner.store {
                    store.clear().await?;
                }
                self.inner.current.store(None);
                Err(e)
            }
            Err(e) => {
                if e.is_transient() {
                    let n = self.inner.failures.fetch_add(1, Ordering::Relaxed).min(5);
                    let backoff = Duration::from_secs(1 << n);
                    self.inner
                        .retry_after_ms
                        .store(millis(now + backoff), Ordering::Relaxed);
                    if let Some(cur) = current.filter(|c| !c.is_expired(now) && rejected.is_none())
                    {
                        tracing::warn!(error = %e, "refresh failed; using the current token, which is still valid");
                        return Ok(cur);
                    }
                }
                Err(e)
            }
        }
    }
}

/// The refresh in flight: frees the slot and answers the waiters when dropped.
struct Inflight {
    inner: Arc<Inner>,
    tx: Option<watch::Sender<Outcome>>,
}

impl Inflight {
    fn finish(&mut self, result: Result<Arc<TokenSet>, SessionError>) {
        self.clear_slot();
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Some(result));
        }
    }

    fn clear_slot(&self) {
        // Clear before publishing, so a caller that finds the result stale starts anew.
        let mut slot = self
            .inner
            .inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = None;
    }
}

impl Drop for Inflight {
    fn drop(&mut self) {
        if self.tx.is_some() {
            self.finish(Err(SessionError::Internal(
                "the token refresh was interrupted (task cancelled or panicked); try again".into(),
            )));
        }
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
