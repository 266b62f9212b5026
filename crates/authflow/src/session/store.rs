//! Where token sets live.

use std::path::PathBuf;
use std::sync::Mutex;

use super::token_set::TokenSet;
use crate::client::BoxFuture;

/// A failure to read or write a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file could not be read or written.
    #[error("token store {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file did not parse; it was moved aside, never overwritten.
    #[error(
        "token store {path} is corrupt ({reason}); it was kept as {kept_as} and you need to log in again"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the unreadable file now is.
        kept_as: PathBuf,
        /// What was wrong (never the content).
        reason: String,
    },
    /// The file was written by a newer authflow.
    #[error(
        "token store {path} has format version {found}; this authflow reads up to {supported}: upgrade authflow"
    )]
    NewerFormat {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The file's permissions let other users read it.
    #[error(
        "token store {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// A write under a lock that had expired, after another holder took the lock (or
    /// wrote): refused, so that a newer token set is not overwritten.
    #[error(
        "token store {store}: the refresh lock expired before this write and another worker has taken it since; the write was refused"
    )]
    Fenced {
        /// Which store (never a secret).
        store: String,
    },
    /// No OS keyring could be reached (no Secret Service on the session D-Bus, a locked
    /// or missing keychain).
    #[error(
        "{entry}: no OS keyring is reachable ({reason}); on Linux a Secret Service (GNOME Keyring, KWallet) must run on the session D-Bus, otherwise use the file store (FileStore)"
    )]
    KeyringUnavailable {
        /// Which entry.
        entry: String,
        /// What the platform said (never a stored value).
        reason: String,
    },
    /// Any other store (keyring, Redis) failure.
    #[error("token store: {0}")]
    Backend(String),
}

/// Persists one token set (one profile or user).
///
/// Implementations must make `save` atomic: a reader sees the old set or the new one,
/// never a mix, even if the process dies mid-way.
pub trait TokenStore: Send + Sync + 'static {
    /// The stored set, if any.
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>, StoreError>>;
    /// Replaces the stored set.
    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Forgets the stored set.
    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Takes the store's exclusive refresh lock, shared with other processes (and hosts,
    /// for network stores). Refresh runs under it so that a rotated refresh token is used
    /// once. Stores used by one process only may keep the default, which locks nothing.
    fn lock(&self) -> BoxFuture<'_, Result<StoreLock, StoreError>> {
        Box::pin(async { Ok(StoreLock::none()) })
    }
}

/// A held store lock; dropping it releases the lock.
#[must_use = "the lock is released when this is dropped"]
pub struct StoreLock {
    _guard: Option<Box<dyn Send + Sync>>,
}

impl StoreLock {
    /// A lock that holds nothing.
    pub fn none() -> Self {
        Self { _guard: None }
    }

    /// Wraps a guard whose drop releases the lock.
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self {
            _guard: Some(Box::new(guard)),
        }
    }
}

impl std::fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreLock")
    }
}

/// A store in memory, for tests and short-lived programs.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tokens: Mutex<Option<TokenSet>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TokenStore for MemoryStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>, StoreError>> {
        let v = self
            .tokens
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        Box::pin(async move { Ok(v) })
    }

    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<(), StoreError>> {
        match self.tokens.lock() {
            Ok(mut g) => *g = Some(tokens.clone()),
            Err(p) => *p.into_inner() = Some(tokens.clone()),
        }
        Box::pin(async { Ok(()) })
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        match self.tokens.lock() {
            Ok(mut g) => *g = None,
            Err(p) => *p.into_inner() = None,
        }
        Box::pin(async { Ok(()) })
    }
}
