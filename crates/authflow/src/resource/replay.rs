//! Replay detection for DPoP proofs (RFC 9449 §11.1): each proof's `jti` is used once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use crate::client::BoxFuture;

/// A proof's identity in a [`ReplayCache`]: SHA-256 over the proof key's thumbprint and
/// the proof's `jti`. Fixed-size whatever the client sent, and scoped to the key, so one
/// client cannot use up another's `jti`s.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProofId([u8; 32]);

impl ProofId {
    /// The id of the proof with key thumbprint `jkt` and `jti`.
    ///
    /// ```
    /// use authflow::resource::ProofId;
    /// assert_ne!(ProofId::new("key-a", "1"), ProofId::new("key-b", "1"));
    /// assert_eq!(ProofId::new("key-a", "1"), ProofId::new("key-a", "1"));
    /// ```
    pub fn new(jkt: &str, jti: &str) -> Self {
        let mut h = Sha256::new();
        h.update(jkt.as_bytes());
        // Thumbprints are base64url, so the separator cannot occur in `jkt`.
        h.update([0]);
        h.update(jti.as_bytes());
        Self(h.finalize().into())
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for ProofId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProofId({})", crate::jose::b64(&self.0[..6]))
    }
}

/// Why a [`ReplayCache`] could not answer. The resource server then refuses the request
/// (503): a proof that cannot be checked for replay is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// Every slot holds a proof that is still within its validity window.
    #[error("the DPoP replay cache is full")]
    Full,
    /// The shared store failed (the message names the operation, never a URL).
    #[error("DPoP replay cache: {0}")]
    Backend(String),
}

/// Remembers the proofs already used, for as long as they could be replayed.
///
/// Implementations must be atomic: of concurrent calls with the same id (on any instance
/// sharing the cache), exactly one gets `Ok(true)`. [`MemoryReplayCache`] serves one
/// process; `RedisReplayCache` (feature `redis`) serves several instances.
pub trait ReplayCache: Send + Sync + 'static {
    /// Records `id` for `ttl` unless it is recorded already: `Ok(true)` when it was not
    /// (first use: accept the proof), `Ok(false)` when it was (a replay).
    fn check_and_insert<'a>(
        &'a self,
        id: &'a ProofId,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, ReplayError>>;
}

impl<T: ReplayCache + ?Sized> ReplayCache for Arc<T> {
    fn check_and_insert<'a>(
        &'a self,
        id: &'a ProofId,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, ReplayError>> {
        (**self).check_and_insert(id, ttl)
    }
}

/// Proofs remembered at most, by default: at 60 s per proof, a thousand DPoP requests a
/// second, sustained. About 100 bytes each.
pub const DEFAULT_REPLAY_CAPACITY: usize = 64 * 1024;
const SHARDS: usize = 16;
/// The longest a proof is remembered, whatever the caller asks.
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// An in-process [`ReplayCache`]: bounded, with expiry, cheap to clone (clones share the
/// entries). Sixteen shards, each a short `std` mutex section with no `.await` inside.
///
/// When full of proofs still within their window it refuses new ones
/// ([`ReplayError::Full`]) rather than forget a live one.
///
/// ```
/// # tokio_test_block(async {
/// use std::time::Duration;
/// use authflow::resource::{MemoryReplayCache, ProofId, ReplayCache};
/// let cache = MemoryReplayCache::new(1000);
/// let id = ProofId::new("jkt", "jti-1");
/// assert_eq!(cache.check_and_insert(&id, Duration::from_secs(60)).await, Ok(true));
/// assert_eq!(cache.check_and_insert(&id, Duration::from_secs(60)).await, Ok(false));
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryReplayCache {
    shards: Arc<[Mutex<Shard>]>,
    per_shard: usize,
}

impl std::fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryReplayCache")
            .field("capacity", &(self.per_shard * SHARDS))
            .finish_non_exhaustive()
    }
}

impl Default for MemoryReplayCache {
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_CAPACITY)
    }
}

/// One shard: ids with their expiry, and the same in insertion order so that expired
/// entries leave from the front in O(1) each, with no scan. An entry that expires before
/// one inserted ahead of it waits for it (at most the longest TTL), counted as used.
#[derive(Default)]
struct Shard {
    until: HashMap<ProofId, Instant>,
    order: VecDeque<(ProofId, Instant)>,
}

