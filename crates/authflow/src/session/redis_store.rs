//! A token store in Redis, for fleets of workers that share one identity.
//!
//! Keys, for a store named `NAME` (the braces keep them in one cluster slot):
//! - `authflow:{NAME}:tokens`: a hash with `tokens` (the JSON set) and `fence` (the fence
//!   of the write that stored it);
//! - `authflow:{NAME}:lock`: the refresh lock, a random token with an expiry;
//! - `authflow:{NAME}:fence`: a counter, incremented by every lock acquisition and every
//!   unlocked write.
//!
//! Fencing: taking the lock returns a new fence. A write made under the lock carries that
//! fence, and a Lua script refuses it when the counter has moved past it, that is when the
//! holder stalled past the lock's expiry and someone else took the lock (or wrote) since.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::store::{StoreError, StoreLock, TokenStore};
use super::token_set::{FORMAT_VERSION, TokenSet};
use crate::client::BoxFuture;

/// Takes the lock and returns a new fence, or 0 when another holder has it.
/// KEYS: lock, fence. ARGV: lock token, expiry in ms.
const ACQUIRE: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
";

/// Deletes the lock only if it still holds our token. KEYS: lock. ARGV: lock token.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Writes (or, without a payload, deletes) the token set unless the caller's fence is
/// stale. Fence 0 means an unlocked write, which takes a new fence so that any stalled
/// holder is refused afterwards. Returns the fence written, or -1 when refused.
/// KEYS: tokens, fence. ARGV: fence, [payload].
const WRITE: &str = r"
local latest = tonumber(redis.call('GET', KEYS[2]) or '0')
local fence = tonumber(ARGV[1])
if fence == 0 then
  fence = redis.call('INCR', KEYS[2])
elseif fence < latest then
  return -1
end
if ARGV[2] then
  redis.call('HSET', KEYS[1], 'tokens', ARGV[2], 'fence', fence)
else
  redis.call('DEL', KEYS[1])
end
return fence
";

/// Default expiry of the refresh lock: long enough for a slow token endpoint.
const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(30);
/// Default wait for another worker's refresh.
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// A [`TokenStore`] in Redis, shared by every worker and host that points at the same
/// server and name. Its [`lock`](TokenStore::lock) is a Redis lock with an expiry
/// (`SET NX PX` with a random token, released by a compare-and-delete script) and a fence,
/// so that a holder that stalled past the expiry cannot overwrite a newer token set.
///
/// Each handle remembers the fence of the lock it holds; give each worker its own handle
/// (cloning shares the handle).
///
/// ```no_run
/// # async fn run() -> Result<(), authflow::session::StoreError> {
/// use authflow::session::RedisStore;
/// let store = RedisStore::connect("redis://127.0.0.1:6379/", "billing-worker").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    keys: Arc<Keys>,
    held: Arc<Mutex<Option<Held>>>,
    lock_ttl: Duration,
    lock_timeout: Duration,
}

struct Keys {
    name: String,
    tokens: String,
    lock: String,
    fence: String,
}

/// The lock this handle holds.
#[derive(Clone)]
struct Held {
    token: String,
    fence: u64,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("name", &self.keys.name)
            .field("lock_ttl", &self.lock_ttl)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the Redis server at `url` (`redis://[:password@]host:port/db`, or
    /// `rediss://` where the redis crate was built with TLS) and uses the keys of `name`.
    /// The URL never appears in errors.
    pub async fn connect(url: &str, name: &str) -> Result<Self, StoreError> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(StoreError::Backend(
                "redis store: the name must be non-empty and printable".into(),
            ));
        }
        let client = redis::Client::open(url).map_err(|e| {
            StoreError::Backend(format!("redis store: invalid server URL ({:?})", e.kind()))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_number_of_retries(3);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| backend("connect", &e))?;
        Ok(Self {
            conn,
            keys: Arc::new(Keys {
                name: name.to_owned(),
                tokens: format!("authflow:{{{name}}}:tokens"),
                lock: format!("authflow:{{{name}}}:lock"),
                fence: format!("authflow:{{{name}}}:fence"),
            }),
            held: Arc::new(Mutex::new(None)),
            lock_ttl: DEFAULT_LOCK_TTL,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        })
    }

    /// How long the refresh lock lives if its holder stalls or dies (default 30 s; at
    /// least 10 ms). A holder that outlives it has its writes refused.
    #[must_use]
    pub fn lock_ttl(mut self, ttl: Duration) -> Self {
        self.lock_ttl = ttl.max(Duration::from_millis(10));
        self
    }

    /// How long [`lock`](TokenStore::lock) waits for another holder (default 30 s).
    #[must_use]
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The fence of the lock this handle holds, if any.
    pub fn held_fence(&self) -> Option<u64> {
        self.held_lock().map(|h| h.fence)
    }

