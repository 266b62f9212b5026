//! The provider's mutable state in memory (part of [`MemoryStore`]; the rules every
//! [`GrantStore`] follows): authorization codes, grants, refresh tokens, revoked access
//! tokens and pending logins. Secrets are keyed by their SHA-256 digest.
//!
//! [`MemoryStore`]: crate::grant_store::MemoryStore
//! [`GrantStore`]: crate::grant_store::GrantStore
//!
//! One mutex guards it; it is held only for map operations, never across an `.await`
//! or a signature. Client credentials never touch it. Expired entries are swept at most
//! every few seconds on the way in (amortised), so memory stays bounded over days.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use authflow::types::Scope;
use subtle::ConstantTimeEq as _;

use crate::hashing::{Digest, random_id};

/// How often the store sweeps expired entries, in seconds.
const SWEEP_EVERY: u64 = 10;
/// At most this many logins in progress at once.
pub(crate) const MAX_PENDING: usize = 10_000;
/// A login in progress ends after this many wrong passwords.
pub(crate) const MAX_LOGIN_FAILURES: u32 = 5;
/// At most this many authorization codes remembered at once: unused ones (≤ 60 s) and
/// used ones (kept [`USED_CODE_SECS`] to detect replays).
pub(crate) const MAX_CODES: usize = 50_000;
/// How long a used code is remembered, to revoke what it issued when replayed.
pub(crate) const USED_CODE_SECS: u64 = 600;
/// A grant remembers at most this many of its refresh tokens (the live one and the
/// rotated ones before it). Reusing an older rotated token than that is no longer
/// recognised as reuse: it is merely invalid.
pub(crate) const MAX_REFRESH_HISTORY: usize = 32;

/// An issued authorization code (a shared store keeps it as JSON).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct CodeRecord {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub challenge: Option<String>,
    pub scope: Scope,
    pub user: String,
    pub nonce: Option<String>,
    pub auth_time: u64,
    pub expires: u64,
    /// `dpop_jkt` of the authorization request (RFC 9449 §10): the token request's proof
    /// must be made with this key.
    pub dpop_jkt: Option<String>,
}

#[derive(Debug)]
enum CodeState {
    Fresh(CodeRecord),
    /// Presented once; remembers the grant it started, to revoke it on replay.
    Used {
        gid: String,
        expires: u64,
    },
}

/// What a code or refresh token started: one user's authorization of one client.
///
/// Refresh records point to their grant by id; revoking the grant removes it, which
/// makes every refresh token of the grant invalid at once (the orphaned records go at
/// the next sweep). The grant only keeps its last [`MAX_REFRESH_HISTORY`] refresh token
/// digests, to forget the oldest records when rotation adds a new one.
#[derive(Debug)]
pub(crate) struct Grant {
    pub client_id: String,
    pub user: String,
    pub scope: Scope,
    pub auth_time: u64,
    /// The DPoP key the grant's refresh tokens are bound to (public clients, RFC 9449 §5).
    pub dpop_jkt: Option<String>,
    history: VecDeque<Digest>,
    expires: u64,
}

impl Grant {
    pub(crate) fn new(client_id: String, user: String, scope: Scope, auth_time: u64) -> Self {
        Self {
            client_id,
            user,
            scope,
            auth_time,
            dpop_jkt: None,
            history: VecDeque::new(),
            expires: 0,
        }
    }

    /// Binds the grant's refresh tokens to a DPoP key.
    pub(crate) fn bound_to(mut self, jkt: Option<String>) -> Self {
        self.dpop_jkt = jkt;
        self
    }
}

/// What a successful refresh needs to issue tokens.
#[derive(Debug)]
pub(crate) struct Refreshed {
    pub gid: String,
    pub user: String,
    /// The requested scope, or the grant's when none was requested.
    pub scope: Scope,
    pub auth_time: u64,
}

