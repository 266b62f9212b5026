//! Device authorizations in progress (RFC 8628): each keyed by the SHA-256 digest of its
//! device code (the code itself is never stored) and findable by its user code.
//!
//! One mutex, held only for map operations. Bounded like the other stores: at most
//! [`MAX_DEVICES`] authorizations at once; expired ones are swept on the way in, 10
//! minutes after they expire (until then a poll is told `expired_token`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use authflow::types::Scope;

use crate::hashing::Digest;

/// At most this many device authorizations at once.
pub(crate) const MAX_DEVICES: usize = 10_000;
/// How often expired entries are swept, in seconds.
const SWEEP_EVERY: u64 = 10;
/// How long an expired authorization is remembered, so that polls keep getting
/// `expired_token` rather than `invalid_grant`.
pub(crate) const EXPIRED_GRACE: u64 = 600;
/// What `slow_down` adds to a device code's interval (RFC 8628 §3.5).
pub(crate) const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// Where a device authorization stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceState {
    /// Waiting for the user.
    Pending,
    /// The user approved as `user` (signed in at `auth_time`).
    Approved { user: String, auth_time: u64 },
    /// The user said no.
    Denied,
    /// Tokens were issued; the device code is spent.
    Used,
}

/// One device authorization.
#[derive(Debug)]
struct Record {
    client_id: String,
    scope: Scope,
    user_code: String,
    expires: u64,
    interval: Duration,
    last_poll: Option<Instant>,
    state: DeviceState,
}

/// What the verification page needs to know about a user code.
#[derive(Debug, Clone)]
pub(crate) struct DeviceInfo {
    pub device: Digest,
    pub client_id: String,
    pub scope: Scope,
}

/// The answer to one poll of the token endpoint.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Poll {
    /// Approved: issue tokens for this user and scope (the code is now spent).
    Approved {
        user: String,
        scope: Scope,
        auth_time: u64,
    },
    /// `authorization_pending`.
    Pending,
    /// `slow_down`: polled sooner than the interval (now 5 s longer).
    SlowDown,
    /// `access_denied`.
    Denied,
    /// `expired_token`.
    Expired,
    /// Unknown, another client's, or already used: `invalid_grant`.
    Invalid,
}

#[derive(Default)]
struct Inner {
    records: HashMap<Digest, Record>,
    by_user_code: HashMap<String, Digest>,
    next_sweep: u64,
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct DeviceStore {
    inner: Mutex<Inner>,
}

/// A new device authorization to remember.
pub(crate) struct NewDevice {
    pub device: Digest,
    pub user_code: String,
    pub client_id: String,
    pub scope: Scope,
    pub expires: u64,
    pub interval: Duration,
}

impl DeviceStore {
    fn lock(&self, now: u64) -> MutexGuard<'_, Inner> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if now >= g.next_sweep {
            let inner = &mut *g;
            inner
                .records
                .retain(|_, r| r.expires.saturating_add(EXPIRED_GRACE) > now);
            let records = &inner.records;
            inner.by_user_code.retain(|_, d| records.contains_key(d));
            inner.next_sweep = now + SWEEP_EVERY;
        }
        g
    }

    /// Remembers a new authorization; refused when [`MAX_DEVICES`] are in progress or
    /// the user code is taken (the caller draws another).
    pub(crate) fn insert(&self, d: NewDevice, now: u64) -> Result<(), InsertError> {
        let mut g = self.lock(now);
        if g.records.len() >= MAX_DEVICES {
            return Err(InsertError::Full);
        }
        if g.by_user_code.contains_key(&d.user_code) {
            return Err(InsertError::UserCodeTaken);
        }
        g.by_user_code.insert(d.user_code.clone(), d.device);
        g.records.insert(
            d.device,
            Record {
                client_id: d.client_id,
                scope: d.scope,
                user_code: d.user_code,
                expires: d.expires,
                interval: d.interval,
                last_poll: None,
                state: DeviceState::Pending,
            },
        );
        Ok(())
    }

    /// The pending authorization a (normalised) user code names, if it is still live.
    pub(crate) fn by_user_code(&self, user_code: &str, now: u64) -> Option<DeviceInfo> {
        let g = self.lock(now);
        let device = *g.by_user_code.get(user_code)?;
        let r = g.records.get(&device)?;
        (r.expires > now && r.state == DeviceState::Pending).then(|| DeviceInfo {
            device,
            client_id: r.client_id.clone(),
            scope: r.scope.clone(),
        })
    }

    /// Records the user's decision; false when the authorization is no longer pending.
    /// The user code stops working either way.
    pub(crate) fn decide(&self, device: &Digest, decision: DeviceState, now: u64) -> bool {
        let mut g = self.lock(now);
        let inner = &mut *g;
        let Some(r) = inner
            .records
            .get_mut(device)
            .filter(|r| r.expires > now && r.state == DeviceState::Pending)
        else {
            return false;
        };
        inner.by_user_code.remove(&r.user_code);
        r.state = decision;
        true
    }

    /// One poll by `client_id` with the device code whose digest is `device`.
    pub(crate) fn poll(&self, device: &Digest, client_id: &str, at: Instant, now: u64) -> Poll {
        let mut g = self.lock(now);
        let Some(r) = g
            .records
            .get_mut(device)
            .filter(|r| r.client_id == client_id)
        else {
            return Poll::Invalid;
        };
        if r.state == DeviceState::Used {
            return Poll::Invalid;
        }
        if r.expires <= now {
            return Poll::Expired;
        }
        let too_soon = r
            .last_poll
            .is_some_and(|last| at.saturating_duration_since(last) < r.interval);
        r.last_poll = Some(at);
        match &r.state {
            // A decision is reported at once, even to a client that polls too fast.
            DeviceState::Approved { user, auth_time } => {
                let out = Poll::Approved {
                    user: user.clone(),
                    scope: r.scope.clone(),
                    auth_time: *auth_time,
                };
                r.state = DeviceState::Used;
                out
            }
            DeviceState::Denied => Poll::Denied,
            DeviceState::Pending if too_soon => {
                r.interval += SLOW_DOWN_STEP;
                Poll::SlowDown
            }
            DeviceState::Pending => Poll::Pending,
            DeviceState::Used => Poll::Invalid,
        }
    }

    /// How many authorizations are remembered (records, user codes).
    #[cfg(test)]
    pub(crate) fn sizes(&self, now: u64) -> (usize, usize) {
        let g = self.lock(now);
        (g.records.len(), g.by_user_code.len())
    }
}