    fn held_lock(&self) -> Option<Held> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    async fn load_inner(&self) -> Result<Option<TokenSet>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(&self.keys.tokens)
            .arg("tokens")
            .query_async(&mut conn)
            .await
            .map_err(|e| backend("read", &e))?;
        let Some(raw) = raw.map(zeroize::Zeroizing::new) else {
            return Ok(None);
        };
        match parse(&raw) {
            Ok(set) => Ok(Some(set)),
            Err(Parse::Newer(found)) => Err(StoreError::Backend(format!(
                "redis key {} has format version {found}; this authflow reads up to {FORMAT_VERSION}: upgrade authflow",
                self.keys.tokens
            ))),
            Err(Parse::Corrupt(reason)) => Err(self.keep_aside(&mut conn, reason).await),
        }
    }

    /// Renames an unreadable value aside (never overwrites it) and explains.
    async fn keep_aside(&self, conn: &mut ConnectionManager, reason: &str) -> StoreError {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let kept_as = format!("{}:corrupt-{secs}", self.keys.tokens);
        match redis::cmd("RENAME")
            .arg(&self.keys.tokens)
            .arg(&kept_as)
            .query_async::<()>(conn)
            .await
        {
            Ok(()) => StoreError::Backend(format!(
                "redis key {} is corrupt ({reason}); it was kept as {kept_as} and you need to log in again",
                self.keys.tokens
            )),
            Err(e) => backend("keep a corrupt value aside", &e),
        }
    }

    async fn write(&self, payload: Option<&[u8]>) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let fence = self.held_lock().map_or(0, |h| h.fence);
        let script = redis::Script::new(WRITE);
        let mut call = script.key(&self.keys.tokens);
        call.key(&self.keys.fence).arg(fence);
        if let Some(p) = payload {
            call.arg(p);
        }
        let written: i64 = call
            .invoke_async(&mut conn)
            .await
            .map_err(|e| backend("write", &e))?;
        if written < 0 {
            return Err(StoreError::Fenced {
                store: format!("redis key {}", self.keys.tokens),
            });
        }
        Ok(())
    }

    async fn acquire(&self) -> Result<StoreLock, StoreError> {
        let mut conn = self.conn.clone();
        let token = random_token();
        let ttl_ms = u64::try_from(self.lock_ttl.as_millis()).unwrap_or(u64::MAX);
        let deadline = Instant::now() + self.lock_timeout;
        let script = redis::Script::new(ACQUIRE);
        let mut pause = Duration::from_millis(5);
        let fence = loop {
            let fence: u64 = script
                .key(&self.keys.lock)
                .key(&self.keys.fence)
                .arg(&token)
                .arg(ttl_ms)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| backend("take the lock", &e))?;
            if fence > 0 {
                break fence;
            }
            if Instant::now() >= deadline {
                return Err(StoreError::Backend(format!(
                    "another worker has held the Redis lock {} for over {} s",
                    self.keys.lock,
                    self.lock_timeout.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        };
        *self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Held {
            token: token.clone(),
            fence,
        });
        Ok(StoreLock::new(RedisLockGuard {
            store: self.clone(),
            token,
        }))
    }
}

/// Releases the lock when dropped: forgets the fence at once, deletes the lock key in a
/// background task (or lets it expire when no runtime is left).
struct RedisLockGuard {
    store: RedisStore,
    token: String,
}

impl Drop for RedisLockGuard {
    fn drop(&mut self) {
        {
            let mut held = self
                .store
                .held
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if held.as_ref().is_some_and(|h| h.token == self.token) {
                *held = None;
            }
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut conn = self.store.conn.clone();
        let key = self.store.keys.lock.clone();
        let token = std::mem::take(&mut self.token);
        rt.spawn(async move {
            let released: Result<i64, _> = redis::Script::new(RELEASE)
                .key(&key)
                .arg(&token)
                .invoke_async(&mut conn)
                .await;
            if let Err(e) = released {
                tracing::warn!(error = %e, "could not release the Redis lock; it will expire");
            }
        });
    }
}

impl TokenStore for RedisStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>, StoreError>> {
        Box::pin(self.load_inner())
    }

    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let json = zeroize::Zeroizing::new(
                serde_json::to_vec(tokens)
                    .map_err(|e| StoreError::Backend(format!("cannot encode tokens: {e}")))?,
            );
            self.write(Some(&json)).await
        })
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.write(None))
    }

    fn lock(&self) -> BoxFuture<'_, Result<StoreLock, StoreError>> {
        Box::pin(self.acquire())
    }
}

enum Parse {
    Newer(u64),
    Corrupt(&'static str),
}

fn parse(raw: &[u8]) -> Result<TokenSet, Parse> {
    let value: serde_json::Value =
        serde_json::from_slice(raw).map_err(|_| Parse::Corrupt("not JSON"))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v > u64::from(FORMAT_VERSION) => return Err(Parse::Newer(v)),
        None => return Err(Parse::Corrupt("no format version")),
        Some(_) => {}
    }
    // serde's message may quote a value; keep only the category.
    serde_json::from_value(value).map_err(|_| Parse::Corrupt("fields missing or of the wrong type"))
}

/// A Redis error without anything that could carry a secret: the kind and, for server
/// errors, the server's code (never a script's arguments).
fn backend(what: &str, e: &redis::RedisError) -> StoreError {
    let detail = match e.code() {
        Some(code) => format!("{:?} {code}", e.kind()),
        None => format!("{:?}", e.kind()),
    };
    StoreError::Backend(format!("redis store: cannot {what}: {detail}"))
}

fn random_token() -> String {
    let mut b = [0u8; 16];
    crate::random::RandomSource::fill(&mut crate::random::OsRandom, &mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_refuses_newer_and_corrupt_values_without_quoting_them() {
        assert!(matches!(
            parse(br#"{"version":99,"access_token":"x"}"#),
            Err(Parse::Newer(99))
        ));
        assert!(matches!(
            parse(b"{nope SECRET"),
            Err(Parse::Corrupt("not JSON"))
        ));
        assert!(matches!(
            parse(br#"{"version":1,"access_token":5}"#),
            Err(Parse::Corrupt(_))
        ));
        assert!(parse(br#"{"version":1,"access_token":"a","token_type":"Bearer"}"#).is_ok());
    }

    #[test]
    fn lock_tokens_are_random() {
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 32);
    }
}
