//! Logins in progress, device authorizations, pushed requests and `jti`s in
//! [`RedisGrantStore`]; the [`GrantStore`](super::GrantStore) impl in `redis_ops` calls
//! these.

use std::collections::HashMap;
use std::time::Instant;

use authflow::types::Scope;
use serde::{Deserialize, Serialize};

use super::redis::{RedisGrantStore, backend, ttl_ms};
use super::redis_ops::{Capped, digest_of, from_json, number, to_json};
use super::{ReplayKind, StoreError, StoreResult};
use crate::authz_request::Request;
use crate::device_store::{
    DeviceInfo, DeviceState, EXPIRED_GRACE, InsertError, MAX_DEVICES, NewDevice, Poll,
    SLOW_DOWN_STEP,
};
use crate::grant_store::memory::{MAX_ASSERTIONS, MAX_PROOFS};
use crate::hashing::{Digest, b64, random_id, random_token, sha256};
use crate::par_store::{MAX_PUSHED, MAX_PUSHED_PER_CLIENT, REQUEST_URI_PREFIX};
use crate::replay::{Use, replay_key};
use crate::store::{MAX_LOGIN_FAILURES, MAX_PENDING, Pending};

/// A login as stored (`body`); the fields that change are hash fields of their own.
#[derive(Serialize, Deserialize)]
struct PendingBody {
    client_id: String,
    redirect_uri: String,
    redirect_uri_given: bool,
    state: Option<String>,
    scope: Scope,
    challenge: Option<String>,
    nonce: Option<String>,
    dpop_jkt: Option<String>,
    csrf: String,
    /// The digest of the device code a device sign-in approves (base64url).
    device: Option<String>,
}

/// A login from its hash fields.
fn pending_from(mut f: HashMap<String, String>) -> StoreResult<Pending> {
    const WHAT: &str = "login in progress";
    let body: PendingBody = from_json(f.get("body").map_or("", String::as_str), WHAT)?;
    Ok(Pending {
        client_id: body.client_id,
        redirect_uri: body.redirect_uri,
        redirect_uri_given: body.redirect_uri_given,
        state: body.state,
        scope: body.scope,
        challenge: body.challenge,
        nonce: body.nonce,
        dpop_jkt: body.dpop_jkt,
        csrf: body.csrf,
        user: f.remove("user"),
        auth_time: number(f.get("auth_time"), WHAT)?,
        expires: number(f.get("expires"), WHAT)?,
        attempts: number(f.get("attempts"), WHAT)?
            .try_into()
            .map_err(|_| StoreError::Corrupt(WHAT))?,
        device: body.device.map(|d| digest_of(&d, WHAT)).transpose()?,
    })
}

impl RedisGrantStore {
    pub(super) async fn insert_pending_now(
        &self,
        p: Pending,
        now: u64,
    ) -> StoreResult<Option<String>> {
        let id = random_id();
        let body = to_json(
            &PendingBody {
                client_id: p.client_id,
                redirect_uri: p.redirect_uri,
                redirect_uri_given: p.redirect_uri_given,
                state: p.state,
                scope: p.scope,
                challenge: p.challenge,
                nonce: p.nonce,
                dpop_jkt: p.dpop_jkt,
                csrf: p.csrf,
                device: p.device.as_ref().map(|d| b64(d)),
            },
            "login in progress",
        )?;
        let mut fields = vec![
            ("body", body),
            ("expires", p.expires.to_string()),
            ("attempts", p.attempts.to_string()),
            ("auth_time", p.auth_time.to_string()),
        ];
        if let Some(user) = p.user {
            fields.push(("user", user));
        }
        let capped = Capped {
            index: "pending",
            item: &format!("pending:{id}"),
            cap: MAX_PENDING,
            member: &id,
            expires: p.expires,
        };
        let stored = self.bounded_insert(capped, now, &fields).await?;
        Ok(stored.then_some(id))
    }

