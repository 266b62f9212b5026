//! Where the provider keeps its state: authorization codes, grants, refresh tokens,
//! revocations, logins in progress, device authorizations, pushed requests and the
//! `jti`s of assertions and DPoP proofs.
//!
//! [`GrantStore`] is the contract, with two implementations: the in-process
//! [`MemoryStore`] (the default) and [`RedisGrantStore`] (feature `redis`), which
//! several instances of one provider share. Both keep the same rules: codes are used
//! once and a replayed code revokes its grant; refresh tokens rotate and a reused one
//! revokes its grant; every entry expires; each kind is capped.
//!
//! The handlers go through [`Backend`], which calls the memory store directly (no boxed
//! future, no allocation beyond the store's own) and a shared store through the trait.

mod location;
mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_clients;
#[cfg(feature = "redis")]
mod redis_flows;
#[cfg(feature = "redis")]
mod redis_ops;
#[cfg(feature = "redis")]
mod redis_scripts;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use authflow::client::BoxFuture;
use authflow::protocol::OAuthError;
use http::StatusCode;

use crate::authz_request::Request;
use crate::device_store::{DeviceInfo, DeviceState, InsertError, NewDevice, Poll};
use crate::hashing::Digest;
use crate::replay::Use;
use crate::store::{CodeError, CodeRecord, Grant, Pending, RefreshError, RefreshInfo, Refreshed};

pub use location::StoreLocation;
pub(crate) use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::RedisGrantStore;

/// Why the provider's store could not answer or be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store location is not one this build can use.
    #[error("invalid store location: {0}")]
    Location(String),
    /// The store could not be reached or refused a command (the message names the
    /// operation and the server's error kind, never a URL or a key).
    #[error("the provider's store failed: {0}; check that the server is up and reachable")]
    Backend(String),
    /// The store holds a value this provider cannot read (written by another version, or
    /// edited by hand).
    #[error("the provider's store holds an unreadable {0}; delete it or use another namespace")]
    Corrupt(&'static str),
}

/// A store failure at an OAuth endpoint: `503 temporarily_unavailable`, so that clients
/// retry later; the detail goes to the log only.
impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store unavailable");
        OAuthError::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
            .with_description("the authorization server's store is unavailable; try again shortly")
    }
}

/// Which one-use `jti` memory a [`GrantStore::first_use`] call is about; each has its
/// own cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplayKind {
    /// Client assertions and JWT-bearer grant assertions (RFC 7523 §3).
    Assertion,
    /// DPoP proofs at `/token` and `/par` (RFC 9449 §11.1).
    TokenProof,
    /// DPoP proofs at the provider's protected resource (`/api/*`, `/userinfo`).
    ResourceProof,
}

/// What [`GrantStore`] futures resolve to.
pub(crate) type StoreResult<T> = Result<T, StoreError>;
/// A boxed store future.
pub(crate) type StoreFuture<'a, T> = BoxFuture<'a, StoreResult<T>>;
/// Checks a code's bindings (client, redirect URI, PKCE, DPoP key) before it is used up.
pub(crate) type Bindings<'a> = dyn Fn(&CodeRecord) -> Result<(), &'static str> + Send + Sync + 'a;

