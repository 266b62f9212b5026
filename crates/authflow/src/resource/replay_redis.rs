//! [`RedisReplayCache`]: one replay cache for every instance of a resource server.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::replay::{ProofId, ReplayCache, ReplayError};
use crate::client::BoxFuture;

/// A [`ReplayCache`] in Redis, shared by every instance pointing at the same server and
/// name: a proof used at one instance is a replay at all of them.
///
/// One key per proof, `authflow:dpop-jti:NAME:ID` (the id is a hash: no client text
/// reaches Redis), written with `SET NX PX`, which is the atomic check-and-insert; Redis
/// expires it. Cheap to clone (the connection is shared and reconnects by itself).
///
/// ```no_run
/// # async fn run() -> Result<(), authflow::resource::ReplayError> {
/// use authflow::resource::RedisReplayCache;
/// let replay = RedisReplayCache::connect("redis://127.0.0.1:6379/", "orders-api").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisReplayCache {
    conn: ConnectionManager,
    prefix: Arc<str>,
}

impl std::fmt::Debug for RedisReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayCache")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisReplayCache {
    /// Connects to the Redis server at `url` (`redis://[:password@]host:port/db`) and
    /// keeps the proofs of `name`. The URL never appears in errors.
    pub async fn connect(url: &str, name: &str) -> Result<Self, ReplayError> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(ReplayError::Backend(
                "the name must be non-empty and printable".into(),
            ));
        }
        let client = redis::Client::open(url).map_err(|e| {
            ReplayError::Backend(format!("invalid Redis server URL ({:?})", e.kind()))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| backend("connect", &e))?;
        Ok(Self {
            conn,
            prefix: format!("authflow:dpop-jti:{name}:").into(),
        })
    }
}

impl ReplayCache for RedisReplayCache {
    fn check_and_insert<'a>(
        &'a self,
        id: &'a ProofId,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, ReplayError>> {
        Box::pin(async move {
            let mut key = String::with_capacity(self.prefix.len() + 43);
            key.push_str(&self.prefix);
            key.push_str(&crate::jose::b64(id.as_bytes()));
            // PX takes at least 1 ms; u64 milliseconds outlast any TTL asked for.
            let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let mut conn = self.conn.clone();
            let set: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ms)
                .query_async(&mut conn)
                .await
                .map_err(|e| backend("record the proof", &e))?;
            Ok(set.is_some())
        })
    }
}

/// A Redis error by kind and server code only.
fn backend(what: &str, e: &redis::RedisError) -> ReplayError {
    let detail = match e.code() {
        Some(code) => format!("{:?} {code}", e.kind()),
        None => format!("{:?}", e.kind()),
    };
    ReplayError::Backend(format!("cannot {what} in Redis: {detail}"))
}
