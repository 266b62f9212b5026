//! [`TokenGuard`]: what [`TokenSource::token`](super::TokenSource::token) hands out.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::token_set::TokenSet;

/// A valid token set, as [`TokenSource::token`](super::TokenSource::token) returns it:
/// dereferences to [`TokenSet`], so the access token is `guard.access_token`.
///
/// From the cache it is an `arc-swap` guard: a borrow recorded in one of a few slots of
/// the reading thread, with no shared reference count, so tasks on many cores read the
/// token without contending for one cache line. It is meant for short reads: use it and
/// drop it, with no `.await` in between. A thread has 8 such slots; past that, loads
/// quietly fall back to a shared count, which is slower but still correct. To keep the set
/// across an `.await` or in a struct, take an `Arc` with [`into_arc`](Self::into_arc).
///
/// ```
/// # async fn run(source: authflow::session::TokenSource) -> Result<(), authflow::session::SessionError> {
/// let tokens = source.token().await?;
/// let header = format!("Bearer {}", tokens.access_token.secret());
/// # let _ = header; Ok(()) }
/// ```
pub struct TokenGuard(Repr);

enum Repr {
    /// Loaded from the source's cache; always `Some` (checked where it is made).
    Loaded(arc_swap::Guard<Option<Arc<TokenSet>>>),
    /// Returned by a refresh.
    Owned(Arc<TokenSet>),
}

impl TokenGuard {
    /// A loaded snapshot, if it holds a set.
    pub(super) fn loaded(guard: arc_swap::Guard<Option<Arc<TokenSet>>>) -> Option<Self> {
        guard.is_some().then(|| Self(Repr::Loaded(guard)))
    }

    /// The set as a shared `Arc`, borrowed (no reference count changes).
    pub fn as_arc(&self) -> &Arc<TokenSet> {
        match &self.0 {
            Repr::Owned(set) => set,
            Repr::Loaded(guard) => match &**guard {
                Some(set) => set,
                None => unreachable!("a loaded TokenGuard is made only from a set"),
            },
        }
    }

    /// The set as an `Arc` of its own, to keep beyond a request.
    pub fn into_arc(self) -> Arc<TokenSet> {
        match self.0 {
            Repr::Owned(set) => set,
            Repr::Loaded(_) => Arc::clone(self.as_arc()),
        }
    }
}

impl From<Arc<TokenSet>> for TokenGuard {
    fn from(set: Arc<TokenSet>) -> Self {
        Self(Repr::Owned(set))
    }
}

impl Deref for TokenGuard {
    type Target = TokenSet;

    fn deref(&self) -> &TokenSet {
        self.as_arc()
    }
}

impl AsRef<TokenSet> for TokenGuard {
    fn as_ref(&self) -> &TokenSet {
        self
    }
}

// Handed out of spawned tasks by callers, as the `Arc` it replaces was.
const _: fn() = || {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<TokenGuard>();
};

impl fmt::Debug for TokenGuard {
    // `TokenSet`'s own Debug, which redacts every secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