/// The provider's state. Every method takes `now` (seconds since the epoch) from the
/// caller; expiries are compared with it exactly as the memory store does.
///
/// Implementations must be atomic across every instance sharing the store: of concurrent
/// uses of one code, refresh token, pushed request, device approval or `jti`, exactly one
/// succeeds. Secrets are keyed by their SHA-256 digest ([`Digest`]); none is stored.
pub(crate) trait GrantStore: Send + Sync + 'static {
    /// Stores a fresh code; false when the code cap is reached.
    fn insert_code(&self, hash: Digest, rec: CodeRecord, now: u64) -> StoreFuture<'_, bool>;

    /// Uses a code once if `bindings` accept it (a refusal leaves it unused); returns its
    /// record and the id of the grant it starts. A used code presented again revokes
    /// that grant ([`CodeError::Replayed`]).
    fn take_code<'a>(
        &'a self,
        hash: &'a Digest,
        now: u64,
        bindings: &'a Bindings<'a>,
    ) -> StoreFuture<'a, Result<(CodeRecord, String), CodeError>>;

    /// Records a grant and its first refresh token (digest, expiry); false when the grant
    /// was revoked meanwhile.
    fn create_grant<'a>(
        &'a self,
        gid: &'a str,
        grant: Grant,
        refresh: Option<(Digest, u64)>,
        now: u64,
    ) -> StoreFuture<'a, bool>;

    /// Uses a refresh token: client, DPoP key, scope; rotation to `next`; reuse of a
    /// rotated token revokes the grant.
    fn refresh<'a>(&'a self, r: RefreshUse<'a>)
    -> StoreFuture<'a, Result<Refreshed, RefreshError>>;

    /// The grant behind a live, unrotated refresh token.
    fn refresh_info<'a>(
        &'a self,
        hash: &'a Digest,
        now: u64,
    ) -> StoreFuture<'a, Option<RefreshInfo>>;

    /// Revokes the grant behind a refresh token of `client_id`; false when unknown.
    fn revoke_refresh<'a>(
        &'a self,
        hash: &'a Digest,
        client_id: &'a str,
        now: u64,
    ) -> StoreFuture<'a, bool>;

    /// Revokes one access token until its `exp`.
    fn revoke_jti<'a>(&'a self, jti: &'a str, exp: u64, now: u64) -> StoreFuture<'a, ()>;

    /// Whether an access token was revoked, alone or with its grant.
    fn is_revoked<'a>(
        &'a self,
        jti: &'a str,
        gid: Option<&'a str>,
        now: u64,
    ) -> StoreFuture<'a, bool>;

    /// Starts a login; its id, or `None` when too many are in progress.
    fn insert_pending(&self, p: Pending, now: u64) -> StoreFuture<'_, Option<String>>;

    /// A live login in progress.
    fn pending<'a>(&'a self, id: &'a str, now: u64) -> StoreFuture<'a, Option<Pending>>;

    /// Reserves a password check; false when the login is gone or out of attempts.
    fn begin_login_attempt<'a>(&'a self, id: &'a str, now: u64) -> StoreFuture<'a, bool>;

    /// Records a wrong password; true when the login has now ended.
    fn login_failed<'a>(&'a self, id: &'a str, now: u64) -> StoreFuture<'a, bool>;

    /// The user signed in; their attempt is given back.
    fn set_pending_user<'a>(&'a self, id: &'a str, user: &'a str, now: u64) -> StoreFuture<'a, ()>;

    /// Ends a login, returning it if it was live.
    fn remove_pending<'a>(&'a self, id: &'a str, now: u64) -> StoreFuture<'a, Option<Pending>>;

    /// Remembers a new device authorization.
    fn insert_device(&self, d: NewDevice, now: u64) -> StoreFuture<'_, Result<(), InsertError>>;

    /// The pending device authorization a (normalised) user code names.
    fn device_by_user_code<'a>(
        &'a self,
        user_code: &'a str,
        now: u64,
    ) -> StoreFuture<'a, Option<DeviceInfo>>;

    /// Records the user's decision; false when the authorization is no longer pending.
    fn decide_device<'a>(
        &'a self,
        device: &'a Digest,
        decision: DeviceState,
        now: u64,
    ) -> StoreFuture<'a, bool>;

    /// One poll of the token endpoint with a device code. `at` is this process's
    /// monotonic clock; a shared store measures intervals with its own clock instead.
    fn poll_device<'a>(
        &'a self,
        device: &'a Digest,
        client_id: &'a str,
        at: Instant,
        now: u64,
    ) -> StoreFuture<'a, Poll>;

    /// Stores a pushed request for `ttl` seconds; its `request_uri`, or `None` when full.
    fn push_request(&self, request: Request, ttl: u64, now: u64)
    -> StoreFuture<'_, Option<String>>;

    /// Takes a pushed request once, if live and pushed by `client_id`.
    fn take_request<'a>(
        &'a self,
        request_uri: &'a str,
        client_id: &'a str,
        now: u64,
    ) -> StoreFuture<'a, Option<Request>>;

    /// Records `parts` (joined unambiguously) in the `kind` memory until `until`, unless
    /// already there.
    fn first_use<'a>(
        &'a self,
        kind: ReplayKind,
        parts: &'a [&'a str],
        until: u64,
        now: u64,
    ) -> StoreFuture<'a, Use>;

    /// Keeps a dynamically registered client (RFC 7591) until it is deleted: `record` is
    /// its JSON, opaque to the store. False when `cap` clients are registered already.
    fn insert_client<'a>(
        &'a self,
        id: &'a str,
        record: &'a str,
        cap: usize,
    ) -> StoreFuture<'a, bool>;

    /// The record of a registered client.
    fn client<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<String>>;

    /// Deletes a registered client (RFC 7592 §2.3); false when unknown.
    fn remove_client<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool>;
}

/// The arguments of [`GrantStore::refresh`].
#[derive(Clone, Copy)]
pub(crate) struct RefreshUse<'a> {
    /// Digest of the presented refresh token.
    pub hash: &'a Digest,
    pub client_id: &'a str,
    /// Thumbprint of the request's DPoP proof key, if any.
    pub dpop_jkt: Option<&'a str>,
    pub requested: Option<&'a authflow::types::Scope>,
    /// The next refresh token (digest, expiry), unless rotation is off.
    pub next: Option<(Digest, u64)>,
    pub now: u64,
}

