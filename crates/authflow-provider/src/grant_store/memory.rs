//! [`MemoryStore`]: the provider's state in this process, the default. It gathers the
//! in-memory stores ([`Store`], [`DeviceStore`], [`ParStore`], [`ReplayCache`]), each a
//! short `std` mutex section per call. Handlers reach it through
//! [`Backend::Memory`](super::Backend) without boxing; the [`GrantStore`] impl is for code
//! that needs the trait (the shared tests).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::{Bindings, GrantStore, RefreshUse, ReplayKind, StoreFuture};
use crate::authz_request::Request;
use crate::device_store::{DeviceInfo, DeviceState, DeviceStore, InsertError, NewDevice, Poll};
use crate::hashing::Digest;
use crate::par_store::ParStore;
use crate::replay::{ReplayCache, Use};
use crate::store::{
    CodeError, CodeRecord, Grant, Pending, RefreshError, RefreshInfo, Refreshed, Store,
};

/// The most client assertion and JWT-bearer `jti`s remembered at once (each for at most
/// five minutes).
pub(crate) const MAX_ASSERTIONS: usize = 100_000;
/// The most DPoP proofs at `/token` and `/par` remembered at once (those of the last
/// minute or so).
pub(crate) const MAX_PROOFS: usize = 100_000;

/// See the module documentation.
pub(crate) struct MemoryStore {
    pub grants: Store,
    pub devices: DeviceStore,
    pub par: ParStore,
    pub clients: ClientRecords,
    assertions: ReplayCache,
    token_proofs: ReplayCache,
    resource_proofs: ReplayCache,
}

impl MemoryStore {
    /// An empty store; `access_ttl` is how long a revoked grant is remembered.
    pub(crate) fn new(access_ttl: u64) -> Self {
        Self {
            grants: Store::new(access_ttl),
            devices: DeviceStore::default(),
            par: ParStore::default(),
            clients: ClientRecords::default(),
            assertions: ReplayCache::new(MAX_ASSERTIONS),
            token_proofs: ReplayCache::new(MAX_PROOFS),
            resource_proofs: ReplayCache::new(authflow::resource::DEFAULT_REPLAY_CAPACITY),
        }
    }

    /// The `jti` memory for `kind`.
    pub(crate) fn replay(&self, kind: ReplayKind) -> &ReplayCache {
        match kind {
            ReplayKind::Assertion => &self.assertions,
            ReplayKind::TokenProof => &self.token_proofs,
            ReplayKind::ResourceProof => &self.resource_proofs,
        }
    }
}

/// Dynamically registered clients by id, as JSON records.
#[derive(Default)]
pub(crate) struct ClientRecords {
    inner: Mutex<HashMap<String, String>>,
}

impl ClientRecords {
    /// False when `cap` clients are registered already (a new id is never a replacement).
    pub(crate) fn insert(&self, id: &str, record: &str, cap: usize) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.len() >= cap && !g.contains_key(id) {
            return false;
        }
        g.insert(id.to_owned(), record.to_owned());
        true
    }

    pub(crate) fn get(&self, id: &str) -> Option<String> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.get(id).cloned()
    }

    pub(crate) fn remove(&self, id: &str) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.remove(id).is_some()
    }
}

/// A finished answer as a store future.
fn ready<'a, T: Send + 'a>(v: T) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(Ok(v)))
}

