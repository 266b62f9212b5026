//! A token store in one JSON file: atomic replace, fsync, mode 0600 in a 0700 directory.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::store::{StoreError, StoreLock, TokenStore};
use super::token_set::{FORMAT_VERSION, TokenSet};
use crate::client::BoxFuture;

/// How long to wait for another process's refresh before giving up.
const LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Temporary files older than this are leftovers of a killed writer.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// One JSON file per profile.
///
/// `save` writes a temporary file next to the target (mode 0600), fsyncs it, renames it
/// over the target and fsyncs the directory, so a crash leaves the old file or the new one.
/// A file that does not parse is moved aside (`*.corrupt-<time>`), never overwritten.
///
/// ```no_run
/// # async fn run() -> Result<(), authflow::session::StoreError> {
/// use authflow::session::{FileStore, TokenStore};
/// let store = FileStore::new("/home/me/.local/share/authflow/tokens/default.json");
/// if let Some(tokens) = store.load().await? {
///     println!("expires at {:?}", tokens.expires_at);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store at `path`. Nothing is touched until the first call.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Reads the file on the calling thread (for programs without a runtime, and for
    /// latency-critical callers such as `authflow token`).
    pub fn load_blocking(&self) -> Result<Option<TokenSet>, StoreError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        check_private(&self.path)?;
        let value: serde_json::Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                return Err(self.keep_aside(&format!(
                    "not JSON: line {} column {}",
                    e.line(),
                    e.column()
                )));
            }
        };
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        match version {
            Some(v) if v > u64::from(FORMAT_VERSION) => {
                return Err(StoreError::NewerFormat {
                    path: self.path.clone(),
                    found: u32::try_from(v).unwrap_or(u32::MAX),
                    supported: FORMAT_VERSION,
                });
            }
            None => return Err(self.keep_aside("no format version")),
            Some(_) => {}
        }
        match serde_json::from_value::<TokenSet>(value) {
            Ok(set) => Ok(Some(set)),
            // serde's message may quote a value; keep only its position-free category.
            Err(_) => Err(self.keep_aside("fields missing or of the wrong type")),
        }
    }

    /// Writes the file atomically on the calling thread.
    pub fn save_blocking(&self, tokens: &TokenSet) -> Result<(), StoreError> {
        let dir = self.parent();
        create_private_dir(dir).map_err(|e| self.io(e))?;
        let json = zeroize::Zeroizing::new(
            serde_json::to_vec_pretty(tokens)
                .map_err(|e| StoreError::Backend(format!("cannot encode tokens: {e}")))?,
        );
        let tmp = dir.join(format!(
            ".{}.tmp-{}-{}",
            self.file_name(),
            std::process::id(),
            unique_suffix()
        ));
        let result = (|| {
            let mut f = private_file(&tmp)?;
            f.write_all(&json)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &self.path)?;
            sync_dir(dir)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(|e| self.io(e))?;
        self.remove_stale_temp_files(dir);
        Ok(())
    }

    /// Removes temporary files that writers killed mid-save left behind: each holds a copy
    /// of old tokens. A live writer keeps its file for milliseconds, so only files older
    /// than a minute are taken; errors are ignored (another process may be doing the same).
    fn remove_stale_temp_files(&self, dir: &Path) {
        let prefix = format!(".{}.tmp-", self.file_name());
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let stale = e.file_name().to_string_lossy().starts_with(&prefix)
                && e.metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STALE_TEMP_AGE);
            if stale {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Removes the file on the calling thread. A missing file is fine.
    pub fn clear_blocking(&self) -> Result<(), StoreError> {
        match fs::remove_file(&self.path) {
            Ok(()) => sync_dir(self.parent()).map_err(|e| self.io(e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io(e)),
        }
    }

    fn parent(&self) -> &Path {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "tokens".into())
    }

    fn keep_aside(&self, reason: &str) -> StoreError {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let kept_as = self
            .path
            .with_file_name(format!("{}.corrupt-{secs}", self.file_name()));
        match fs::rename(&self.path, &kept_as) {
            Ok(()) => StoreError::Corrupt {
                path: self.path.clone(),
                kept_as,
                reason: reason.to_owned(),
            },
            Err(e) => self.io(e),
        }
    }
}

impl TokenStore for FileStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>, StoreError>> {
        let this = self.clone();
        Box::pin(async move { blocking(move || this.load_blocking()).await })
    }

    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<(), StoreError>> {
        let this = self.clone();
        let tokens = tokens.clone();
        Box::pin(async move { blocking(move || this.save_blocking(&tokens)).await })
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        let this = self.clone();
        Box::pin(async move { blocking(move || this.clear_blocking()).await })
    }

    fn lock(&self) -> BoxFuture<'_, Result<StoreLock, StoreError>> {
        let this = self.clone();
        Box::pin(async move { blocking(move || this.lock_blocking()).await })
    }
}

impl FileStore {
    /// Takes the cross-process refresh lock (`<file>.lock`, an OS file lock that the
    /// kernel releases if the process dies), waiting for it on the calling thread.
    pub fn lock_blocking(&self) -> Result<StoreLock, StoreError> {
        create_private_dir(self.parent()).map_err(|e| self.io(e))?;
        let path = self
            .path
            .with_file_name(format!("{}.lock", self.file_name()));
        let file = open_lock_file(&path).map_err(|e| self.io(e))?;
        // Poll rather than block: a holder that is stopped (Ctrl-Z) or hung must not
        // freeze every other process forever.
        let deadline = std::time::Instant::now() + LOCK_TIMEOUT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(StoreLock::new(file)),
                Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(StoreError::Backend(format!(
                        "another process has held the lock {} for over {} s; if no authflow is running, delete that file",
                        path.display(),
                        LOCK_TIMEOUT.as_secs()
                    )));
                }
                Err(fs::TryLockError::Error(e)) => return Err(self.io(e)),
            }
        }
    }
}