/// The store the handlers use: the memory store called directly, or a shared one
/// through [`GrantStore`].
// One per provider, inside its `Arc`: boxing the memory store would only add a pointer
// chase to every call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Backend {
    Memory(MemoryStore),
    Shared(Arc<dyn GrantStore>),
}

impl Backend {
    pub(crate) async fn insert_code(
        &self,
        hash: Digest,
        rec: CodeRecord,
        now: u64,
    ) -> StoreResult<bool> {
        match self {
            Self::Memory(m) => Ok(m.grants.insert_code(hash, rec, now)),
            Self::Shared(s) => s.insert_code(hash, rec, now).await,
        }
    }

    pub(crate) async fn take_code<F>(
        &self,
        hash: &Digest,
        now: u64,
        bindings: F,
    ) -> StoreResult<Result<(CodeRecord, String), CodeError>>
    where
        F: Fn(&CodeRecord) -> Result<(), &'static str> + Send + Sync,
    {
        match self {
            Self::Memory(m) => Ok(m.grants.take_code(hash, now, bindings)),
            Self::Shared(s) => s.take_code(hash, now, &bindings).await,
        }
    }

    pub(crate) async fn create_grant(
        &self,
        gid: &str,
        grant: Grant,
        refresh: Option<(Digest, u64)>,
        now: u64,
    ) -> StoreResult<bool> {
        match self {
            Self::Memory(m) => Ok(m.grants.create_grant(gid, grant, refresh, now)),
            Self::Shared(s) => s.create_grant(gid, grant, refresh, now).await,
        }
    }

    pub(crate) async fn refresh(
        &self,
        r: RefreshUse<'_>,
    ) -> StoreResult<Result<Refreshed, RefreshError>> {
        match self {
            Self::Memory(m) => {
                Ok(m.grants
                    .refresh(r.hash, r.client_id, r.dpop_jkt, r.requested, r.next, r.now))
            }
            Self::Shared(s) => s.refresh(r).await,
        }
    }

    pub(crate) async fn refresh_info(
        &self,
        hash: &Digest,
        now: u64,
    ) -> StoreResult<Option<RefreshInfo>> {
        match self {
            Self::Memory(m) => Ok(m.grants.refresh_info(hash, now)),
            Self::Shared(s) => s.refresh_info(hash, now).await,
        }
    }

    pub(crate) async fn revoke_refresh(
        &self,
        hash: &Digest,
        client_id: &str,
        now: u64,
    ) -> StoreResult<bool> {
        match self {
            Self::Memory(m) => Ok(m.grants.revoke_refresh(hash, client_id, now)),
            Self::Shared(s) => s.revoke_refresh(hash, client_id, now).await,
        }
    }

    pub(crate) async fn revoke_jti(&self, jti: &str, exp: u64, now: u64) -> StoreResult<()> {
        match self {
            Self::Memory(m) => {
                m.grants.revoke_jti(jti, exp, now);
                Ok(())
            }
            Self::Shared(s) => s.revoke_jti(jti, exp, now).await,
        }
    }

    pub(crate) async fn is_revoked(
        &self,
        jti: &str,
        gid: Option<&str>,
        now: u64,
    ) -> StoreResult<bool> {
        match self {
            Self::Memory(m) => Ok(m.grants.is_revoked(jti, gid, now)),
            Self::Shared(s) => s.is_revoked(jti, gid, now).await,
        }
    }

    pub(crate) async fn insert_pending(&self, p: Pending, now: u64) -> StoreResult<Option<String>> {
        match self {
            Self::Memory(m) => Ok(m.grants.insert_pending(p, now)),
            Self::Shared(s) => s.insert_pending(p, now).await,
        }
    }

    pub(crate) async fn pending(&self, id: &str, now: u64) -> StoreResult<Option<Pending>> {
        match self {
            Self::Memory(m) => Ok(m.grants.pending(id, now)),
            Self::Shared(s) => s.pending(id, now).await,
        }
    }

    pub(crate) async fn begin_login_attempt(&self, id: &str, now: u64) -> StoreResult<bool> {
        match self {
            Self::Memory(m) => Ok(m.grants.begin_login_attempt(id, now)),
            Self::Shared(s) => s.begin_login_attempt(id, now).await,
        }
    }

    pub(crate) async fn login_failed(&self, id: &str, now: u64) -> StoreResult<bool> {
        match self {
            Self::Memory(m) => Ok(m.grants.login_failed(id, now)),
            Self::Shared(s) => s.login_failed(id, now).await,
        }
    }

