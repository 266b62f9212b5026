//! The [`GrantStore`] operations of [`RedisGrantStore`]: codes, grants, refresh tokens and
//! revocations here, the rest in `redis_flows`. One Lua script (`redis_scripts`) for each
//! change that must be atomic, plain reads elsewhere. The rules (order of checks, errors,
//! caps) are those of the memory store, operation by operation.

use std::collections::HashMap;
use std::time::Instant;

use authflow::types::Scope;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use super::redis::{RedisGrantStore, backend, ttl_ms};
use super::{Bindings, GrantStore, RefreshUse, ReplayKind, StoreError, StoreFuture, StoreResult};
use crate::authz_request::Request;
use crate::device_store::{DeviceInfo, DeviceState, InsertError, NewDevice, Poll};
use crate::hashing::{Digest, b64, random_id, unb64};
use crate::replay::Use;
use crate::store::{
    CodeError, CodeRecord, Grant, MAX_CODES, MAX_REFRESH_HISTORY, Pending, RefreshError,
    RefreshInfo, Refreshed, USED_CODE_SECS,
};

/// A grant as stored (`body`); its refresh tokens are separate records.
#[derive(Serialize, Deserialize)]
struct GrantBody {
    client_id: String,
    user: String,
    scope: Scope,
    auth_time: u64,
    dpop_jkt: Option<String>,
}

pub(super) fn to_json<T: Serialize>(v: &T, what: &'static str) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|_| StoreError::Corrupt(what))
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(
    s: &str,
    what: &'static str,
) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt(what))
}

pub(super) fn digest_of(s: &str, what: &'static str) -> StoreResult<Digest> {
    unb64(s)
        .and_then(|v| Digest::try_from(v.as_slice()).ok())
        .ok_or(StoreError::Corrupt(what))
}

pub(super) fn number(s: Option<&String>, what: &'static str) -> StoreResult<u64> {
    s.and_then(|s| s.parse().ok())
        .ok_or(StoreError::Corrupt(what))
}

/// An entry under a cap: `item`, counted in the sorted set `index` until `expires`.
pub(super) struct Capped<'a> {
    pub index: &'a str,
    pub item: &'a str,
    pub cap: usize,
    pub member: &'a str,
    pub expires: u64,
}

/// A refresh record with its grant, as `redis_scripts::READ_REFRESH` returns them.
struct RefreshRead {
    gid: String,
    client_id: String,
    expires: u64,
    rotated: bool,
    /// `None` when the grant is gone (revoked or expired).
    grant: Option<GrantBody>,
}

impl RedisGrantStore {
    pub(super) fn conn(&self) -> redis::aio::ConnectionManager {
        self.conn.clone()
    }