/// Why a device authorization could not be stored.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum InsertError {
    /// [`MAX_DEVICES`] are in progress.
    Full,
    /// Another authorization holds this user code.
    UserCodeTaken,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::hashing::sha256;

    fn new(code: &str, user_code: &str, expires: u64) -> NewDevice {
        NewDevice {
            device: sha256(code.as_bytes()),
            user_code: user_code.into(),
            client_id: "tv".into(),
            scope: Scope::parse("a").unwrap(),
            expires,
            interval: Duration::from_secs(5),
        }
    }

    #[test]
    fn pending_slow_down_approve_then_spent() {
        let s = DeviceStore::default();
        s.insert(new("dc", "BCDFGHJK", 100), 1).unwrap();
        let d = sha256(b"dc");
        let t0 = Instant::now();
        assert_eq!(s.poll(&d, "other", t0, 2), Poll::Invalid);
        assert_eq!(s.poll(&d, "tv", t0, 2), Poll::Pending);
        assert_eq!(
            s.poll(&d, "tv", t0 + Duration::from_secs(1), 2),
            Poll::SlowDown
        );
        // The interval is now 10 s for this device code.
        assert_eq!(
            s.poll(&d, "tv", t0 + Duration::from_secs(7), 2),
            Poll::SlowDown
        );
        assert_eq!(
            s.poll(&d, "tv", t0 + Duration::from_secs(30), 2),
            Poll::Pending
        );
        let info = s.by_user_code("BCDFGHJK", 3).unwrap();
        assert_eq!(info.client_id, "tv");
        let approved = DeviceState::Approved {
            user: "alice".into(),
            auth_time: 3,
        };
        assert!(s.decide(&info.device, approved.clone(), 3));
        assert!(!s.decide(&info.device, approved, 3), "decided once");
        assert!(s.by_user_code("BCDFGHJK", 3).is_none());
        assert!(matches!(
            s.poll(&d, "tv", t0 + Duration::from_secs(31), 4),
            Poll::Approved { .. }
        ));
        assert_eq!(
            s.poll(&d, "tv", t0 + Duration::from_secs(60), 4),
            Poll::Invalid
        );
    }

    #[test]
    fn denied_expired_and_bounded() {
        let s = DeviceStore::default();
        s.insert(new("dc", "BCDFGHJK", 100), 1).unwrap();
        assert_eq!(
            s.insert(new("dc2", "BCDFGHJK", 100), 1),
            Err(InsertError::UserCodeTaken)
        );
        let d = sha256(b"dc");
        assert!(s.decide(&d, DeviceState::Denied, 2));
        assert_eq!(s.poll(&d, "tv", Instant::now(), 3), Poll::Denied);
        assert_eq!(s.poll(&d, "tv", Instant::now(), 100), Poll::Expired);
        assert_eq!(s.sizes(1000), (0, 0), "swept");
        for i in 0..MAX_DEVICES {
            s.insert(new(&i.to_string(), &format!("U{i}"), 2000), 1000)
                .unwrap();
        }
        assert_eq!(
            s.insert(new("more", "MORE", 2000), 1000),
            Err(InsertError::Full)
        );
        assert!(s.insert(new("more", "MORE", 4000), 3000).is_ok(), "swept");
    }
}