#[cfg(unix)]
fn open_lock_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_lock_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// File I/O off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
}

fn unique_suffix() -> String {
    let mut b = [0u8; 6];
    crate::random::RandomSource::fill(&mut crate::random::OsRandom, &mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    if !dir.exists() {
        // Every directory created here is 0700; existing ones keep their mode.
        return fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir);
    }
    // Others must not be able to swap files in a directory that holds tokens.
    let mode = fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "directory {} is writable by other users (mode {mode:o}); keep tokens in a private directory",
                dir.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = fs::metadata(path)
        .map_err(|e| StoreError::Io {
            path: path.to_owned(),
            source: e,
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(StoreError::Permissions {
            path: path.to_owned(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AccessToken, RefreshToken};
    use std::os::unix::fs::PermissionsExt as _;

    fn tmpdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("authflow-store-{}", unique_suffix()));
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn set(n: &str) -> TokenSet {
        TokenSet::new(AccessToken::new(format!("at-{n}")).unwrap())
            .with_refresh_token(Some(RefreshToken::new(format!("rt-{n}")).unwrap()))
    }

    #[test]
    fn save_load_clear_with_private_modes() {
        let root = tmpdir();
        let store = FileStore::new(root.join("nested/authflow/default.json"));
        assert!(store.load_blocking().unwrap().is_none());
        store.save_blocking(&set("1")).unwrap();
        store.save_blocking(&set("2")).unwrap();
        let loaded = store.load_blocking().unwrap().unwrap();
        assert_eq!(loaded.refresh_token.unwrap().secret(), "rt-2");
        let fmode = fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
        let dmode = fs::metadata(store.path().parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!((fmode, dmode), (0o600, 0o700));
        let leftovers: Vec<_> = fs::read_dir(store.path().parent().unwrap())
            .unwrap()
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
        store.clear_blocking().unwrap();
        store.clear_blocking().unwrap();
        assert!(store.load_blocking().unwrap().is_none());
        fs::remove_dir_all(root).unwrap();
    }

    /// Found by tests/store_kill.rs: every writer killed between creating its temporary
    /// file and the rename left that file, a copy of old tokens, for good.
    #[test]
    fn stale_temp_files_of_killed_writers_are_removed() {
        let dir = tmpdir();
        let store = FileStore::new(dir.join("default.json"));
        store.save_blocking(&set("a")).unwrap();
        let stale = dir.join(".default.json.tmp-1-abc");
        let fresh = dir.join(".default.json.tmp-2-def");
        let other = dir.join(".work.json.tmp-3-123");
        for p in [&stale, &fresh, &other] {
            std::fs::write(p, "{\"access_token\":\"old\"}").unwrap();
        }
        let old = SystemTime::now() - std::time::Duration::from_secs(600);
        for p in [&stale, &other] {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        store.save_blocking(&set("b")).unwrap();
        assert!(!stale.exists(), "a killed writer's old file stays");
        assert!(fresh.exists(), "a live writer's file was taken");
        assert!(other.exists(), "another store's file was taken");
        assert_eq!(
            store
                .load_blocking()
                .unwrap()
                .unwrap()
                .access_token
                .secret(),
            "at-b"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn corrupt_file_is_kept_aside_not_overwritten() {
        let root = tmpdir();
        let path = root.join("p.json");
        fs::write(&path, b"{\"version\":1,\"access_token\":\"SECRET-AT\"").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = FileStore::new(&path).load_blocking().unwrap_err();
        let StoreError::Corrupt { kept_as, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(!err.to_string().contains("SECRET"), "{err}");
        assert!(kept_as.exists() && !path.exists());
        assert_eq!(
            fs::read(kept_as).unwrap(),
            b"{\"version\":1,\"access_token\":\"SECRET-AT\""
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn refuses_a_directory_others_can_write_and_leaves_existing_modes_alone() {
        let root = tmpdir();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o777)).unwrap();
        let err = FileStore::new(root.join("t.json"))
            .save_blocking(&set("1"))
            .unwrap_err();
        assert!(err.to_string().contains("writable by other users"), "{err}");
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        FileStore::new(root.join("t.json"))
            .save_blocking(&set("1"))
            .unwrap();
        let mode = fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "an existing directory is not chmodded");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_lock_is_exclusive_across_handles() {
        let root = tmpdir();
        let store = FileStore::new(root.join("t.json"));
        let held = store.lock_blocking().unwrap();
        let lock_path = root.join("t.json.lock");
        let other = fs::OpenOptions::new().write(true).open(&lock_path).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(fs::TryLockError::WouldBlock)
        ));
        drop(held);
        other.try_lock().unwrap();
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn newer_format_and_loose_permissions_are_refused() {
        let root = tmpdir();
        let path = root.join("p.json");
        fs::write(&path, br#"{"version":99,"access_token":"x"}"#).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            FileStore::new(&path).load_blocking(),
            Err(StoreError::NewerFormat { found: 99, .. })
        ));
        assert!(path.exists(), "a newer file is left alone");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = FileStore::new(&path).load_blocking().unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        fs::remove_dir_all(root).unwrap();
    }
}