    async fn revoke_grant(&self, gid: &str, now: u64) -> StoreResult<()> {
        let until = now + self.access_ttl;
        let _: i64 = self
            .scripts
            .revoke_grant
            .key(self.key(&format!("grant:{gid}")))
            .key(self.key(&format!("grant:{gid}:history")))
            .key(self.key(&format!("revoked-grant:{gid}")))
            .arg(ttl_ms(until, now))
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("revoke a grant", &e))?;
        Ok(())
    }

    async fn read_refresh(&self, hash: &Digest) -> StoreResult<Option<RefreshRead>> {
        type Row = (
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
        );
        let row: Option<Row> = self
            .scripts
            .read_refresh
            .key(self.key(&format!("refresh:{}", b64(hash))))
            .arg(self.key("grant:"))
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("read a refresh token", &e))?;
        let Some((gid, client_id, expires, rotated, body, _)) = row else {
            return Ok(None);
        };
        const WHAT: &str = "refresh token record";
        Ok(Some(RefreshRead {
            gid,
            client_id,
            expires: number(Some(&expires), WHAT)?,
            rotated: rotated != "0",
            grant: body.map(|b| from_json(&b, "grant")).transpose()?,
        }))
    }

    async fn take_code_now(
        &self,
        hash: &Digest,
        now: u64,
        bindings: &Bindings<'_>,
    ) -> StoreResult<Result<(CodeRecord, String), CodeError>> {
        let member = b64(hash);
        let key = self.key(&format!("code:{member}"));
        // A lost race to mark the code used is seen on the second read: it is used then.
        for _ in 0..2 {
            let mut state: HashMap<String, String> = redis::cmd("HGETALL")
                .arg(&key)
                .query_async(&mut self.conn())
                .await
                .map_err(|e| backend("read a code", &e))?;
            if let Some(gid) = state.remove("used") {
                self.revoke_grant(&gid, now).await?;
                return Ok(Err(CodeError::Replayed));
            }
            let Some(json) = state.remove("rec") else {
                return Ok(Err(CodeError::Invalid));
            };
            let rec: CodeRecord = from_json(&json, "authorization code")?;
            if rec.expires <= now {
                return Ok(Err(CodeError::Invalid));
            }
            if let Err(why) = bindings(&rec) {
                return Ok(Err(CodeError::Binding(why)));
            }
            let gid = random_id();
            let used_until = now + USED_CODE_SECS;
            let marked: i64 = self
                .scripts
                .use_code
                .key(&key)
                .key(self.key("codes"))
                .arg(&json)
                .arg(&gid)
                .arg(ttl_ms(used_until, now))
                .arg(&member)
                .arg(used_until)
                .invoke_async(&mut self.conn())
                .await
                .map_err(|e| backend("use a code", &e))?;
            if marked == 1 {
                return Ok(Ok((rec, gid)));
            }
        }
        Ok(Err(CodeError::Invalid))
    }

    async fn refresh_now(&self, r: RefreshUse<'_>) -> StoreResult<Result<Refreshed, RefreshError>> {
        let Some(record) = self
            .read_refresh(r.hash)
            .await?
            .filter(|rec| rec.expires > r.now && rec.client_id == r.client_id)
        else {
            return Ok(Err(RefreshError::Invalid));
        };
        let Some(grant) = record.grant else {
            return Ok(Err(RefreshError::Invalid));
        };
        // As in memory: the DPoP key before reuse detection.
        if let Some(bound) = &grant.dpop_jkt {
            let same = r
                .dpop_jkt
                .is_some_and(|k| bool::from(k.as_bytes().ct_eq(bound.as_bytes())));
            if !same {
                return Ok(Err(RefreshError::DpopKey));
            }
        }
        if record.rotated {
            self.revoke_grant(&record.gid, r.now).await?;
            return Ok(Err(RefreshError::Reused));
        }
        if r.requested.is_some_and(|s| !s.is_subset_of(&grant.scope)) {
            return Ok(Err(RefreshError::Scope));
        }
        if let Some((new_hash, expires)) = r.next {
            let gid = &record.gid;
            let outcome: String = self
                .scripts
                .rotate
                .key(self.key(&format!("refresh:{}", b64(r.hash))))
                .key(self.key(&format!("refresh:{}", b64(&new_hash))))
                .key(self.key(&format!("grant:{gid}")))
                .key(self.key(&format!("grant:{gid}:history")))
                .arg(gid)
                .arg(r.client_id)
                .arg(expires)
                .arg(ttl_ms(expires, r.now))
                .arg(b64(&new_hash))
                .arg(MAX_REFRESH_HISTORY)
                .arg(self.key("refresh:"))
                .invoke_async(&mut self.conn())
                .await
                .map_err(|e| backend("rotate a refresh token", &e))?;
            match outcome.as_str() {
                "ok" => {}
                // Another request rotated it first: this one is the reuse.
                "rotated" => {
                    self.revoke_grant(gid, r.now).await?;
                    return Ok(Err(RefreshError::Reused));
                }
                _ => return Ok(Err(RefreshError::Invalid)),
            }
        }
        Ok(Ok(Refreshed {
            gid: record.gid,
            user: grant.user,
            scope: r.requested.unwrap_or(&grant.scope).clone(),
            auth_time: grant.auth_time,
        }))
    }

    pub(super) async fn bounded_insert(
        &self,
        c: Capped<'_>,
        now: u64,
        fields: &[(&str, String)],
    ) -> StoreResult<bool> {
        let mut call = self.scripts.bounded_insert.prepare_invoke();
        call.key(self.key(c.index))
            .key(self.key(c.item))
            .arg(now)
            .arg(c.cap)
            .arg(c.member)
            .arg(c.expires)
            .arg(ttl_ms(c.expires, now));
        for (field, value) in fields {
            call.arg(*field).arg(value);
        }
        let inserted: i64 = call
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("insert", &e))?;
        Ok(inserted == 1)
    }
}