    pub(crate) async fn set_pending_user(&self, id: &str, user: &str, now: u64) -> StoreResult<()> {
        match self {
            Self::Memory(m) => {
                m.grants.set_pending_user(id, user, now);
                Ok(())
            }
            Self::Shared(s) => s.set_pending_user(id, user, now).await,
        }
    }

    pub(crate) async fn remove_pending(&self, id: &str, now: u64) -> StoreResult<Option<Pending>> {
        match self {
            Self::Memory(m) => Ok(m.grants.remove_pending(id, now)),
            Self::Shared(s) => s.remove_pending(id, now).await,
        }
    }

    pub(crate) async fn insert_device(
        &self,
        d: NewDevice,
        now: u64,
    ) -> StoreResult<Result<(), InsertError>> {
        match self {
            Self::Memory(m) => Ok(m.devices.insert(d, now)),
            Self::Shared(s) => s.insert_device(d, now).await,
        }
    }

    pub(crate) async fn device_by_user_code(
        &self,
        user_code: &str,
        now: u64,
    ) -> StoreResult<Option<DeviceInfo>> {
        match self {
            Self::Memory(m) => Ok(m.devices.by_user_code(user_code, now)),
            Self::Shared(s) => s.device_by_user_code(user_code, now).await,
        }
    }

    pub(crate) async fn decide_device(
        &self,
        device: &Digest,
        decision: DeviceState,
        now: u64,
    ) -> StoreResult<bool> {
        match self {
            Self::Memory(m) => Ok(m.devices.decide(device, decision, now)),
            Self::Shared(s) => s.decide_device(device, decision, now).await,
        }
    }

    pub(crate) async fn poll_device(
        &self,
        device: &Digest,
        client_id: &str,
        at: Instant,
        now: u64,
    ) -> StoreResult<Poll> {
        match self {
            Self::Memory(m) => Ok(m.devices.poll(device, client_id, at, now)),
            Self::Shared(s) => s.poll_device(device, client_id, at, now).await,
        }
    }

    pub(crate) async fn push_request(
        &self,
        request: Request,
        ttl: u64,
        now: u64,
    ) -> StoreResult<Option<String>> {
        match self {
            Self::Memory(m) => Ok(m.par.push(request, ttl, now)),
            Self::Shared(s) => s.push_request(request, ttl, now).await,
        }
    }

    pub(crate) async fn take_request(
        &self,
        request_uri: &str,
        client_id: &str,
        now: u64,
    ) -> StoreResult<Option<Request>> {
        match self {
            Self::Memory(m) => Ok(m.par.take(request_uri, client_id, now)),
            Self::Shared(s) => s.take_request(request_uri, client_id, now).await,
        }
    }

    pub(crate) async fn first_use(
        &self,
        kind: ReplayKind,
        parts: &[&str],
        until: u64,
        now: u64,
    ) -> StoreResult<Use> {
        match self {
            Self::Memory(m) => Ok(m.replay(kind).first_use(parts, until, now)),
            Self::Shared(s) => s.first_use(kind, parts, until, now).await,
        }
    }
}

impl Backend {
    pub(crate) async fn insert_client(
        &self,
        id: &str,
        record: &str,
        cap: usize,
    ) -> StoreResult<bool> {
        match self {
            Self::Memory(m) => Ok(m.clients.insert(id, record, cap)),
            Self::Shared(s) => s.insert_client(id, record, cap).await,
        }
    }

    pub(crate) async fn client(&self, id: &str) -> StoreResult<Option<String>> {
        match self {
            Self::Memory(m) => Ok(m.clients.get(id)),
            Self::Shared(s) => s.client(id).await,
        }
    }

    pub(crate) async fn remove_client(&self, id: &str) -> StoreResult<bool> {
        match self {
            Self::Memory(m) => Ok(m.clients.remove(id)),
            Self::Shared(s) => s.remove_client(id).await,
        }
    }
}

/// The library's DPoP replay cache for `/api/*` on a shared store, so that a proof used
/// at one instance is a replay at every other.
pub(crate) struct SharedProofCache(pub Arc<dyn GrantStore>);

impl authflow::resource::ReplayCache for SharedProofCache {
    fn check_and_insert<'a>(
        &'a self,
        id: &'a authflow::resource::ProofId,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<bool, authflow::resource::ReplayError>> {
        Box::pin(async move {
            let now = crate::time::now();
            let id = crate::hashing::b64(id.as_bytes());
            let until = now.saturating_add(ttl.as_secs()).saturating_add(1);
            match self
                .0
                .first_use(ReplayKind::ResourceProof, &[&id], until, now)
                .await
            {
                Ok(Use::First) => Ok(true),
                Ok(Use::Replayed) => Ok(false),
                Ok(Use::Full) => Err(authflow::resource::ReplayError::Full),
                Err(e) => Err(authflow::resource::ReplayError::Backend(e.to_string())),
            }
        })
    }
}