/// What introspection shows about a live refresh token.
#[derive(Debug)]
pub(crate) struct RefreshInfo {
    pub client_id: String,
    pub user: String,
    pub scope: Scope,
    pub expires: u64,
    pub dpop_jkt: Option<String>,
}

#[derive(Debug)]
struct RefreshRecord {
    gid: String,
    client_id: String,
    expires: u64,
    rotated: bool,
}

/// A login in progress (login and consent pages).
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub state: Option<String>,
    pub scope: Scope,
    pub challenge: Option<String>,
    pub nonce: Option<String>,
    pub dpop_jkt: Option<String>,
    pub csrf: String,
    pub user: Option<String>,
    pub auth_time: u64,
    pub expires: u64,
    /// Password checks started and not (yet) successful: failed ones plus those in
    /// flight. At most [`MAX_LOGIN_FAILURES`].
    pub attempts: u32,
    /// A device flow sign-in (RFC 8628): the digest of the device code it approves.
    /// Then there is no redirect: the outcome is recorded for the device and shown.
    pub device: Option<Digest>,
}

/// Why a code was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CodeError {
    /// Unknown or expired.
    Invalid,
    /// Used before: what it issued has now been revoked.
    Replayed,
    /// Client, redirect URI or PKCE verifier do not match; the code is still unused.
    Binding(&'static str),
}

/// Why a refresh was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RefreshError {
    /// Unknown, expired, revoked or another client's.
    Invalid,
    /// An already rotated token: the whole grant has now been revoked.
    Reused,
    /// The requested scope exceeds the grant.
    Scope,
    /// The grant is bound to a DPoP key and the request's proof (if any) is not made with
    /// it. The token is left as it was.
    DpopKey,
}

#[derive(Default)]
struct Inner {
    codes: HashMap<Digest, CodeState>,
    grants: HashMap<String, Grant>,
    refresh: HashMap<Digest, RefreshRecord>,
    /// Revoked grant ids → until when their access tokens could still be valid.
    revoked_grants: HashMap<String, u64>,
    /// Revoked access token `jti` → its `exp`.
    revoked_jtis: HashMap<String, u64>,
    pending: HashMap<String, Pending>,
    next_sweep: u64,
}

/// See the module documentation.
pub(crate) struct Store {
    inner: Mutex<Inner>,
    /// How long an access token lives: how long a revoked grant must be remembered.
    access_ttl: u64,
}

