//! Redis for several application instances (feature `redis`): a tower-sessions
//! [`SessionStore`] on the `redis` crate, and each login's tokens in the library's
//! [`RedisStore`], whose lock makes a refresh single-flight across instances.
//!
//! Keys, for a namespace `NS` (given to [`RedisSessionStore::connect`]):
//! - `NS:session:<sha256 of the id>`: a session or a sign-in in progress, as JSON with an
//!   expiry (`PX`). The id itself (the cookie's value) is never a key or a value.
//! - `authflow:{NS:login:<sha256 of the id>}:tokens|lock|fence`: one login's tokens, as
//!   [`RedisStore`] keeps them, expiring a session lifetime after the last write.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use authflow::client::BoxFuture;
use authflow::session::{RedisStore, StoreError, StoreLock, TokenSet, TokenStore};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

use crate::error::SetupError;

/// A tower-sessions store in Redis, shared by every instance of an application that
/// points at the same server and namespace. [`AuthBuilder::redis`](crate::AuthBuilder::redis)
/// also keeps each login's tokens there (in the library's `RedisStore`).
///
/// - Keys are a hash of the session id, never the id (the cookie's value) itself.
/// - Records expire in Redis at their expiry date (`PX`).
/// - `create` never overwrites (`SET NX`, a new id on collision); `save` only updates a
///   session that still exists (`SET XX`), so a request that was running while another
///   instance signed the user out cannot bring the session back.
///
/// Cheap to clone (one multiplexed connection, reconnecting on failure).
///
/// ```no_run
/// # async fn run() -> Result<(), authflow_axum::SetupError> {
/// let store = authflow_axum::RedisSessionStore::connect("redis://127.0.0.1:6379/", "my-app").await?;
/// # let _ = store; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisSessionStore {
    conn: ConnectionManager,
    /// May carry a password: never shown.
    url: Arc<str>,
    namespace: Arc<str>,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl RedisSessionStore {
    /// Connects to the Redis server at `url` (`redis://[:password@]host:port/db`) and keeps
    /// records under `namespace` (letters, digits, `-`, `_`, `.`, `:`; e.g. the
    /// application's name, so that two applications on one server never read each other's
    /// sessions). The URL never appears in errors or `Debug`.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, SetupError> {
        let valid = !namespace.is_empty()
            && namespace.len() <= 64
            && namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if !valid {
            return Err(SetupError::Config(
                "the Redis namespace must be 1 to 64 letters, digits, `-`, `_`, `.` or `:`".into(),
            ));
        }
        let client = redis::Client::open(url).map_err(|e| {
            SetupError::Config(format!("invalid Redis server URL ({:?})", e.kind()))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_number_of_retries(3);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| SetupError::Storage(describe("connect to Redis", &e)))?;
        Ok(Self {
            conn,
            url: Arc::from(url),
            namespace: Arc::from(namespace),
        })
    }

    /// The namespace of this store's keys.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn session_key(&self, id: &Id) -> String {
        format!("{}:session:{}", self.namespace, digest(id))
    }

    /// The token store of one login: the library's `RedisStore` (its own connection, its
    /// lock and fence), whose keys expire `ttl` after each write.
    pub(crate) async fn login_store(
        &self,
        id: &Id,
        ttl: Duration,
    ) -> Result<RedisLoginStore, StoreError> {
        let name = format!("{}:login:{}", self.namespace, digest(id));
        let inner = RedisStore::connect(&self.url, &name).await?;
        Ok(RedisLoginStore {
            inner,
            conn: self.conn.clone(),
            // The key layout `RedisStore` documents.
            expiring: Arc::new([
                format!("authflow:{{{name}}}:tokens"),
                format!("authflow:{{{name}}}:fence"),
            ]),
            ttl,
        })
    }
}

/// A session's data (`tower_sessions::session::Record::data`).
type Data = std::collections::HashMap<String, serde_json::Value>;

/// A record as stored: the id is the (hashed) key, never part of the value.
#[derive(Serialize)]
struct StoredRef<'a> {
    data: &'a Data,
    expiry_ms: i64,
}

#[derive(Deserialize)]
struct Stored {
    data: Data,
    expiry_ms: i64,
}

/// Milliseconds from now until `expiry`, or `None` when it has passed.
fn ttl_ms(expiry: OffsetDateTime) -> Option<i64> {
    let left = (expiry - OffsetDateTime::now_utc()).whole_milliseconds();
    (left > 0).then(|| i64::try_from(left).unwrap_or(i64::MAX))
}

fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    let expiry_ms = i64::try_from(record.expiry_date.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| session_store::Error::Encode("expiry out of range".into()))?;
    serde_json::to_vec(&StoredRef {
        data: &record.data,
        expiry_ms,
    })
    .map_err(|_| session_store::Error::Encode("session data is not JSON".into()))
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let Some(ttl) = ttl_ms(record.expiry_date) else {
            return Ok(());
        };
        let value = encode(record)?;
        let mut conn = self.conn.clone();
        // 128 random bits: a collision is all but impossible, and never overwrites.
        for _ in 0..4 {
            let set: Option<String> = redis::cmd("SET")
                .arg(self.session_key(&record.id))
                .arg(&value)
                .arg("NX")
                .arg("PX")
                .arg(ttl)
                .query_async(&mut conn)
                .await
                .map_err(|e| session_store::Error::Backend(describe("create a session", &e)))?;
            if set.is_some() {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(session_store::Error::Backend(
            "could not find a free session id".into(),
        ))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let mut conn = self.conn.clone();
        let key = self.session_key(&record.id);
        let Some(ttl) = ttl_ms(record.expiry_date) else {
            return self.delete(&record.id).await;
        };
        let _: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(encode(record)?)
            .arg("XX")
            .arg("PX")
            .arg(ttl)
            .query_async(&mut conn)
            .await
            .map_err(|e| session_store::Error::Backend(describe("save a session", &e)))?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let mut conn = self.conn.clone();
        let raw: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.session_key(id))
            .query_async(&mut conn)
            .await
            .map_err(|e| session_store::Error::Backend(describe("load a session", &e)))?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        // Never quote the value: it may hold anything the application put in a session.
        let stored: Stored = serde_json::from_slice(&raw)
            .map_err(|_| session_store::Error::Decode("a stored session is corrupt".into()))?;
        let expiry_date =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(stored.expiry_ms) * 1_000_000)
                .map_err(|_| session_store::Error::Decode("a stored expiry is invalid".into()))?;
        if expiry_date <= OffsetDateTime::now_utc() {
            return Ok(None);
        }
        Ok(Some(Record {
            id: *id,
            data: stored.data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(self.session_key(id))
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| session_store::Error::Backend(describe("delete a session", &e)))
    }
}

/// One login's tokens in Redis: the library's [`RedisStore`] (load, save, clear, and the
/// cross-instance refresh lock with fencing), plus an expiry on its keys so that tokens
/// of sessions nobody signs out of do not stay forever.
pub(crate) struct RedisLoginStore {
    inner: RedisStore,
    conn: ConnectionManager,
    expiring: Arc<[String; 2]>,
    ttl: Duration,
}

impl RedisLoginStore {
    async fn touch(&self) {
        let ms = u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for key in self.expiring.iter() {
            pipe.cmd("PEXPIRE").arg(key).arg(ms).ignore();
        }
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            tracing::warn!(error = %describe("set the expiry of a login's tokens", &e), "tokens saved without expiry");
        }
    }
}

impl TokenStore for RedisLoginStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>, StoreError>> {
        self.inner.load()
    }

    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.inner.save(tokens).await?;
            self.touch().await;
            Ok(())
        })
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.clear()
    }

    fn lock(&self) -> BoxFuture<'_, Result<StoreLock, StoreError>> {
        self.inner.lock()
    }
}

/// Hex SHA-256 of an id: what keys carry instead of the id.
fn digest(id: &Id) -> String {
    Sha256::digest(id.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A Redis error without anything that could carry a secret: its kind and server code.
fn describe(what: &str, e: &redis::RedisError) -> String {
    match e.code() {
        Some(code) => format!("cannot {what}: {:?} {code}", e.kind()),
        None => format!("cannot {what}: {:?}", e.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_a_digest_never_the_id() {
        let id = Id::default();
        let d = digest(&id);
        assert_eq!(d.len(), 64);
        assert!(!d.contains(&id.to_string()));
        assert_eq!(d, digest(&id));
        assert_ne!(d, digest(&Id::default()));
    }

    #[test]
    fn expired_records_have_no_ttl() {
        assert!(ttl_ms(OffsetDateTime::now_utc() - time::Duration::seconds(1)).is_none());
        let left = ttl_ms(OffsetDateTime::now_utc() + time::Duration::seconds(10));
        assert!(left.is_some_and(|ms| ms > 9_000 && ms <= 10_000));
    }
}
