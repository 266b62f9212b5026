//! Server-side records on the session store: pending sign-ins and each login's tokens.
//!
//! Both live in the same [`SessionStore`] as the sessions themselves (memory by default,
//! any tower-sessions store), each as its own record with its own random id and expiry;
//! with the `redis` feature and `AuthBuilder::redis`, tokens go to authflow's `RedisStore`
//! instead (a refresh lock shared by instances). The browser only ever holds ids.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use authflow::client::BoxFuture;
use authflow::protocol::PendingAuthorization;
use authflow::session::{StoreError, TokenSet, TokenStore};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

/// A cloneable handle on any tower-sessions store.
#[derive(Clone, Debug)]
pub struct SharedStore(pub(crate) Arc<dyn SessionStore>);

impl SharedStore {
    /// Wraps a store.
    ///
    /// ```
    /// let store = authflow_axum::SharedStore::new(tower_sessions::MemoryStore::default());
    /// # let _ = store;
    /// ```
    pub fn new(store: impl SessionStore) -> Self {
        Self(Arc::new(store))
    }
}

#[async_trait]
impl SessionStore for SharedStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.0.create(record).await
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.0.save(record).await
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.0.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0.delete(id).await
    }
}

fn expiry(ttl: Duration) -> OffsetDateTime {
    let ttl = time::Duration::try_from(ttl).unwrap_or(time::Duration::days(1));
    OffsetDateTime::now_utc().saturating_add(ttl)
}

/// A sign-in between `/login` and `/callback`: everything secret stays here.
#[derive(Serialize, Deserialize)]
pub(crate) struct PendingLogin {
    pub(crate) pending: PendingAuthorization,
    pub(crate) return_to: String,
}

const PENDING_KEY: &str = "authflow.pending";

/// Stores a pending sign-in; returns the id the flow cookie carries.
pub(crate) async fn create_pending(
    store: &SharedStore,
    login: &PendingLogin,
    ttl: Duration,
) -> Result<Id, session_store::Error> {
    let mut record = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: expiry(ttl),
    };
    let value =
        serde_json::to_value(login).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    record.data.insert(PENDING_KEY.into(), value);
    store.create(&mut record).await?;
    Ok(record.id)
}

/// The pending sign-in with this id, unless it expired or was used.
pub(crate) async fn load_pending(
    store: &SharedStore,
    id: &Id,
) -> Result<Option<PendingLogin>, session_store::Error> {
    let Some(record) = store.load(id).await? else {
        return Ok(None);
    };
    if record.expiry_date <= OffsetDateTime::now_utc() {
        return Ok(None);
    }
    Ok(record
        .data
        .get(PENDING_KEY)
        .and_then(|v| serde_json::from_value(v.clone()).ok()))
}

const TOKENS_KEY: &str = "authflow.tokens";

/// Where each login's tokens live.
#[derive(Clone, Debug)]
pub(crate) enum TokenBackend {
    /// A record of the session store (memory by default): one process, or several without
    /// a shared refresh lock.
    Records,
    /// The library's `RedisStore`, one per login: a refresh lock shared by instances.
    #[cfg(feature = "redis")]
    Redis(crate::redis::RedisSessionStore),
}

impl TokenBackend {
    /// The token store of one login.
    pub(crate) async fn login_store(
        &self,
        records: &SharedStore,
        id: Id,
        ttl: Duration,
    ) -> Result<Arc<dyn TokenStore>, StoreError> {
        match self {
            Self::Records => Ok(Arc::new(RecordTokenStore::new(records.clone(), id, ttl))),
            #[cfg(feature = "redis")]
            Self::Redis(redis) => Ok(Arc::new(redis.login_store(&id, ttl).await?)),
        }
    }

    /// Stores a fresh login's tokens under a new random id and returns it.
    pub(crate) async fn create_login(
        &self,
        records: &SharedStore,
        tokens: &TokenSet,
        ttl: Duration,
    ) -> Result<Id, StoreError> {
        match self {
            Self::Records => Ok(RecordTokenStore::create(records.clone(), tokens, ttl)
                .await?
                .id()),
            #[cfg(feature = "redis")]
            Self::Redis(redis) => {
                // 128 random bits, hashed into the key: a fresh key.
                let id = Id::default();
                redis.login_store(&id, ttl).await?.save(tokens).await?;
                Ok(id)
            }
        }
    }

    /// How long a token source may sit unused in a process's cache, and how many the
    /// cache holds before it drops those. Each Redis login store holds a connection.
    pub(crate) fn cache_limits(&self, session_ttl: Duration) -> (Duration, usize) {
        match self {
            Self::Records => (session_ttl, 1024),
            #[cfg(feature = "redis")]
            Self::Redis(_) => (session_ttl.min(Duration::from_secs(600)), 256),
        }
    }
}

/// One login's tokens, as an authflow [`TokenStore`] over a session-store record.
#[derive(Clone, Debug)]
pub(crate) struct RecordTokenStore {
    store: SharedStore,
    id: Id,
    ttl: Duration,
}

impl RecordTokenStore {
    pub(crate) fn new(store: SharedStore, id: Id, ttl: Duration) -> Self {
        Self { store, id, ttl }
    }

    /// Creates a new record for a fresh login and returns its store.
    pub(crate) async fn create(
        store: SharedStore,
        tokens: &TokenSet,
        ttl: Duration,
    ) -> Result<Self, StoreError> {
        let mut record = Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: expiry(ttl),
        };
        record.data.insert(TOKENS_KEY.into(), encode(tokens)?);
        store.create(&mut record).await.map_err(backend)?;
        Ok(Self::new(store, record.id, ttl))
    }

    pub(crate) fn id(&self) -> Id {
        self.id
    }
}

fn backend(e: session_store::Error) -> StoreError {
    StoreError::Backend(format!("session store: {e}"))
}

fn encode(tokens: &TokenSet) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(tokens).map_err(|_| StoreError::Backend("cannot encode tokens".into()))
}

impl TokenStore for RecordTokenStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>, StoreError>> {
        Box::pin(async move {
            let Some(record) = self.store.load(&self.id).await.map_err(backend)? else {
                return Ok(None);
            };
            if record.expiry_date <= OffsetDateTime::now_utc() {
                return Ok(None);
            }
            Ok(record
                .data
                .get(TOKENS_KEY)
                .and_then(|v| serde_json::from_value(v.clone()).ok()))
        })
    }

    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut record = Record {
                id: self.id,
                data: Default::default(),
                expiry_date: expiry(self.ttl),
            };
            record.data.insert(TOKENS_KEY.into(), encode(tokens)?);
            self.store.save(&record).await.map_err(backend)
        })
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { self.store.delete(&self.id).await.map_err(backend) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authflow::types::AccessToken;

    #[tokio::test]
    async fn token_records_round_trip_and_clear() {
        let shared = SharedStore::new(tower_sessions::MemoryStore::default());
        let set = TokenSet::new(AccessToken::new("at-1").unwrap());
        let s = RecordTokenStore::create(shared.clone(), &set, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            s.load().await.unwrap().unwrap().access_token.secret(),
            "at-1"
        );
        s.save(&TokenSet::new(AccessToken::new("at-2").unwrap()))
            .await
            .unwrap();
        let again = RecordTokenStore::new(shared, s.id(), Duration::from_secs(60));
        assert_eq!(
            again.load().await.unwrap().unwrap().access_token.secret(),
            "at-2"
        );
        again.clear().await.unwrap();
        assert!(s.load().await.unwrap().is_none());
    }
}