impl Store {
    pub(crate) fn new(access_ttl: u64) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            access_ttl,
        }
    }

    fn lock(&self, now: u64) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than refusing all service; keep going with the data.
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if now >= g.next_sweep {
            g.sweep(now);
            g.next_sweep = now + SWEEP_EVERY;
        }
        g
    }

    /// Stores a fresh code; false when [`MAX_CODES`] are already remembered.
    pub(crate) fn insert_code(&self, hash: Digest, rec: CodeRecord, now: u64) -> bool {
        let mut g = self.lock(now);
        if g.codes.len() >= MAX_CODES {
            return false;
        }
        g.codes.insert(hash, CodeState::Fresh(rec));
        true
    }

    /// Consumes a code if `bindings` accepts its record (client, redirect URI, PKCE),
    /// all under the lock. A refused attempt leaves the code unused, so a wrong guess
    /// cannot burn the genuine client's code (an attacker without the verifier cannot
    /// use it anyway). The returned grant id must be used for what the code issues;
    /// presenting the code again after that revokes the grant.
    pub(crate) fn take_code(
        &self,
        hash: &Digest,
        now: u64,
        bindings: impl FnOnce(&CodeRecord) -> Result<(), &'static str>,
    ) -> Result<(CodeRecord, String), CodeError> {
        let mut g = self.lock(now);
        match g.codes.get_mut(hash) {
            None => Err(CodeError::Invalid),
            Some(CodeState::Used { gid, .. }) => {
                let gid = gid.clone();
                let until = now + self.access_ttl;
                g.revoke_grant(&gid, until);
                Err(CodeError::Replayed)
            }
            Some(CodeState::Fresh(rec)) if rec.expires <= now => Err(CodeError::Invalid),
            Some(state @ CodeState::Fresh(_)) => {
                if let CodeState::Fresh(rec) = &*state {
                    bindings(rec).map_err(CodeError::Binding)?;
                }
                let gid = random_id();
                let old = std::mem::replace(
                    state,
                    CodeState::Used {
                        gid: gid.clone(),
                        expires: now + USED_CODE_SECS,
                    },
                );
                match old {
                    CodeState::Fresh(rec) => Ok((rec, gid)),
                    CodeState::Used { .. } => Err(CodeError::Invalid),
                }
            }
        }
    }

    /// Records a grant and its first refresh token. False when the grant was revoked in
    /// the meantime (its code was replayed): then nothing may be issued.
    pub(crate) fn create_grant(
        &self,
        gid: &str,
        mut grant: Grant,
        refresh: Option<(Digest, u64)>,
        now: u64,
    ) -> bool {
        let mut g = self.lock(now);
        if g.revoked_grants.contains_key(gid) {
            return false;
        }
        if let Some((hash, expires)) = refresh {
            grant.history.push_back(hash);
            grant.expires = expires;
            g.refresh.insert(
                hash,
                RefreshRecord {
                    gid: gid.to_owned(),
                    client_id: grant.client_id.clone(),
                    expires,
                    rotated: false,
                },
            );
        } else {
            grant.expires = now + self.access_ttl;
        }
        g.grants.insert(gid.to_owned(), grant);
        true
    }

    /// Uses a refresh token: checks client, DPoP key (`dpop_jkt`: the thumbprint of the
    /// request's proof) and scope, rotates it (unless `next` is `None`), and returns what
    /// the new tokens need. Reusing a rotated token revokes the grant.
    pub(crate) fn refresh(
        &self,
        hash: &Digest,
        client_id: &str,
        dpop_jkt: Option<&str>,
        requested: Option<&Scope>,
        next: Option<(Digest, u64)>,
        now: u64,
    ) -> Result<Refreshed, RefreshError> {
        let mut g = self.lock(now);
        let inner = &mut *g;
        let record = match inner.refresh.get_mut(hash) {
            Some(r) if r.expires > now && r.client_id == client_id => r,
            _ => return Err(RefreshError::Invalid),
        };
        // A revoked (or expired) grant takes all its refresh tokens with it.
        let Some(grant) = inner.grants.get_mut(&record.gid) else {
            return Err(RefreshError::Invalid);
        };
        // Before reuse detection: without the key, a stolen bound token (even a rotated
        // one) can neither be used nor used to revoke the grant.
        if let Some(bound) = &grant.dpop_jkt {
            let same = dpop_jkt.is_some_and(|k| bool::from(k.as_bytes().ct_eq(bound.as_bytes())));
            if !same {
                return Err(RefreshError::DpopKey);
            }
        }
        if record.rotated {
            let gid = record.gid.clone();
            let until = now + self.access_ttl;
            inner.revoke_grant(&gid, until);
            return Err(RefreshError::Reused);
        }
        if requested.is_some_and(|s| !s.is_subset_of(&grant.scope)) {
            return Err(RefreshError::Scope);
        }
        let out = Refreshed {
            gid: record.gid.clone(),
            user: grant.user.clone(),
            scope: requested.unwrap_or(&grant.scope).clone(),
            auth_time: grant.auth_time,
        };
        if let Some((new_hash, expires)) = next {
            record.rotated = true;
            grant.history.push_back(new_hash);
            grant.expires = grant.expires.max(expires);
            let forgotten = if grant.history.len() > MAX_REFRESH_HISTORY {
                grant.history.pop_front()
            } else {
                None
            };
            if let Some(old) = forgotten {
                inner.refresh.remove(&old);
            }
            inner.refresh.insert(
                new_hash,
                RefreshRecord {
                    gid: out.gid.clone(),
                    client_id: client_id.to_owned(),
                    expires,
                    rotated: false,
                },
            );
        }
        Ok(out)
    }

    /// The grant behind a live, unrotated refresh token, for introspection.
    pub(crate) fn refresh_info(&self, hash: &Digest, now: u64) -> Option<RefreshInfo> {
        let g = self.lock(now);
        let r = g
            .refresh
            .get(hash)
            .filter(|r| !r.rotated && r.expires > now)?;
        g.grants.get(&r.gid).map(|gr| RefreshInfo {
            client_id: gr.client_id.clone(),
            user: gr.user.clone(),
            scope: gr.scope.clone(),
            expires: r.expires,
            dpop_jkt: gr.dpop_jkt.clone(),
        })
    }

    /// Revokes the grant behind a refresh token if `client_id` owns it (RFC 7009 §2.1:
    /// revoking a refresh token also revokes the access tokens of its grant).
    pub(crate) fn revoke_refresh(&self, hash: &Digest, client_id: &str, now: u64) -> bool {
        let mut g = self.lock(now);
        let gid = match g.refresh.get(hash) {
            Some(r) if r.client_id == client_id => r.gid.clone(),
            _ => return false,
        };
        let until = now + self.access_ttl;
        g.revoke_grant(&gid, until);
        true
    }

    /// Revokes one access token until it expires anyway.
    pub(crate) fn revoke_jti(&self, jti: &str, exp: u64, now: u64) {
        if exp > now {
            self.lock(now).revoked_jtis.insert(jti.to_owned(), exp);
        }
    }

    /// Whether an access token was revoked, alone or with its grant.
    pub(crate) fn is_revoked(&self, jti: &str, gid: Option<&str>, now: u64) -> bool {
        let g = self.lock(now);
        g.revoked_jtis.contains_key(jti)
            || gid.is_some_and(|gid| g.revoked_grants.contains_key(gid))
    }

    /// Starts a login; `None` when too many are in progress.
    pub(crate) fn insert_pending(&self, p: Pending, now: u64) -> Option<String> {
        let mut g = self.lock(now);
        if g.pending.len() >= MAX_PENDING {
            return None;
        }
        let id = random_id();
        g.pending.insert(id.clone(), p);
        Some(id)
    }

    pub(crate) fn pending(&self, id: &str, now: u64) -> Option<Pending> {
        self.lock(now)
            .pending
            .get(id)
            .filter(|p| p.expires > now)
            .cloned()
    }

    /// Reserves a password check for a login in progress; false when the login is gone
    /// or has used up its [`MAX_LOGIN_FAILURES`] attempts.
    pub(crate) fn begin_login_attempt(&self, id: &str, now: u64) -> bool {
        match self.lock(now).pending.get_mut(id) {
            Some(p) if p.expires > now && p.attempts < MAX_LOGIN_FAILURES => {
                p.attempts += 1;
                true
            }
            _ => false,
        }
    }

    /// Records a wrong password (the attempt reserved stays counted). True when the
    /// login has now ended: it was removed after too many failures.
    pub(crate) fn login_failed(&self, id: &str, now: u64) -> bool {
        let mut g = self.lock(now);
        match g.pending.get(id) {
            Some(p) if p.attempts < MAX_LOGIN_FAILURES => false,
            _ => {
                g.pending.remove(id);
                true
            }
        }
    }

    /// The user signed in: their attempt is given back.
    pub(crate) fn set_pending_user(&self, id: &str, user: &str, now: u64) {
        if let Some(p) = self.lock(now).pending.get_mut(id) {
            p.user = Some(user.to_owned());
            p.auth_time = now;
            p.attempts = p.attempts.saturating_sub(1);
        }
    }

    pub(crate) fn remove_pending(&self, id: &str, now: u64) -> Option<Pending> {
        self.lock(now)
            .pending
            .remove(id)
            .filter(|p| p.expires > now)
    }

    /// Entry counts: codes, grants, refresh tokens, revoked jtis + grants, pending.
    #[cfg(test)]
    pub(crate) fn sizes(&self, now: u64) -> [usize; 5] {
        let g = self.lock(now);
        [
            g.codes.len(),
            g.grants.len(),
            g.refresh.len(),
            g.revoked_jtis.len() + g.revoked_grants.len(),
            g.pending.len(),
        ]
    }
}

