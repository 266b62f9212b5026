//! [`RedisGrantStore`]: the provider's state in Redis, shared by every instance that
//! points at the same server and namespace, and kept across restarts.
//!
//! Keys, for a namespace `NS` (the braces keep them in one cluster slot), each with an
//! expiry so that Redis cleans up:
//! - `authflow:provider:{NS}:code:<digest>`: a hash, `rec` (JSON) while unused, `used`
//!   (the grant id) for ten minutes after, to revoke the grant on replay; `codes`, a
//!   sorted set of live codes by expiry, enforces the cap.
//! - `grant:<id>` (`body` JSON, `expires`), `grant:<id>:history` (its refresh token
//!   digests, oldest first), `refresh:<digest>` (`gid`, `client_id`, `expires`,
//!   `rotated`), `revoked-grant:<id>` and `revoked-jti:<jti>` (until the access tokens
//!   could expire).
//! - `pending:<id>` (a login: `body` JSON, `expires`, `attempts`, `user`, `auth_time`)
//!   and its cap `pending`; `device:<digest>`, `user-code:<code>` and `devices`;
//!   `par:<digest>` with `par` and `par-client:<digest of the client id>`;
//!   `jti:<kind>:<digest>` with `jti:<kind>`.
//! - `clients`: dynamically registered clients (RFC 7591), id to JSON record, kept until
//!   deleted.
//! - `secrets`: the DPoP nonce secret and, when the provider takes them from the store,
//!   its signing keys (PKCS#8). This is the one key without an expiry.
//!
//! Every digest is the base64url SHA-256 of a secret (code, token, device code,
//! `request_uri`): no secret is stored. Each use that must happen once (a code, a refresh
//! rotation, a pushed request, a device approval, a `jti`) is one Lua script, so it is
//! atomic across instances. Scripts touch keys of the namespace they were not given as
//! `KEYS`: use a single Redis server (or one shard), not a cluster.

use std::sync::Arc;
use std::time::Duration;

use authflow::random::{OsRandom, RandomSource};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use zeroize::Zeroizing;

use super::StoreError;
use super::redis_scripts::Scripts;
use crate::hashing::{b64, unb64};
use crate::jwt::{IdTokenKey, SigningKey};

/// The provider's state in Redis. Give [`ProviderBuilder::redis_store`]
/// the same store (server and namespace) on every instance of one provider, with the same
/// issuer, clients and keys; then any instance redeems the codes and refresh tokens of any
/// other, and a restart loses nothing.
///
/// Cheap to clone: one multiplexed connection that reconnects by itself.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use authflow::types::IssuerUrl;
/// use authflow_provider::{Provider, RedisGrantStore};
///
/// let issuer = IssuerUrl::new("http://127.0.0.1:8080")?;
/// let store = RedisGrantStore::connect("redis://127.0.0.1:6379/0", issuer.as_issuer_str()).await?;
/// let provider = Provider::builder()
///     .issuer(issuer)
///     .demo()
///     // Keys every instance shares: from files, or kept in the store as here.
///     .signing_key(store.signing_key().await?)
///     .id_token_key(store.id_token_key().await?)
///     .redis_store(store)
///     .build()?;
/// # let _ = provider; Ok(()) }
/// ```
///
/// [`ProviderBuilder::redis_store`]: crate::ProviderBuilder::redis_store
#[derive(Clone)]
pub struct RedisGrantStore {
    pub(super) conn: ConnectionManager,
    /// `authflow:provider:{NS}:`.
    pub(super) prefix: Arc<str>,
    namespace: Arc<str>,
    pub(super) scripts: Arc<Scripts>,
    /// How long a revoked grant is remembered (the provider's access token lifetime).
    pub(super) access_ttl: u64,
    nonce_secret: Arc<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for RedisGrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisGrantStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The `secrets` fields.
const NONCE_FIELD: &str = "dpop-nonce";
const ACCESS_KEY_FIELD: &str = "access-key";
const ID_KEY_FIELD: &str = "id-token-key";

impl RedisGrantStore {
    /// Connects to the Redis server at `url` (`redis://[:password@]host:port/db`) and
    /// keeps the state of the provider named `namespace` (1 to 128 letters, digits and
    /// `-_.:/`, e.g. its issuer). Makes the shared DPoP nonce secret on first use. The URL
    /// never appears in errors or `Debug`.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        let valid = !namespace.is_empty()
            && namespace.len() <= 128
            && namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'));
        if !valid {
            return Err(StoreError::Location(
                "the Redis namespace must be 1 to 128 letters, digits, `-`, `_`, `.`, `:` or `/`"
                    .into(),
            ));
        }
        let client = redis::Client::open(url).map_err(|e| {
            StoreError::Location(format!("invalid Redis server URL ({:?})", e.kind()))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(3);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| backend("connect", &e))?;
        let mut store = Self {
            conn,
            prefix: format!("authflow:provider:{{{namespace}}}:").into(),
            namespace: namespace.into(),
            scripts: Arc::new(Scripts::new()),
            access_ttl: 3600,
            nonce_secret: Arc::new(Zeroizing::new(Vec::new())),
        };
        let secret = store
            .shared_secret(NONCE_FIELD, || {
                let mut bytes = Zeroizing::new(vec![0u8; 32]);
                OsRandom.fill(&mut bytes);
                Ok(bytes)
            })
            .await?;
        if secret.len() < 32 {
            return Err(StoreError::Corrupt("DPoP nonce secret"));
        }
        store.nonce_secret = Arc::new(secret);
        Ok(store)
    }

