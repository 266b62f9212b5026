//! Bounded one-use memories of `jti` values: client assertions and JWT-bearer grants
//! (RFC 7523 §3: a `jti` is used once until its `exp`) and DPoP proofs (RFC 9449 §11.1).
//! Only what already verified is recorded, so an entry costs a valid signature.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::hashing::{Digest, sha256};

/// What [`ReplayCache::first_use`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// Not seen before; now remembered.
    First,
    /// Seen before and not yet expired.
    Replayed,
    /// Full of live entries: the caller must refuse rather than forget a live `jti`.
    Full,
}

struct Inner {
    seen: HashMap<Digest, u64>,
    next_sweep: u64,
}

/// See the module documentation.
pub(crate) struct ReplayCache {
    inner: Mutex<Inner>,
    max: usize,
}

impl ReplayCache {
    /// A cache holding at most `max` live entries.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                seen: HashMap::new(),
                next_sweep: 0,
            }),
            max,
        }
    }

    /// Records `parts` (joined unambiguously) until `until` unless already there.
    pub(crate) fn first_use(&self, parts: &[&str], until: u64, now: u64) -> Use {
        let key = replay_key(parts);
        // Only map operations happen under the lock; a panic elsewhere cannot corrupt it.
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // At most one sweep a second, full or not: sweeping a full map of live entries on
        // every call would make each request O(n) under the lock.
        if now >= g.next_sweep {
            g.seen.retain(|_, exp| *exp > now);
            g.next_sweep = now + 1;
        }
        match g.seen.get(&key) {
            Some(exp) if *exp > now => Use::Replayed,
            _ if g.seen.len() >= self.max => Use::Full,
            _ => {
                g.seen.insert(key, until);
                Use::First
            }
        }
    }
}

/// The digest `parts` are remembered by: length-prefixed, so ("ab", "c") and ("a", "bc")
/// differ.
pub(crate) fn replay_key(parts: &[&str]) -> Digest {
    let mut key = Vec::new();
    for p in parts {
        key.extend_from_slice(&(p.len() as u64).to_be_bytes());
        key.extend_from_slice(p.as_bytes());
    }
    sha256(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_until_expiry_and_bounded() {
        let c = ReplayCache::new(2);
        assert_eq!(c.first_use(&["c", "j1"], 20, 10), Use::First);
        assert_eq!(c.first_use(&["c", "j1"], 20, 11), Use::Replayed);
        assert_eq!(c.first_use(&["c2", "j1"], 20, 11), Use::First, "per client");
        assert_eq!(c.first_use(&["c", "j2"], 20, 11), Use::Full);
        assert_eq!(
            c.first_use(&["c", "j2"], 30, 21),
            Use::First,
            "expired ones go"
        );
        assert_eq!(c.first_use(&["c", "j1"], 30, 21), Use::First);
        assert_eq!(c.first_use(&["ab", "c"], 30, 21), Use::Full);
    }
}