impl GrantStore for RedisGrantStore {
    fn insert_code(&self, hash: Digest, rec: CodeRecord, now: u64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let member = b64(&hash);
            let json = to_json(&rec, "authorization code")?;
            let capped = Capped {
                index: "codes",
                item: &format!("code:{member}"),
                cap: MAX_CODES,
                member: &member,
                expires: rec.expires,
            };
            self.bounded_insert(capped, now, &[("rec", json)]).await
        })
    }

    fn take_code<'a>(
        &'a self,
        hash: &'a Digest,
        now: u64,
        bindings: &'a Bindings<'a>,
    ) -> StoreFuture<'a, Result<(CodeRecord, String), CodeError>> {
        Box::pin(self.take_code_now(hash, now, bindings))
    }

    fn create_grant<'a>(
        &'a self,
        gid: &'a str,
        grant: Grant,
        refresh: Option<(Digest, u64)>,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let expires = refresh.map_or(now + self.access_ttl, |(_, e)| e);
            let member = refresh.map(|(h, _)| b64(&h)).unwrap_or_default();
            let body = to_json(
                &GrantBody {
                    client_id: grant.client_id.clone(),
                    user: grant.user,
                    scope: grant.scope,
                    auth_time: grant.auth_time,
                    dpop_jkt: grant.dpop_jkt,
                },
                "grant",
            )?;
            let created: i64 = self
                .scripts
                .create_grant
                .key(self.key(&format!("revoked-grant:{gid}")))
                .key(self.key(&format!("grant:{gid}")))
                .key(self.key(&format!("grant:{gid}:history")))
                .key(self.key(&format!("refresh:{member}")))
                .arg(body)
                .arg(expires)
                .arg(ttl_ms(expires, now))
                .arg(&member)
                .arg(gid)
                .arg(&grant.client_id)
                .invoke_async(&mut self.conn())
                .await
                .map_err(|e| backend("create a grant", &e))?;
            Ok(created == 1)
        })
    }

    fn refresh<'a>(
        &'a self,
        r: RefreshUse<'a>,
    ) -> StoreFuture<'a, Result<Refreshed, RefreshError>> {
        Box::pin(self.refresh_now(r))
    }

    fn refresh_info<'a>(
        &'a self,
        hash: &'a Digest,
        now: u64,
    ) -> StoreFuture<'a, Option<RefreshInfo>> {
        Box::pin(async move {
            let Some(r) = self
                .read_refresh(hash)
                .await?
                .filter(|r| !r.rotated && r.expires > now)
            else {
                return Ok(None);
            };
            Ok(r.grant.map(|g| RefreshInfo {
                client_id: g.client_id,
                user: g.user,
                scope: g.scope,
                expires: r.expires,
                dpop_jkt: g.dpop_jkt,
            }))
        })
    }

    fn revoke_refresh<'a>(
        &'a self,
        hash: &'a Digest,
        client_id: &'a str,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            match self.read_refresh(hash).await? {
                Some(r) if r.client_id == client_id => {
                    self.revoke_grant(&r.gid, now).await?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    fn revoke_jti<'a>(&'a self, jti: &'a str, exp: u64, now: u64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if exp > now {
                let _: () = redis::cmd("SET")
                    .arg(self.key(&format!("revoked-jti:{jti}")))
                    .arg(1)
                    .arg("PX")
                    .arg(ttl_ms(exp, now))
                    .query_async(&mut self.conn())
                    .await
                    .map_err(|e| backend("revoke an access token", &e))?;
            }
            Ok(())
        })
    }

    fn is_revoked<'a>(
        &'a self,
        jti: &'a str,
        gid: Option<&'a str>,
        _now: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut cmd = redis::cmd("EXISTS");
            cmd.arg(self.key(&format!("revoked-jti:{jti}")));
            if let Some(gid) = gid {
                cmd.arg(self.key(&format!("revoked-grant:{gid}")));
            }
            let found: u64 = cmd
                .query_async(&mut self.conn())
                .await
                .map_err(|e| backend("check a revocation", &e))?;
            Ok(found > 0)
        })
    }

    fn insert_pending(&self, p: Pending, now: u64) -> StoreFuture<'_, Option<String>> {
        Box::pin(self.insert_pending_now(p, now))
    }

    fn pending<'a>(&'a self, id: &'a str, now: u64) -> StoreFuture<'a, Option<Pending>> {
        Box::pin(self.pending_now(id, now))
    }

    fn begin_login_attempt<'a>(&'a self, id: &'a str, now: u64) -> StoreFuture<'a, bool> {
        Box::pin(self.begin_login_attempt_now(id, now))
    }

    fn login_failed<'a>(&'a self, id: &'a str, now: u64) -> StoreFuture<'a, bool> {
        Box::pin(self.login_failed_now(id, now))
    }

    fn set_pending_user<'a>(&'a self, id: &'a str, user: &'a str, now: u64) -> StoreFuture<'a, ()> {
        Box::pin(self.set_pending_user_now(id, user, now))
    }

    fn remove_pending<'a>(&'a self, id: &'a str, now: u64) -> StoreFuture<'a, Option<Pending>> {
        Box::pin(self.remove_pending_now(id, now))
    }

    fn insert_device(&self, d: NewDevice, now: u64) -> StoreFuture<'_, Result<(), InsertError>> {
        Box::pin(self.insert_device_now(d, now))
    }

    fn device_by_user_code<'a>(
        &'a self,
        user_code: &'a str,
        now: u64,
    ) -> StoreFuture<'a, Option<DeviceInfo>> {
        Box::pin(self.device_by_user_code_now(user_code, now))
    }

    fn decide_device<'a>(
        &'a self,
        device: &'a Digest,
        decision: DeviceState,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(self.decide_device_now(device, decision, now))
    }

    fn poll_device<'a>(
        &'a self,
        device: &'a Digest,
        client_id: &'a str,
        at: Instant,
        now: u64,
    ) -> StoreFuture<'a, Poll> {
        Box::pin(self.poll_device_now(device, client_id, at, now))
    }

    fn push_request(
        &self,
        request: Request,
        ttl: u64,
        now: u64,
    ) -> StoreFuture<'_, Option<String>> {
        Box::pin(self.push_request_now(request, ttl, now))
    }

    fn take_request<'a>(
        &'a self,
        request_uri: &'a str,
        client_id: &'a str,
        now: u64,
    ) -> StoreFuture<'a, Option<Request>> {
        Box::pin(self.take_request_now(request_uri, client_id, now))
    }

    fn first_use<'a>(
        &'a self,
        kind: ReplayKind,
        parts: &'a [&'a str],
        until: u64,
        now: u64,
    ) -> StoreFuture<'a, Use> {
        Box::pin(self.first_use_now(kind, parts, until, now))
    }

    fn insert_client<'a>(
        &'a self,
        id: &'a str,
        record: &'a str,
        cap: usize,
    ) -> StoreFuture<'a, bool> {
        Box::pin(self.insert_client_now(id, record, cap))
    }

    fn client<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(self.client_now(id))
    }

    fn remove_client<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(self.remove_client_now(id))
    }
}
