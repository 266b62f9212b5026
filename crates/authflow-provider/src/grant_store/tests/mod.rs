//! The same behaviour from every store: each check runs on [`MemoryStore`] and, when
//! `redis-server` is installed, on [`RedisGrantStore`] against a real server started here
//! on a free 127.0.0.1 port (without it the Redis half says why and passes, unless
//! AUTHFLOW_REQUIRE_TOOLS is set). Plus what only a shared store has to prove: atomic
//! single use across two handles (two instances).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use authflow::types::Scope;

use super::*;
use crate::device_store::{DeviceState, InsertError, NewDevice, Poll};
use crate::hashing::sha256;
use crate::store::{CodeError, CodeRecord, Grant, MAX_LOGIN_FAILURES, Pending, RefreshError};

fn code(expires: u64) -> CodeRecord {
    CodeRecord {
        client_id: "c".into(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        redirect_uri_given: true,
        challenge: Some("ch".into()),
        scope: Scope::parse("a b").unwrap(),
        user: "alice".into(),
        nonce: None,
        auth_time: 5,
        expires,
        dpop_jkt: None,
    }
}

fn grant() -> Grant {
    Grant::new("c".into(), "alice".into(), Scope::parse("a b").unwrap(), 7)
}

fn use_refresh<'a>(
    hash: &'a Digest,
    client_id: &'a str,
    next: Option<(Digest, u64)>,
    now: u64,
) -> RefreshUse<'a> {
    RefreshUse {
        hash,
        client_id,
        dpop_jkt: None,
        requested: None,
        next,
        now,
    }
}