    /// The access token signing key (Ed25519) kept in the store: made and stored by the
    /// first instance that asks, the same for every instance and restart after it.
    /// Whoever can read the Redis database can then sign tokens; for anything beyond
    /// development give every instance the same key file instead.
    pub async fn signing_key(&self) -> Result<SigningKey, StoreError> {
        let der = self
            .shared_secret(ACCESS_KEY_FIELD, || {
                SigningKey::generate_pkcs8().map_err(|_| StoreError::Corrupt("signing key"))
            })
            .await?;
        SigningKey::from_pkcs8_der(&der).map_err(|_| StoreError::Corrupt("signing key"))
    }

    /// The ID token key (RSA, RS256) kept in the store, like
    /// [`signing_key`](Self::signing_key).
    pub async fn id_token_key(&self) -> Result<IdTokenKey, StoreError> {
        let der = self
            .shared_secret(ID_KEY_FIELD, || {
                IdTokenKey::generate_pkcs8().map_err(|_| StoreError::Corrupt("ID token key"))
            })
            .await?;
        IdTokenKey::from_der(&der).map_err(|_| StoreError::Corrupt("ID token key"))
    }

    /// The namespace of this store's keys.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// This store as one provider uses it: revoked grants are remembered for
    /// `access_ttl` seconds.
    pub(crate) fn for_provider(&self, access_ttl: u64) -> Self {
        Self {
            access_ttl,
            ..self.clone()
        }
    }

    /// The DPoP nonce secret every instance shares.
    pub(crate) fn nonce_secret(&self) -> &[u8] {
        &self.nonce_secret
    }

    /// The full key of `suffix`.
    pub(super) fn key(&self, suffix: &str) -> String {
        let mut k = String::with_capacity(self.prefix.len() + suffix.len());
        k.push_str(&self.prefix);
        k.push_str(suffix);
        k
    }

    /// A field of `secrets`: the stored one, or `make()`'s, stored unless another instance
    /// got there first (then theirs).
    async fn shared_secret(
        &self,
        field: &str,
        make: impl FnOnce() -> Result<Zeroizing<Vec<u8>>, StoreError>,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let key = self.key("secrets");
        let mut conn = self.conn.clone();
        let stored: Option<Zeroizing<String>> = redis::cmd("HGET")
            .arg(&key)
            .arg(field)
            .query_async::<Option<String>>(&mut conn)
            .await
            .map_err(|e| backend("read the shared secrets", &e))?
            .map(Zeroizing::new);
        let text = match stored {
            Some(t) => t,
            None => {
                let fresh = Zeroizing::new(b64(&make()?));
                let _: bool = redis::cmd("HSETNX")
                    .arg(&key)
                    .arg(field)
                    .arg(fresh.as_str())
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| backend("store the shared secrets", &e))?;
                let stored: Option<String> = redis::cmd("HGET")
                    .arg(&key)
                    .arg(field)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| backend("read the shared secrets", &e))?;
                Zeroizing::new(stored.ok_or(StoreError::Corrupt("shared secret"))?)
            }
        };
        unb64(&text)
            .map(Zeroizing::new)
            .ok_or(StoreError::Corrupt("shared secret"))
    }
}

/// A Redis error by operation, kind and server code only (never a key or a value).
pub(super) fn backend(what: &str, e: &redis::RedisError) -> StoreError {
    match e.code() {
        Some(code) => StoreError::Backend(format!("cannot {what} in Redis: {:?} {code}", e.kind())),
        None => StoreError::Backend(format!("cannot {what} in Redis: {:?}", e.kind())),
    }
}

/// Milliseconds from `now` until `until` (seconds), at least 1: a Redis expiry.
pub(super) fn ttl_ms(until: u64, now: u64) -> u64 {
    until.saturating_sub(now).saturating_mul(1000).max(1)
}