impl Shard {
    fn check_and_insert(
        &mut self,
        id: &ProofId,
        now: Instant,
        until: Instant,
        cap: usize,
    ) -> Result<bool, ReplayError> {
        while let Some((old, expiry)) = self.order.front() {
            if *expiry > now {
                break;
            }
            // Only if no later insert of the same id renewed it.
            if self.until.get(old) == Some(expiry) {
                self.until.remove(old);
            }
            self.order.pop_front();
        }
        if self.until.get(id).is_some_and(|e| *e > now) {
            return Ok(false);
        }
        if self.order.len() >= cap {
            return Err(ReplayError::Full);
        }
        self.until.insert(*id, until);
        self.order.push_back((*id, until));
        Ok(true)
    }
}

impl MemoryReplayCache {
    /// A cache for at most `capacity` proofs (at least 16).
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard,
        }
    }

    fn insert_now(&self, id: &ProofId, ttl: Duration) -> Result<bool, ReplayError> {
        let now = Instant::now();
        let until = now
            .checked_add(ttl.min(MAX_TTL))
            .ok_or_else(|| ReplayError::Backend("the clock is out of range".into()))?;
        let shard = &self.shards[usize::from(id.0[0]) % SHARDS];
        // A poisoned shard only means a panic elsewhere mid-insert; its map is still whole.
        let mut shard = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        shard.check_and_insert(id, now, until, self.per_shard)
    }
}

impl ReplayCache for MemoryReplayCache {
    fn check_and_insert<'a>(
        &'a self,
        id: &'a ProofId,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, ReplayError>> {
        let result = self.insert_now(id, ttl);
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn id(n: u32) -> ProofId {
        ProofId::new("jkt", &n.to_string())
    }

    #[test]
    fn a_proof_is_new_once_then_again_after_it_expires() {
        let mut s = Shard::default();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        assert_eq!(s.check_and_insert(&id(1), t0, t0 + ttl, 10), Ok(true));
        assert_eq!(
            s.check_and_insert(&id(1), t0 + Duration::from_secs(59), t0 + ttl, 10),
            Ok(false)
        );
        assert_eq!(s.check_and_insert(&id(2), t0, t0 + ttl, 10), Ok(true));
        let later = t0 + ttl;
        assert_eq!(s.check_and_insert(&id(1), later, later + ttl, 10), Ok(true));
        assert_eq!(s.until.len(), 1, "expired entries left");
    }

    #[test]
    fn full_of_live_proofs_refuses_then_frees_room_as_they_expire() {
        let mut s = Shard::default();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        for n in 0..3 {
            assert_eq!(s.check_and_insert(&id(n), t0, t0 + ttl, 3), Ok(true));
        }
        assert_eq!(
            s.check_and_insert(&id(9), t0, t0 + ttl, 3),
            Err(ReplayError::Full)
        );
        // A replay is still told apart from a full cache.
        assert_eq!(s.check_and_insert(&id(0), t0, t0 + ttl, 3), Ok(false));
        let later = t0 + ttl;
        assert_eq!(s.check_and_insert(&id(9), later, later + ttl, 3), Ok(true));
        assert_eq!(s.order.len(), 1);
    }

    #[test]
    fn a_renewed_id_is_not_dropped_by_its_old_expiry() {
        let mut s = Shard::default();
        let t0 = Instant::now();
        let short = Duration::from_secs(1);
        let long = Duration::from_secs(60);
        assert_eq!(s.check_and_insert(&id(1), t0, t0 + short, 10), Ok(true));
        let t1 = t0 + short;
        assert_eq!(s.check_and_insert(&id(1), t1, t1 + long, 10), Ok(true));
        let t2 = t1 + Duration::from_secs(1);
        assert_eq!(s.check_and_insert(&id(1), t2, t2 + long, 10), Ok(false));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_uses_of_one_proof_admit_exactly_one() {
        let cache = MemoryReplayCache::new(1000);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let c = cache.clone();
            tasks.spawn(async move {
                c.check_and_insert(&id(7), Duration::from_secs(60))
                    .await
                    .unwrap()
            });
        }
        let mut admitted = 0;
        while let Some(r) = tasks.join_next().await {
            admitted += usize::from(r.unwrap());
        }
        assert_eq!(admitted, 1);
    }

    #[tokio::test]
    async fn capacity_is_bounded_across_shards() {
        let cache = MemoryReplayCache::new(32);
        let mut full = 0;
        for n in 0..200 {
            if cache
                .check_and_insert(&id(n), Duration::from_secs(60))
                .await
                == Err(ReplayError::Full)
            {
                full += 1;
            }
        }
        assert!(full >= 200 - 32, "{full}");
    }
}