impl GrantStore for MemoryStore {
    fn insert_code(&self, hash: Digest, rec: CodeRecord, now: u64) -> StoreFuture<'_, bool> {
        ready(self.grants.insert_code(hash, rec, now))
    }

    fn take_code<'a>(
        &'a self,
        hash: &'a Digest,
        now: u64,
        bindings: &'a Bindings<'a>,
    ) -> StoreFuture<'a, Result<(CodeRecord, String), CodeError>> {
        ready(self.grants.take_code(hash, now, bindings))
    }

    fn create_grant<'a>(
        &'a self,
        gid: &'a str,
        grant: Grant,
        refresh: Option<(Digest, u64)>,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        ready(self.grants.create_grant(gid, grant, refresh, now))
    }

    fn refresh<'a>(
        &'a self,
        r: RefreshUse<'a>,
    ) -> StoreFuture<'a, Result<Refreshed, RefreshError>> {
        ready(
            self.grants
                .refresh(r.hash, r.client_id, r.dpop_jkt, r.requested, r.next, r.now),
        )
    }

    fn refresh_info<'a>(
        &'a self,
        hash: &'a Digest,
        now: u64,
    ) -> StoreFuture<'a, Option<RefreshInfo>> {
        ready(self.grants.refresh_info(hash, now))
    }

    fn revoke_refresh<'a>(
        &'a self,
        hash: &'a Digest,
        client_id: &'a str,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        ready(self.grants.revoke_refresh(hash, client_id, now))
    }

    fn revoke_jti<'a>(&'a self, jti: &'a str, exp: u64, now: u64) -> StoreFuture<'a, ()> {
        self.grants.revoke_jti(jti, exp, now);
        ready(())
    }

    fn is_revoked<'a>(
        &'a self,
        jti: &'a str,
        gid: Option<&'a str>,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        ready(self.grants.is_revoked(jti, gid, now))
    }

    fn insert_pending(&self, p: Pending, now: u64) -> StoreFuture<'_, Option<String>> {
        ready(self.grants.insert_pending(p, now))
    }

    fn pending<'a>(&'a self, id: &'a str, now: u64) -> StoreFuture<'a, Option<Pending>> {
        ready(self.grants.pending(id, now))
    }

    fn begin_login_attempt<'a>(&'a self, id: &'a str, now: u64) -> StoreFuture<'a, bool> {
        ready(self.grants.begin_login_attempt(id, now))
    }

    fn login_failed<'a>(&'a self, id: &'a str, now: u64) -> StoreFuture<'a, bool> {
        ready(self.grants.login_failed(id, now))
    }

    fn set_pending_user<'a>(&'a self, id: &'a str, user: &'a str, now: u64) -> StoreFuture<'a, ()> {
        self.grants.set_pending_user(id, user, now);
        ready(())
    }

    fn remove_pending<'a>(&'a self, id: &'a str, now: u64) -> StoreFuture<'a, Option<Pending>> {
        ready(self.grants.remove_pending(id, now))
    }

    fn insert_device(&self, d: NewDevice, now: u64) -> StoreFuture<'_, Result<(), InsertError>> {
        ready(self.devices.insert(d, now))
    }

    fn device_by_user_code<'a>(
        &'a self,
        user_code: &'a str,
        now: u64,
    ) -> StoreFuture<'a, Option<DeviceInfo>> {
        ready(self.devices.by_user_code(user_code, now))
    }

    fn decide_device<'a>(
        &'a self,
        device: &'a Digest,
        decision: DeviceState,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        ready(self.devices.decide(device, decision, now))
    }

    fn poll_device<'a>(
        &'a self,
        device: &'a Digest,
        client_id: &'a str,
        at: Instant,
        now: u64,
    ) -> StoreFuture<'a, Poll> {
        ready(self.devices.poll(device, client_id, at, now))
    }

    fn push_request(
        &self,
        request: Request,
        ttl: u64,
        now: u64,
    ) -> StoreFuture<'_, Option<String>> {
        ready(self.par.push(request, ttl, now))
    }

    fn take_request<'a>(
        &'a self,
        request_uri: &'a str,
        client_id: &'a str,
        now: u64,
    ) -> StoreFuture<'a, Option<Request>> {
        ready(self.par.take(request_uri, client_id, now))
    }

    fn first_use<'a>(
        &'a self,
        kind: ReplayKind,
        parts: &'a [&'a str],
        until: u64,
        now: u64,
    ) -> StoreFuture<'a, Use> {
        ready(self.replay(kind).first_use(parts, until, now))
    }

    fn insert_client<'a>(
        &'a self,
        id: &'a str,
        record: &'a str,
        cap: usize,
    ) -> StoreFuture<'a, bool> {
        ready(self.clients.insert(id, record, cap))
    }

    fn client<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<String>> {
        ready(self.clients.get(id))
    }

    fn remove_client<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        ready(self.clients.remove(id))
    }
}