    pub(super) async fn pending_now(&self, id: &str, now: u64) -> StoreResult<Option<Pending>> {
        let f: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.key(&format!("pending:{id}")))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| backend("read a login", &e))?;
        if f.is_empty() {
            return Ok(None);
        }
        Ok(Some(pending_from(f)?).filter(|p| p.expires > now))
    }

    pub(super) async fn begin_login_attempt_now(&self, id: &str, now: u64) -> StoreResult<bool> {
        let ok: i64 = self
            .scripts
            .begin_attempt
            .key(self.key(&format!("pending:{id}")))
            .arg(now)
            .arg(MAX_LOGIN_FAILURES)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("count a login attempt", &e))?;
        Ok(ok == 1)
    }

    pub(super) async fn login_failed_now(&self, id: &str, _now: u64) -> StoreResult<bool> {
        let ended: i64 = self
            .scripts
            .login_failed
            .key(self.key(&format!("pending:{id}")))
            .key(self.key("pending"))
            .arg(MAX_LOGIN_FAILURES)
            .arg(id)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("record a failed login", &e))?;
        Ok(ended == 1)
    }

    pub(super) async fn set_pending_user_now(
        &self,
        id: &str,
        user: &str,
        now: u64,
    ) -> StoreResult<()> {
        let _: i64 = self
            .scripts
            .set_user
            .key(self.key(&format!("pending:{id}")))
            .arg(user)
            .arg(now)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("record a sign-in", &e))?;
        Ok(())
    }

    pub(super) async fn remove_pending_now(
        &self,
        id: &str,
        now: u64,
    ) -> StoreResult<Option<Pending>> {
        let f: HashMap<String, String> = self
            .scripts
            .take_hash
            .key(self.key(&format!("pending:{id}")))
            .key(self.key("pending"))
            .arg(id)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("end a login", &e))?;
        if f.is_empty() {
            return Ok(None);
        }
        Ok(Some(pending_from(f)?).filter(|p| p.expires > now))
    }

    pub(super) async fn insert_device_now(
        &self,
        d: NewDevice,
        now: u64,
    ) -> StoreResult<Result<(), InsertError>> {
        let member = b64(&d.device);
        let kept_until = d.expires.saturating_add(EXPIRED_GRACE);
        let interval_ms = u64::try_from(d.interval.as_millis()).unwrap_or(u64::MAX);
        let outcome: String = self
            .scripts
            .insert_device
            .key(self.key("devices"))
            .key(self.key(&format!("device:{member}")))
            .key(self.key(&format!("user-code:{}", d.user_code)))
            .arg(now)
            .arg(MAX_DEVICES)
            .arg(&member)
            .arg(kept_until)
            .arg(ttl_ms(kept_until, now))
            .arg(&d.client_id)
            .arg(d.scope.to_string())
            .arg(&d.user_code)
            .arg(d.expires)
            .arg(interval_ms)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("start a device authorization", &e))?;
        Ok(match outcome.as_str() {
            "ok" => Ok(()),
            "taken" => Err(InsertError::UserCodeTaken),
            _ => Err(InsertError::Full),
        })
    }

    pub(super) async fn device_by_user_code_now(
        &self,
        user_code: &str,
        now: u64,
    ) -> StoreResult<Option<DeviceInfo>> {
        let member: Option<String> = redis::cmd("GET")
            .arg(self.key(&format!("user-code:{user_code}")))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| backend("look up a user code", &e))?;
        let Some(member) = member else {
            return Ok(None);
        };
        let (client_id, scope, expires, state): (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        ) = redis::cmd("HMGET")
            .arg(self.key(&format!("device:{member}")))
            .arg(&["client_id", "scope", "expires", "state"])
            .query_async(&mut self.conn())
            .await
            .map_err(|e| backend("read a device authorization", &e))?;
        let (Some(client_id), Some(scope)) = (client_id, scope) else {
            return Ok(None);
        };
        const WHAT: &str = "device authorization";
        let live = number(expires.as_ref(), WHAT)? > now && state.as_deref() == Some("pending");
        if !live {
            return Ok(None);
        }
        Ok(Some(DeviceInfo {
            device: digest_of(&member, WHAT)?,
            client_id,
            scope: Scope::parse(&scope).map_err(|_| StoreError::Corrupt(WHAT))?,
        }))
    }

    pub(super) async fn decide_device_now(
        &self,
        device: &Digest,
        decision: DeviceState,
        now: u64,
    ) -> StoreResult<bool> {
        let (state, user, auth_time) = match decision {
            DeviceState::Approved { user, auth_time } => ("approved", user, auth_time),
            DeviceState::Denied => ("denied", String::new(), 0),
            DeviceState::Used => ("used", String::new(), 0),
            DeviceState::Pending => ("pending", String::new(), 0),
        };
        let decided: i64 = self
            .scripts
            .decide
            .key(self.key(&format!("device:{}", b64(device))))
            .arg(now)
            .arg(self.key("user-code:"))
            .arg(state)
            .arg(user)
            .arg(auth_time)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("record a device decision", &e))?;
        Ok(decided == 1)
    }

    pub(super) async fn poll_device_now(
        &self,
        device: &Digest,
        client_id: &str,
        _at: Instant,
        now: u64,
    ) -> StoreResult<Poll> {
        let step = u64::try_from(SLOW_DOWN_STEP.as_millis()).unwrap_or(u64::MAX);
        let reply: Vec<Option<String>> = self
            .scripts
            .poll
            .key(self.key(&format!("device:{}", b64(device))))
            .arg(client_id)
            .arg(now)
            .arg(step)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("poll a device authorization", &e))?;
        const WHAT: &str = "device authorization";
        let field = |i: usize| reply.get(i).cloned().flatten();
        Ok(match field(0).as_deref() {
            Some("approved") => Poll::Approved {
                user: field(1).ok_or(StoreError::Corrupt(WHAT))?,
                auth_time: number(field(2).as_ref(), WHAT)?,
                scope: Scope::parse(&field(3).unwrap_or_default())
                    .map_err(|_| StoreError::Corrupt(WHAT))?,
            },
            Some("pending") => Poll::Pending,
            Some("slow_down") => Poll::SlowDown,
            Some("denied") => Poll::Denied,
            Some("expired") => Poll::Expired,
            _ => Poll::Invalid,
        })
    }

    pub(super) async fn push_request_now(
        &self,
        request: Request,
        ttl: u64,
        now: u64,
    ) -> StoreResult<Option<String>> {
        let uri = format!("{REQUEST_URI_PREFIX}{}", random_token());
        let member = b64(&sha256(uri.as_bytes()));
        let expires = now + ttl;
        let client = b64(&sha256(request.client_id.as_bytes()));
        let json = to_json(&request, "pushed request")?;
        let pushed: i64 = self
            .scripts
            .push
            .key(self.key("par"))
            .key(self.key(&format!("par-client:{client}")))
            .key(self.key(&format!("par:{member}")))
            .arg(now)
            .arg(MAX_PUSHED)
            .arg(MAX_PUSHED_PER_CLIENT)
            .arg(&member)
            .arg(expires)
            .arg(ttl_ms(expires, now))
            .arg(self.key("par:"))
            .arg(&request.client_id)
            .arg(json)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("store a pushed request", &e))?;
        Ok((pushed == 1).then_some(uri))
    }

    pub(super) async fn take_request_now(
        &self,
        request_uri: &str,
        client_id: &str,
        now: u64,
    ) -> StoreResult<Option<Request>> {
        let member = b64(&sha256(request_uri.as_bytes()));
        let client = b64(&sha256(client_id.as_bytes()));
        let json: Option<String> = self
            .scripts
            .take_pushed
            .key(self.key(&format!("par:{member}")))
            .key(self.key("par"))
            .key(self.key(&format!("par-client:{client}")))
            .arg(now)
            .arg(client_id)
            .arg(&member)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("take a pushed request", &e))?;
        json.map(|j| from_json(&j, "pushed request")).transpose()
    }

    pub(super) async fn first_use_now(
        &self,
        kind: ReplayKind,
        parts: &[&str],
        until: u64,
        now: u64,
    ) -> StoreResult<Use> {
        let (name, cap) = match kind {
            ReplayKind::Assertion => ("assertion", MAX_ASSERTIONS),
            ReplayKind::TokenProof => ("token-proof", MAX_PROOFS),
            ReplayKind::ResourceProof => (
                "resource-proof",
                authflow::resource::DEFAULT_REPLAY_CAPACITY,
            ),
        };
        let member = b64(&replay_key(parts));
        let outcome: String = self
            .scripts
            .first_use
            .key(self.key(&format!("jti:{name}")))
            .key(self.key(&format!("jti:{name}:{member}")))
            .arg(now)
            .arg(cap)
            .arg(&member)
            .arg(until)
            .arg(ttl_ms(until, now))
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("record a jti", &e))?;
        Ok(match outcome.as_str() {
            "first" => Use::First,
            "replayed" => Use::Replayed,
            _ => Use::Full,
        })
    }
}
