//! A token store in the OS keyring: the macOS Keychain, the Windows Credential Manager,
//! or a Secret Service (GNOME Keyring, KWallet) on the Linux session D-Bus.

use std::path::PathBuf;

use super::file_store::FileStore;
use super::store::{StoreError, StoreLock, TokenStore};
use super::token_set::{FORMAT_VERSION, TokenSet};
use crate::client::BoxFuture;

/// One token set as one keyring entry (service and account), stored as JSON.
///
/// The keyring has no lock of its own: give the store a lock file with
/// [`with_lock_file`](Self::with_lock_file) when several processes share the entry, so
/// that refreshes are serialised across them as with [`FileStore`].
///
/// Where no keyring is reachable (a server, a container, an SSH session without a Secret
/// Service), every call fails with [`StoreError::KeyringUnavailable`], which says so; fall
/// back to a [`FileStore`].
///
/// ```no_run
/// # async fn run() -> Result<(), authflow::session::StoreError> {
/// use authflow::session::{FileStore, KeyringStore, StoreError, TokenStore};
/// let store = KeyringStore::new("authflow", "default");
/// match store.load().await {
///     Err(StoreError::KeyringUnavailable { .. }) => {
///         let _fallback = FileStore::new("/home/me/.local/share/authflow/tokens/default.json");
///     }
///     other => { other?; }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
    account: String,
    lock: Option<FileStore>,
}

impl KeyringStore {
    /// The entry of `account` (e.g. a profile name) under `service` (e.g. `authflow`).
    /// Nothing is touched until the first call.
    pub fn new(service: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            account: account.into(),
            lock: None,
        }
    }

    /// Serialises refreshes across processes with an OS file lock on `path` (`.lock` is
    /// appended when missing; created 0600, its directory 0700; the kernel releases the
    /// lock if the process dies).
    #[must_use]
    pub fn with_lock_file(mut self, path: impl Into<PathBuf>) -> Self {
        let path: PathBuf = path.into();
        // FileStore locks `<file>.lock`: hand it the name without that suffix.
        let base = match path.extension() {
            Some(ext) if ext == "lock" => path.with_extension(""),
            _ => path,
        };
        self.lock = Some(FileStore::new(base));
        self
    }

    fn describe(&self) -> String {
        format!("keyring entry {}/{}", self.service, self.account)
    }

    fn entry(&self) -> Result<keyring::Entry, StoreError> {
        keyring::Entry::new(&self.service, &self.account).map_err(|e| self.error(&e))
    }

    /// Reads the entry on the calling thread (it may block on the keyring daemon).
    pub fn load_blocking(&self) -> Result<Option<TokenSet>, StoreError> {
        let json = match self.entry()?.get_password() {
            Ok(j) => zeroize::Zeroizing::new(j),
            Err(keyring::Error::NoEntry) => return Ok(None),
            Err(e) => return Err(self.error(&e)),
        };
        let corrupt = |reason: &str| {
            StoreError::Backend(format!(
                "{} is corrupt ({reason}); delete it and log in again",
                self.describe()
            ))
        };
        let value: serde_json::Value =
            serde_json::from_str(&json).map_err(|_| corrupt("not JSON"))?;
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v > u64::from(FORMAT_VERSION) => {
                return Err(StoreError::Backend(format!(
                    "{} has format version {v}; this authflow reads up to {FORMAT_VERSION}: upgrade authflow",
                    self.describe()
                )));
            }
            None => return Err(corrupt("no format version")),
            Some(_) => {}
        }
        serde_json::from_value(value)
            .map(Some)
            .map_err(|_| corrupt("fields missing or of the wrong type"))
    }

    /// Writes the entry on the calling thread.
    pub fn save_blocking(&self, tokens: &TokenSet) -> Result<(), StoreError> {
        let json = zeroize::Zeroizing::new(
            serde_json::to_string(tokens)
                .map_err(|e| StoreError::Backend(format!("cannot encode tokens: {e}")))?,
        );
        self.entry()?
            .set_password(&json)
            .map_err(|e| self.error(&e))
    }

    /// Deletes the entry on the calling thread. A missing entry is fine.
    pub fn clear_blocking(&self) -> Result<(), StoreError> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.error(&e)),
        }
    }

    /// Maps a keyring error without ever showing a stored value.
    fn error(&self, e: &keyring::Error) -> StoreError {
        match e {
            keyring::Error::PlatformFailure(cause) | keyring::Error::NoStorageAccess(cause) => {
                StoreError::KeyringUnavailable {
                    entry: self.describe(),
                    reason: one_line(&cause.to_string()),
                }
            }
            // Its payload is the stored bytes: never shown.
            keyring::Error::BadEncoding(_) => StoreError::Backend(format!(
                "{} is not UTF-8; delete it and log in again",
                self.describe()
            )),
            keyring::Error::Ambiguous(_) => StoreError::Backend(format!(
                "{} matches several keyring items; delete the duplicates",
                self.describe()
            )),
            other => StoreError::Backend(format!(
                "{}: {}",
                self.describe(),
                one_line(&other.to_string())
            )),
        }
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect()
}