impl Inner {
    /// Revokes a grant: its refresh records become invalid with it (see [`Grant`]).
    fn revoke_grant(&mut self, gid: &str, until: u64) {
        self.grants.remove(gid);
        self.revoked_grants.insert(gid.to_owned(), until);
    }

    fn sweep(&mut self, now: u64) {
        self.codes.retain(|_, c| match c {
            CodeState::Fresh(r) => r.expires > now,
            CodeState::Used { expires, .. } => *expires > now,
        });
        self.grants.retain(|_, g| g.expires > now);
        let grants = &self.grants;
        self.refresh
            .retain(|_, r| r.expires > now && grants.contains_key(&r.gid));
        self.revoked_grants.retain(|_, until| *until > now);
        self.revoked_jtis.retain(|_, exp| *exp > now);
        self.pending.retain(|_, p| p.expires > now);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::hashing::sha256;

    fn code(expires: u64) -> CodeRecord {
        CodeRecord {
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            redirect_uri_given: true,
            challenge: None,
            scope: Scope::empty(),
            user: "alice".into(),
            nonce: None,
            auth_time: 0,
            expires,
            dpop_jkt: None,
        }
    }

    fn grant() -> Grant {
        Grant::new("c".into(), "alice".into(), Scope::parse("a b").unwrap(), 0)
    }

    #[test]
    fn code_replay_revokes_the_grant() {
        let s = Store::new(60);
        let h = sha256(b"code");
        assert!(s.insert_code(h, code(100), 10));
        assert_eq!(
            s.take_code(&h, 11, |_| Err("wrong verifier")).unwrap_err(),
            CodeError::Binding("wrong verifier")
        );
        let (_, gid) = s.take_code(&h, 11, |_| Ok(())).unwrap();
        assert!(s.create_grant(&gid, grant(), Some((sha256(b"rt"), 1000)), 11));
        assert_eq!(
            s.take_code(&h, 12, |_| Ok(())).unwrap_err(),
            CodeError::Replayed
        );
        assert!(s.is_revoked("x", Some(&gid), 12));
        assert!(s.refresh_info(&sha256(b"rt"), 12).is_none());
    }

    #[test]
    fn expired_codes_fail_and_get_swept() {
        let s = Store::new(60);
        let h = sha256(b"code");
        assert!(s.insert_code(h, code(20), 10));
        assert_eq!(
            s.take_code(&h, 25, |_| Ok(())).unwrap_err(),
            CodeError::Invalid
        );
        assert!(s.insert_code(sha256(b"other"), code(20), 10));
        assert_eq!(s.sizes(10_000), [0, 0, 0, 0, 0]);
    }

    #[test]
    fn refresh_rotation_and_reuse() {
        let s = Store::new(60);
        let (r1, r2, r3) = (sha256(b"1"), sha256(b"2"), sha256(b"3"));
        assert!(s.create_grant("g", grant(), Some((r1, 1000)), 10));
        assert_eq!(
            s.refresh(&r1, "other", None, None, Some((r2, 1000)), 11)
                .unwrap_err(),
            RefreshError::Invalid
        );
        let wide = Scope::parse("a b c").unwrap();
        assert_eq!(
            s.refresh(&r1, "c", None, Some(&wide), Some((r2, 1000)), 11)
                .unwrap_err(),
            RefreshError::Scope
        );
        s.refresh(&r1, "c", None, None, Some((r2, 1000)), 11)
            .unwrap();
        s.refresh(&r2, "c", None, None, Some((r3, 1000)), 12)
            .unwrap();
        assert_eq!(
            s.refresh(&r1, "c", None, None, None, 13).unwrap_err(),
            RefreshError::Reused
        );
        assert_eq!(
            s.refresh(&r3, "c", None, None, None, 13).unwrap_err(),
            RefreshError::Invalid
        );
        assert!(s.is_revoked("j", Some("g"), 14));
        // The revoked grant's records go at the next sweep.
        assert_eq!(s.sizes(30)[1..3], [0, 0]);
    }

    #[test]
    fn a_bound_grant_needs_its_key_even_to_detect_reuse() {
        let s = Store::new(60);
        let (r1, r2) = (sha256(b"1"), sha256(b"2"));
        let bound = grant().bound_to(Some("jkt-a".into()));
        assert!(s.create_grant("g", bound, Some((r1, 1000)), 10));
        for key in [None, Some("jkt-b")] {
            assert_eq!(
                s.refresh(&r1, "c", key, None, Some((r2, 1000)), 11)
                    .unwrap_err(),
                RefreshError::DpopKey
            );
        }
        s.refresh(&r1, "c", Some("jkt-a"), None, Some((r2, 1000)), 11)
            .unwrap();
        // A rotated token presented without the key: refused, grant left alone.
        assert_eq!(
            s.refresh(&r1, "c", None, None, None, 12).unwrap_err(),
            RefreshError::DpopKey
        );
        assert!(!s.is_revoked("j", Some("g"), 12));
        assert_eq!(
            s.refresh(&r1, "c", Some("jkt-a"), None, None, 12)
                .unwrap_err(),
            RefreshError::Reused
        );
    }

    #[test]
    fn refresh_history_is_bounded_per_grant() {
        let s = Store::new(60);
        let h = |i: usize| sha256(&i.to_le_bytes());
        assert!(s.create_grant("g", grant(), Some((h(0), 1000)), 10));
        for i in 0..100 {
            s.refresh(&h(i), "c", None, None, Some((h(i + 1), 1000)), 10)
                .unwrap();
        }
        assert_eq!(s.sizes(10)[2], MAX_REFRESH_HISTORY);
        // A recent rotated token is still recognised as reuse.
        assert_eq!(
            s.refresh(&h(90), "c", None, None, None, 11).unwrap_err(),
            RefreshError::Reused
        );
        assert_eq!(
            s.refresh(&h(100), "c", None, None, None, 11).unwrap_err(),
            RefreshError::Invalid
        );
    }

    #[test]
    fn codes_are_bounded() {
        let s = Store::new(60);
        for i in 0..MAX_CODES {
            assert!(s.insert_code(sha256(&i.to_le_bytes()), code(100), 1));
        }
        assert!(!s.insert_code(sha256(b"one more"), code(100), 1));
        assert!(
            s.insert_code(sha256(b"one more"), code(300), 200),
            "a sweep frees room"
        );
    }

    #[test]
    fn pending_is_bounded() {
        let s = Store::new(60);
        let p = Pending {
            client_id: "c".into(),
            redirect_uri: String::new(),
            redirect_uri_given: true,
            state: None,
            scope: Scope::empty(),
            challenge: None,
            nonce: None,
            dpop_jkt: None,
            csrf: "x".into(),
            user: None,
            auth_time: 0,
            expires: 100,
            attempts: 0,
            device: None,
        };
        for _ in 0..MAX_PENDING {
            assert!(s.insert_pending(p.clone(), 1).is_some());
        }
        assert!(s.insert_pending(p.clone(), 1).is_none());
        assert!(s.insert_pending(p, 200).is_some(), "a sweep frees room");
    }
}