/// `r` with the DPoP key the test grants are bound to.
fn keyed(r: RefreshUse<'_>) -> RefreshUse<'_> {
    RefreshUse {
        dpop_jkt: Some("jkt-a"),
        ..r
    }
}

fn pending(now: u64, device: Option<Digest>) -> Pending {
    Pending {
        client_id: "c".into(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        redirect_uri_given: true,
        state: Some("st".into()),
        scope: Scope::parse("openid").unwrap(),
        challenge: Some("ch".into()),
        nonce: Some("n".into()),
        dpop_jkt: None,
        csrf: "csrf".into(),
        user: None,
        auth_time: 0,
        expires: now + 600,
        attempts: 0,
        device,
    }
}

fn request(client: &str) -> Request {
    Request {
        client_id: client.into(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        redirect_uri_given: true,
        state: Some("s".into()),
        scope: Scope::parse("a").unwrap(),
        challenge: Some("ch".into()),
        nonce: None,
        login_hint: Some("alice".into()),
        dpop_jkt: None,
    }
}

/// The stores to check: memory, then Redis when it is there.
async fn stores() -> Vec<(&'static str, Arc<dyn GrantStore>)> {
    #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
    let mut out: Vec<(&'static str, Arc<dyn GrantStore>)> =
        vec![("memory", Arc::new(MemoryStore::new(60)))];
    #[cfg(feature = "redis")]
    if let Some(r) = redis_server::fresh_store().await {
        out.push(("redis", Arc::new(r)));
    }
    out
}

#[tokio::test]
async fn a_code_is_used_once_and_its_replay_revokes_the_grant() {
    for (name, s) in stores().await {
        let now = crate::time::now();
        let h = sha256(b"code");
        assert!(
            s.insert_code(h, code(now + 60), now).await.unwrap(),
            "{name}"
        );
        let wrong = |_: &CodeRecord| Err("wrong verifier");
        assert_eq!(
            s.take_code(&h, now, &wrong).await.unwrap().unwrap_err(),
            CodeError::Binding("wrong verifier"),
            "{name}: a refused binding leaves the code"
        );
        let ok = |r: &CodeRecord| {
            if r.client_id == "c" {
                Ok(())
            } else {
                Err("client")
            }
        };
        let (rec, gid) = s.take_code(&h, now, &ok).await.unwrap().unwrap();
        assert_eq!((rec.user.as_str(), rec.auth_time), ("alice", 5), "{name}");
        assert_eq!(rec.challenge.as_deref(), Some("ch"), "{name}");
        let rt = sha256(b"rt");
        assert!(
            s.create_grant(&gid, grant(), Some((rt, now + 1000)), now)
                .await
                .unwrap()
        );
        assert!(s.refresh_info(&rt, now).await.unwrap().is_some(), "{name}");
        assert_eq!(
            s.take_code(&h, now, &ok).await.unwrap().unwrap_err(),
            CodeError::Replayed,
            "{name}"
        );
        assert!(s.is_revoked("x", Some(&gid), now).await.unwrap(), "{name}");
        assert!(s.refresh_info(&rt, now).await.unwrap().is_none(), "{name}");
        assert!(
            !s.create_grant(&gid, grant(), None, now).await.unwrap(),
            "{name}: a revoked grant is not created again"
        );
        // Expired and unknown codes.
        let e = sha256(b"expired");
        assert!(s.insert_code(e, code(now + 1), now).await.unwrap());
        assert_eq!(
            s.take_code(&e, now + 1, &ok).await.unwrap().unwrap_err(),
            CodeError::Invalid,
            "{name}"
        );
        assert_eq!(
            s.take_code(&sha256(b"nope"), now, &ok)
                .await
                .unwrap()
                .unwrap_err(),
            CodeError::Invalid,
            "{name}"
        );
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reuse_revokes_the_grant() {
    for (name, s) in stores().await {
        let now = crate::time::now();
        let (r1, r2, r3) = (sha256(b"1"), sha256(b"2"), sha256(b"3"));
        let bound = grant().bound_to(Some("jkt-a".into()));
        assert!(
            s.create_grant("g1", bound, Some((r1, now + 1000)), now)
                .await
                .unwrap()
        );
        let next = Some((r2, now + 2000));
        assert_eq!(
            s.refresh(use_refresh(&r1, "other", next, now))
                .await
                .unwrap()
                .unwrap_err(),
            RefreshError::Invalid,
            "{name}: another client's"
        );
        assert_eq!(
            s.refresh(use_refresh(&r1, "c", next, now))
                .await
                .unwrap()
                .unwrap_err(),
            RefreshError::DpopKey,
            "{name}: bound to a key"
        );
        let wide = Scope::parse("a b c").unwrap();
        let too_wide = RefreshUse {
            requested: Some(&wide),
            ..keyed(use_refresh(&r1, "c", next, now))
        };
        assert_eq!(
            s.refresh(too_wide).await.unwrap().unwrap_err(),
            RefreshError::Scope,
            "{name}"
        );
        let narrow = Scope::parse("a").unwrap();
        let narrower = RefreshUse {
            requested: Some(&narrow),
            ..keyed(use_refresh(&r1, "c", next, now))
        };
        let out = s.refresh(narrower).await.unwrap().unwrap();
        assert_eq!(
            (out.gid.as_str(), out.user.as_str()),
            ("g1", "alice"),
            "{name}"
        );
        assert_eq!(
            (out.scope.to_string(), out.auth_time),
            ("a".into(), 7),
            "{name}"
        );
        let info = s.refresh_info(&r2, now).await.unwrap().unwrap();
        assert_eq!(info.expires, now + 2000, "{name}");
        assert_eq!(
            info.scope.to_string(),
            "a b",
            "{name}: the grant keeps its scope"
        );
        assert_eq!(info.dpop_jkt.as_deref(), Some("jkt-a"), "{name}");
        assert!(
            s.refresh_info(&r1, now).await.unwrap().is_none(),
            "{name}: rotated"
        );
        s.refresh(keyed(use_refresh(&r2, "c", Some((r3, now + 2000)), now)))
            .await
            .unwrap()
            .unwrap();
        // A rotated token without the key: refused, the grant left alone.
        assert_eq!(
            s.refresh(use_refresh(&r1, "c", None, now))
                .await
                .unwrap()
                .unwrap_err(),
            RefreshError::DpopKey,
            "{name}"
        );
        assert!(!s.is_revoked("j", Some("g1"), now).await.unwrap(), "{name}");
        assert_eq!(
            s.refresh(keyed(use_refresh(&r1, "c", None, now)))
                .await
                .unwrap()
                .unwrap_err(),
            RefreshError::Reused,
            "{name}"
        );
        assert!(s.is_revoked("j", Some("g1"), now).await.unwrap(), "{name}");
        assert_eq!(
            s.refresh(keyed(use_refresh(&r3, "c", None, now)))
                .await
                .unwrap()
                .unwrap_err(),
            RefreshError::Invalid,
            "{name}: the live token died with its grant"
        );
    }
}

#[tokio::test]
async fn a_grant_remembers_its_last_refresh_tokens_only() {
    for (name, s) in stores().await {
        let now = crate::time::now();
        let h = |i: usize| sha256(&i.to_le_bytes());
        assert!(
            s.create_grant("g2", grant(), Some((h(0), now + 100)), now)
                .await
                .unwrap()
        );
        for i in 0..40 {
            s.refresh(use_refresh(&h(i), "c", Some((h(i + 1), now + 100)), now))
                .await
                .unwrap()
                .unwrap();
        }
        let forgotten = h(40 - crate::store::MAX_REFRESH_HISTORY);
        assert_eq!(
            s.refresh(use_refresh(&forgotten, "c", None, now))
                .await
                .unwrap()
                .unwrap_err(),
            RefreshError::Invalid,
            "{name}: too old to be recognised"
        );
        assert!(!s.is_revoked("j", Some("g2"), now).await.unwrap(), "{name}");
        assert_eq!(
            s.refresh(use_refresh(&h(39), "c", None, now))
                .await
                .unwrap()
                .unwrap_err(),
            RefreshError::Reused,
            "{name}: a recent one is"
        );
    }
}

#[tokio::test]
async fn revocations_of_refresh_and_access_tokens() {
    for (name, s) in stores().await {
        let now = crate::time::now();
        let rt = sha256(b"revoked rt");
        assert!(
            s.create_grant("g3", grant(), Some((rt, now + 100)), now)
                .await
                .unwrap()
        );
        assert!(
            !s.revoke_refresh(&rt, "other", now).await.unwrap(),
            "{name}"
        );
        assert!(!s.is_revoked("j", Some("g3"), now).await.unwrap(), "{name}");
        assert!(s.revoke_refresh(&rt, "c", now).await.unwrap(), "{name}");
        assert!(s.is_revoked("j", Some("g3"), now).await.unwrap(), "{name}");
        assert!(!s.is_revoked("j", None, now).await.unwrap(), "{name}");
        s.revoke_jti("j", now + 60, now).await.unwrap();
        assert!(s.is_revoked("j", None, now).await.unwrap(), "{name}");
        s.revoke_jti("old", now, now).await.unwrap();
        assert!(
            !s.is_revoked("old", None, now).await.unwrap(),
            "{name}: already expired"
        );
        // Without a refresh token the grant lives as long as its access tokens.
        assert!(s.create_grant("g4", grant(), None, now).await.unwrap());
        assert!(!s.is_revoked("j2", Some("g4"), now).await.unwrap());
    }
}

#[tokio::test]
async fn logins_count_attempts_and_end() {
    for (name, s) in stores().await {
        let now = crate::time::now();
        let device = sha256(b"device");
        let id = s
            .insert_pending(pending(now, Some(device)), now)
            .await
            .unwrap()
            .unwrap();
        let p = s.pending(&id, now).await.unwrap().unwrap();
        assert_eq!(
            (p.csrf.as_str(), p.state.as_deref()),
            ("csrf", Some("st")),
            "{name}"
        );
        assert_eq!((p.device, p.user), (Some(device), None), "{name}");
        assert!(s.begin_login_attempt(&id, now).await.unwrap());
        s.set_pending_user(&id, "alice", now + 1).await.unwrap();
        let p = s.pending(&id, now).await.unwrap().unwrap();
        assert_eq!(
            (p.user.as_deref(), p.auth_time, p.attempts),
            (Some("alice"), now + 1, 0)
        );
        for i in 0..MAX_LOGIN_FAILURES {
            assert!(s.begin_login_attempt(&id, now).await.unwrap(), "{name} {i}");
            assert_eq!(
                s.login_failed(&id, now).await.unwrap(),
                i + 1 == MAX_LOGIN_FAILURES,
                "{name} {i}"
            );
        }
        assert!(
            !s.begin_login_attempt(&id, now).await.unwrap(),
            "{name}: gone"
        );
        assert!(s.pending(&id, now).await.unwrap().is_none(), "{name}");

        let id = s
            .insert_pending(pending(now, None), now)
            .await
            .unwrap()
            .unwrap();
        assert!(
            s.remove_pending(&id, now).await.unwrap().is_some(),
            "{name}"
        );
        assert!(
            s.remove_pending(&id, now).await.unwrap().is_none(),
            "{name}: once"
        );
        // Last: a later `now` lets the memory store sweep.
        let id = s
            .insert_pending(pending(now, None), now)
            .await
            .unwrap()
            .unwrap();
        assert!(
            s.pending(&id, now + 600).await.unwrap().is_none(),
            "{name}: expired"
        );
    }
}

#[tokio::test]
async fn device_authorizations_poll_decide_and_spend() {
    for (name, s) in stores().await {
        let now = crate::time::now();
        let d = sha256(format!("dc-{name}").as_bytes());
        let uc = format!("BCDF{}", if name == "memory" { "GHJK" } else { "LMNP" });
        let new = |device: Digest, user_code: &str| NewDevice {
            device,
            user_code: user_code.into(),
            client_id: "tv".into(),
            scope: Scope::parse("a").unwrap(),
            expires: now + 100,
            interval: Duration::from_secs(5),
        };
        s.insert_device(new(d, &uc), now).await.unwrap().unwrap();
        assert_eq!(
            s.insert_device(new(sha256(b"other"), &uc), now)
                .await
                .unwrap(),
            Err(InsertError::UserCodeTaken),
            "{name}"
        );
        let t0 = Instant::now();
        assert_eq!(
            s.poll_device(&d, "other", t0, now).await.unwrap(),
            Poll::Invalid
        );
        assert_eq!(
            s.poll_device(&d, "tv", t0, now).await.unwrap(),
            Poll::Pending,
            "{name}"
        );
        assert_eq!(
            s.poll_device(&d, "tv", t0 + Duration::from_millis(100), now)
                .await
                .unwrap(),
            Poll::SlowDown,
            "{name}: polled too soon"
        );
        let info = s.device_by_user_code(&uc, now).await.unwrap().unwrap();
        assert_eq!((info.device, info.client_id.as_str()), (d, "tv"), "{name}");
        let approved = DeviceState::Approved {
            user: "alice".into(),
            auth_time: now,
        };
        assert!(s.decide_device(&d, approved.clone(), now).await.unwrap());
        assert!(
            !s.decide_device(&d, approved, now).await.unwrap(),
            "{name}: once"
        );
        assert!(
            s.device_by_user_code(&uc, now).await.unwrap().is_none(),
            "{name}"
        );
        assert_eq!(
            s.poll_device(&d, "tv", t0 + Duration::from_millis(200), now)
                .await
                .unwrap(),
            Poll::Approved {
                user: "alice".into(),
                scope: Scope::parse("a").unwrap(),
                auth_time: now,
            },
            "{name}: a decision is reported even to a fast poller"
        );
        assert_eq!(
            s.poll_device(&d, "tv", t0, now).await.unwrap(),
            Poll::Invalid,
            "{name}"
        );

        let denied = sha256(format!("denied-{name}").as_bytes());
        s.insert_device(new(denied, &format!("{uc}X")), now)
            .await
            .unwrap()
            .unwrap();
        assert!(
            s.decide_device(&denied, DeviceState::Denied, now)
                .await
                .unwrap()
        );
        assert_eq!(
            s.poll_device(&denied, "tv", t0, now).await.unwrap(),
            Poll::Denied
        );
        assert_eq!(
            s.poll_device(&denied, "tv", t0, now + 100).await.unwrap(),
            Poll::Expired,
            "{name}"
        );
    }
}

#[tokio::test]
async fn pushed_requests_are_taken_once_by_their_client() {
    for (name, s) in stores().await {
        let now = crate::time::now();
        let uri = s
            .push_request(request("a"), 60, now)
            .await
            .unwrap()
            .unwrap();
        assert!(uri.starts_with(crate::par_store::REQUEST_URI_PREFIX));
        assert!(
            s.take_request(&uri, "b", now).await.unwrap().is_none(),
            "{name}"
        );
        let taken = s.take_request(&uri, "a", now).await.unwrap().unwrap();
        assert_eq!(taken.login_hint.as_deref(), Some("alice"), "{name}");
        assert_eq!(taken.scope.to_string(), "a", "{name}");
        assert!(
            s.take_request(&uri, "a", now).await.unwrap().is_none(),
            "{name}: once"
        );
        let uri = s
            .push_request(request("a"), 60, now)
            .await
            .unwrap()
            .unwrap();
        assert!(
            s.take_request(&uri, "a", now + 60).await.unwrap().is_none(),
            "{name}"
        );
    }
}

/// Found in review (memory store): one public client's flood filled the store for
/// everyone. The shared store keeps the same per-client cap.
#[tokio::test]
async fn one_clients_flood_evicts_only_its_own_oldest_requests() {
    use crate::par_store::MAX_PUSHED_PER_CLIENT;
    for (name, s) in stores().await {
        let now = crate::time::now();
        let other = s
            .push_request(request("other"), 60, now)
            .await
            .unwrap()
            .unwrap();
        let first = s
            .push_request(request("flood"), 60, now)
            .await
            .unwrap()
            .unwrap();
        for i in 0..MAX_PUSHED_PER_CLIENT + 10 {
            let pushed = s.push_request(request("flood"), 61 + i as u64, now).await;
            assert!(pushed.unwrap().is_some(), "{name}");
        }
        assert!(
            s.take_request(&first, "flood", now)
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        assert!(
            s.take_request(&other, "other", now)
                .await
                .unwrap()
                .is_some(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn jtis_are_used_once_per_memory_until_they_expire() {
    for (name, s) in stores().await {
        let now = crate::time::now();
        let parts = ["c", "jti-1"];
        let first = s
            .first_use(ReplayKind::Assertion, &parts, now + 60, now)
            .await;
        assert_eq!(first.unwrap(), Use::First, "{name}");
        let again = s
            .first_use(ReplayKind::Assertion, &parts, now + 60, now)
            .await;
        assert_eq!(again.unwrap(), Use::Replayed, "{name}");
        let other_memory = s
            .first_use(ReplayKind::TokenProof, &parts, now + 60, now)
            .await;
        assert_eq!(other_memory.unwrap(), Use::First, "{name}");
        let joined = s
            .first_use(ReplayKind::Assertion, &["cj", "ti-1"], now + 60, now)
            .await;
        assert_eq!(
            joined.unwrap(),
            Use::First,
            "{name}: parts are not just concatenated"
        );
    }
}

#[tokio::test]
async fn registered_clients_are_capped_read_and_deleted() {
    for (name, s) in stores().await {
        assert!(
            s.insert_client("a", "{\"n\":1}", 2).await.unwrap(),
            "{name}"
        );
        assert!(s.insert_client("b", "{}", 2).await.unwrap(), "{name}");
        assert!(
            !s.insert_client("c", "{}", 2).await.unwrap(),
            "{name}: the cap holds"
        );
        assert!(
            s.insert_client("a", "{\"n\":2}", 2).await.unwrap(),
            "{name}: an update is not a new client"
        );
        assert_eq!(s.client("a").await.unwrap().as_deref(), Some("{\"n\":2}"));
        assert_eq!(s.client("c").await.unwrap(), None, "{name}");
        assert!(s.remove_client("a").await.unwrap(), "{name}");
        assert!(!s.remove_client("a").await.unwrap(), "{name}: already gone");
        assert_eq!(s.client("a").await.unwrap(), None, "{name}");
        assert!(
            s.insert_client("c", "{}", 2).await.unwrap(),
            "{name}: room again"
        );
    }
}

#[cfg(feature = "redis")]
mod redis_server;
#[cfg(feature = "redis")]
mod shared;