/// Keyring calls off the async workers (they may block on a daemon or a prompt).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("keyring task failed: {e}")))?
}

impl TokenStore for KeyringStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>, StoreError>> {
        let this = self.clone();
        Box::pin(blocking(move || this.load_blocking()))
    }

    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<(), StoreError>> {
        let this = self.clone();
        let tokens = tokens.clone();
        Box::pin(blocking(move || this.save_blocking(&tokens)))
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        let this = self.clone();
        Box::pin(blocking(move || this.clear_blocking()))
    }

    fn lock(&self) -> BoxFuture<'_, Result<StoreLock, StoreError>> {
        match &self.lock {
            Some(file) => file.lock(),
            None => Box::pin(async { Ok(StoreLock::none()) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AccessToken, RefreshToken};

    fn unique() -> String {
        let mut b = [0u8; 6];
        crate::random::RandomSource::fill(&mut crate::random::OsRandom, &mut b);
        format!(
            "authflow-test-{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        )
    }

    /// Headless (CI, containers) there is no Secret Service: every call must say so
    /// clearly, without panicking. Where a keyring is reachable, the round trip must work
    /// and the test cleans up after itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn works_or_says_clearly_that_no_keyring_is_reachable() {
        let store = KeyringStore::new("authflow-tests", unique());
        let set = TokenSet::new(AccessToken::new("AT-SECRET").unwrap())
            .with_refresh_token(Some(RefreshToken::new("RT-SECRET").unwrap()));
        match store.save(&set).await {
            Ok(()) => {
                assert_eq!(store.load().await.unwrap(), Some(set));
                store.clear().await.unwrap();
                assert_eq!(store.load().await.unwrap(), None);
                store.clear().await.unwrap();
            }
            Err(e) => {
                let StoreError::KeyringUnavailable { .. } = &e else {
                    panic!("expected KeyringUnavailable, got {e:?}");
                };
                let msg = e.to_string();
                eprintln!("no keyring here, as expected headless: {msg}");
                assert!(msg.contains("no OS keyring"), "{msg}");
                assert!(
                    msg.contains("FileStore") || msg.contains("file store"),
                    "{msg}"
                );
                assert!(msg.contains("authflow-tests/"), "names the entry: {msg}");
                assert!(!msg.contains("SECRET") && !format!("{e:?}").contains("SECRET"));
                assert!(!msg.contains('\n'), "one line: {msg}");
                // Reads and deletes fail the same way, and the lock still works.
                assert!(matches!(
                    store.load().await,
                    Err(StoreError::KeyringUnavailable { .. })
                ));
                assert!(matches!(
                    store.clear().await,
                    Err(StoreError::KeyringUnavailable { .. })
                ));
            }
        }
    }

    #[test]
    fn bad_encoding_never_shows_the_stored_bytes() {
        let store = KeyringStore::new("svc", "acct");
        let e = store.error(&keyring::Error::BadEncoding(b"RT-SECRET\xff".to_vec()));
        let msg = format!("{e} {e:?}");
        assert!(!msg.contains("SECRET"), "{msg}");
        assert!(msg.contains("svc/acct"), "{msg}");
    }

    #[tokio::test]
    async fn the_lock_file_serialises_holders() {
        let dir = std::env::temp_dir().join(unique());
        let store = KeyringStore::new("svc", "acct").with_lock_file(dir.join("acct.lock"));
        let held = store.lock().await.unwrap();
        let other = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("acct.lock"))
            .unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop(held);
        other.try_lock().unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
