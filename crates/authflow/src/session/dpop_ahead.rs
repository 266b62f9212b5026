//! A client's DPoP state for resource requests: the resource server's latest nonce, and
//! the next proof signed ahead of time.
//!
//! A proof costs a signature (10–30 µs), as much as a whole loopback request. When a
//! request repeats the previous one's method, URL (query included), token and nonce
//! (polling, a hot endpoint), the proof for the next such request is signed on a blocking
//! thread while this one is on the wire, and taken when it comes. A proof signed ahead is
//! used once and only within [`MAX_AGE`] of its `iat`; requests that vary their URL never
//! start one, so they sign nothing twice.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use http::HeaderValue;
use url::Url;

use super::TokenSet;

/// How old a proof signed ahead may be when used. Far inside any server's `iat` window
/// (RFC 9449 §11.1: seconds to minutes), so it reads as a proof made now.
pub(super) const MAX_AGE: Duration = Duration::from_secs(1);

/// One client's DPoP state, shared by its clones.
#[derive(Default)]
pub(crate) struct DpopState {
    /// The resource server's latest nonce (RFC 9449 §9).
    pub(super) nonce: ArcSwapOption<String>,
    ahead: Mutex<Ahead>,
    hasher: std::hash::RandomState,
}

#[derive(Default)]
struct Ahead {
    /// The last request's key hash: a repeat of it starts signing ahead.
    last: u64,
    /// A blocking thread is signing for `key`.
    signing: bool,
    /// What the proofs in `ready` are for.
    key: Option<Arc<ProofKey>>,
    /// Proofs signed ahead for `key`, oldest first, each with when it was made.
    ready: VecDeque<(Instant, HeaderValue)>,
}

/// Proofs signed per wake-up of a blocking thread. A wake-up costs the request path a few
/// µs (a futex, an interrupt in a VM), so it comes once every few requests; a burst's end
/// leaves at most this many unused.
const DEPTH: usize = 8;
/// Signing starts again when this few are left, before a thread's wake-up (which can take
/// longer than a loopback request) runs the queue dry.
const LOW: usize = 2;

/// What a proof covers besides its `jti` and `iat`.
struct ProofKey {
    method: String,
    url: Url,
    /// The token set, by address: the proof's `ath` and key are that set's. Weak, so the
    /// allocation (and the address) stays taken while this names it.
    tokens: Weak<TokenSet>,
    nonce: Option<Arc<String>>,
}

impl ProofKey {
    fn covers(&self, req: &ProofFor<'_>, nonce: &Option<Arc<String>>) -> bool {
        std::ptr::eq(self.tokens.as_ptr(), Arc::as_ptr(req.tokens))
            && self.method == req.method
            && self.url == *req.url
            && self.nonce == *nonce
    }
}

/// A proof request: what [`DpopState::proof`] signs, now or ahead.
pub(super) struct ProofFor<'a> {
    pub(super) tokens: &'a Arc<TokenSet>,
    pub(super) method: &'a str,
    pub(super) url: &'a Url,
}

impl DpopState {
    /// A fresh proof for `req`: one signed ahead when there is one for it, else signed
    /// now. Starts signing ahead when this request repeats the previous one.
    pub(super) fn proof(self: &Arc<Self>, req: &ProofFor<'_>) -> Result<HeaderValue, String> {
        let nonce = self.nonce.load_full();
        let hash = self.hash(req, nonce.as_deref());
        let (taken, start) = {
            let mut ahead = self.lock();
            let covered = ahead.key.as_ref().is_some_and(|k| k.covers(req, &nonce));
            if !covered {
                // Requests moved on: a task signing for the old key stops at its next proof.
                ahead.ready.clear();
                ahead.key = None;
            }
            while ahead
                .ready
                .front()
                .is_some_and(|(made, _)| made.elapsed() > MAX_AGE)
            {
                ahead.ready.pop_front();
            }
            let taken = ahead.ready.pop_front().map(|(_, proof)| proof);
            let start =
                ahead.last == hash && !ahead.signing && ahead.ready.len() <= LOW && can_spawn();
            ahead.last = hash;
            let start = start.then(|| {
                ahead.signing = true;
                match &ahead.key {
                    Some(k) if covered => Arc::clone(k),
                    _ => {
                        let key = Arc::new(ProofKey {
                            method: req.method.to_owned(),
                            url: req.url.clone(),
                            tokens: Arc::downgrade(req.tokens),
                            nonce: nonce.clone(),
                        });
                        ahead.key = Some(Arc::clone(&key));
                        key
                    }
                }
            });
            (taken, start)
        };
        let proof = match taken {
            Some(p) => p,
            None => sign(req.tokens, req.method, req.url, nonce.as_deref())?,
        };
        if let Some(key) = start {
            self.sign_ahead(Arc::clone(req.tokens), key);
        }
        Ok(proof)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ahead> {
        self.ahead.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hash(&self, req: &ProofFor<'_>, nonce: Option<&String>) -> u64 {
        let mut h = self.hasher.build_hasher();
        Arc::as_ptr(req.tokens).hash(&mut h);
        req.method.hash(&mut h);
        req.url.as_str().hash(&mut h);
        nonce.hash(&mut h);
        h.finish()
    }

    /// Fills `ready` up to [`DEPTH`] on a blocking thread, one proof at a time so the
    /// first is there as soon as it is made; stops when requests moved on to another key.
    fn sign_ahead(self: &Arc<Self>, tokens: Arc<TokenSet>, key: Arc<ProofKey>) {
        // Clears `signing` however the task ends: done, a panicking external signer, or
        // never run because the runtime is shutting down (the closure is then dropped).
        let flag = SigningFlag(Arc::clone(self));
        tokio::task::spawn_blocking(move || {
            loop {
                // Taken before signing: the proof's `iat` is no older than this.
                let made = Instant::now();
                let signed = sign(&tokens, &key.method, &key.url, key.nonce.as_deref());
                let mut ahead = flag.0.lock();
                let current = ahead.key.as_ref().is_some_and(|k| Arc::ptr_eq(k, &key));
                let ok = signed.is_ok();
                if let (Ok(proof), true) = (signed, current) {
                    ahead.ready.push_back((made, proof));
                }
                // A failure stops here: the request path signs (and reports) on its own.
                if !ok || !current || ahead.ready.len() >= DEPTH {
                    return;
                }
            }
        });
    }
}

/// Owned by a signing task; dropping it says no task is signing.
struct SigningFlag(Arc<DpopState>);

impl Drop for SigningFlag {
    fn drop(&mut self) {
        self.0.lock().signing = false;
    }
}

/// Signing ahead needs a Tokio runtime (for its blocking pool); without one, every proof
/// is signed on the request path.
fn can_spawn() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// A proof for one request with the set's key, marked sensitive.
fn sign(
    tokens: &TokenSet,
    method: &str,
    url: &Url,
    nonce: Option<&String>,
) -> Result<HeaderValue, String> {
    let prover = tokens
        .dpop
        .as_ref()
        .ok_or_else(|| "the refreshed tokens are no longer DPoP-bound".to_owned())?;
    let mut proof = prover
        .proof(
            method,
            url,
            Some(tokens.access_token.secret()),
            nonce.map(String::as_str),
            SystemTime::now(),
            &mut crate::random::ThreadRandom,
        )
        .map_err(|e| format!("cannot sign the DPoP proof: {e}"))?;
    proof.set_sensitive(true);
    Ok(proof)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::jose::{JwsAlgorithm, SigningKey};
    use crate::protocol::dpop::{DpopProver, ProofCheck, VerifiedProof, verify_proof};
    use crate::types::AccessToken;

    fn tokens() -> Arc<TokenSet> {
        let key = SigningKey::generate(JwsAlgorithm::EdDSA).unwrap();
        Arc::new(
            TokenSet::new(AccessToken::new("at-1").unwrap()).with_dpop(Some(DpopProver::new(key))),
        )
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn proof(state: &Arc<DpopState>, tokens: &Arc<TokenSet>, method: &str, u: &Url) -> String {
        let p = state
            .proof(&ProofFor {
                tokens,
                method,
                url: u,
            })
            .unwrap();
        assert!(p.is_sensitive());
        p.to_str().unwrap().to_owned()
    }

    fn check(p: &str, method: &str, u: &Url, nonce: Option<&str>) -> VerifiedProof {
        let v = verify_proof(
            p,
            &ProofCheck::new(method, u, SystemTime::now()).access_token("at-1"),
        )
        .unwrap();
        let claims = crate::jose::CompactJws::parse(p).unwrap();
        let nonce_claim = claims.claims().get("nonce").cloned().unwrap_or_default();
        assert_eq!(nonce_claim.as_str(), nonce);
        v
    }

    /// The ready proof's value, once the blocking thread has stored it.
    async fn wait_ready(state: &DpopState) -> String {
        for _ in 0..500 {
            if let Some((_, p)) = state.ahead.lock().unwrap().ready.front() {
                return p.to_str().unwrap().to_owned();
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("no proof was signed ahead");
    }

    /// Waits until the blocking thread has stopped signing.
    async fn wait_idle(state: &DpopState) {
        for _ in 0..500 {
            if !state.ahead.lock().unwrap().signing {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("signing ahead never stopped");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_repeated_request_takes_the_proof_signed_ahead_once() {
        let (state, tokens, u) = (
            Arc::new(DpopState::default()),
            tokens(),
            url("https://api.example/me?x=1"),
        );
        let first = proof(&state, &tokens, "GET", &u);
        assert!(
            !state.ahead.lock().unwrap().signing,
            "one request is no pattern"
        );
        let second = proof(&state, &tokens, "GET", &u);
        let ahead = wait_ready(&state).await;
        let third = proof(&state, &tokens, "GET", &u);
        assert_eq!(third, ahead);
        // Every proof is valid for the request and has its own jti.
        let jtis: Vec<String> = [&first, &second, &third]
            .iter()
            .map(|p| check(p, "GET", &u, None).jti)
            .collect();
        assert!(jtis[0] != jtis[1] && jtis[1] != jtis[2] && jtis[0] != jtis[2]);
        // Taken once: the next is another (signed now or ahead again), never the same.
        let fourth = proof(&state, &tokens, "GET", &u);
        assert_ne!(fourth, third);
        check(&fourth, "GET", &u, None);
        wait_idle(&state).await;
        assert!(state.ahead.lock().unwrap().ready.len() <= DEPTH);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_proof_signed_ahead_never_serves_another_request() {
        let (state, tokens, a) = (
            Arc::new(DpopState::default()),
            tokens(),
            url("https://api.example/a"),
        );
        proof(&state, &tokens, "GET", &a);
        proof(&state, &tokens, "GET", &a);
        wait_ready(&state).await;

        // Another URL, another method: signed for what they are.
        let b = url("https://api.example/b");
        check(&proof(&state, &tokens, "GET", &b), "GET", &b, None);
        proof(&state, &tokens, "GET", &a);
        proof(&state, &tokens, "GET", &a);
        wait_ready(&state).await;
        check(&proof(&state, &tokens, "POST", &a), "POST", &a, None);

        // A new nonce from the server.
        proof(&state, &tokens, "GET", &a);
        proof(&state, &tokens, "GET", &a);
        wait_ready(&state).await;
        state.nonce.store(Some(Arc::new("n-2".into())));
        check(&proof(&state, &tokens, "GET", &a), "GET", &a, Some("n-2"));

        // Another token set (a refresh): its own ath and key.
        proof(&state, &tokens, "GET", &a);
        proof(&state, &tokens, "GET", &a);
        let stale = wait_ready(&state).await;
        let other = Arc::new(
            TokenSet::new(AccessToken::new("at-1").unwrap()).with_dpop(tokens.dpop.clone()),
        );
        assert_ne!(proof(&state, &other, "GET", &a), stale);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn signing_ahead_stops_when_requests_move_on() {
        let (state, tokens) = (Arc::new(DpopState::default()), tokens());
        let (a, b) = (url("https://api.example/a"), url("https://api.example/b"));
        proof(&state, &tokens, "GET", &a);
        proof(&state, &tokens, "GET", &a);
        assert!(state.ahead.lock().unwrap().signing);
        proof(&state, &tokens, "GET", &b);
        wait_idle(&state).await;
        // Nothing was kept for A after B came, and B alone started nothing.
        let ahead = state.ahead.lock().unwrap();
        assert!(ahead.ready.is_empty() && ahead.key.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn an_old_proof_signed_ahead_is_dropped() {
        let (state, tokens, u) = (
            Arc::new(DpopState::default()),
            tokens(),
            url("https://api.example/me"),
        );
        proof(&state, &tokens, "GET", &u);
        proof(&state, &tokens, "GET", &u);
        let ahead = wait_ready(&state).await;
        let old = Instant::now()
            .checked_sub(MAX_AGE + Duration::from_millis(10))
            .unwrap();
        wait_idle(&state).await;
        for (made, _) in &mut state.ahead.lock().unwrap().ready {
            *made = old;
        }
        let p = proof(&state, &tokens, "GET", &u);
        assert_ne!(p, ahead);
        check(&p, "GET", &u, None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn varying_requests_sign_nothing_ahead() {
        let (state, tokens) = (Arc::new(DpopState::default()), tokens());
        for i in 0..20 {
            let u = url(&format!("https://api.example/items/{i}"));
            check(&proof(&state, &tokens, "GET", &u), "GET", &u, None);
            let ahead = state.ahead.lock().unwrap();
            assert!(!ahead.signing && ahead.ready.is_empty());
        }
    }

    #[test]
    fn without_a_runtime_every_proof_is_signed_on_the_spot() {
        let (state, tokens, u) = (
            Arc::new(DpopState::default()),
            tokens(),
            url("https://api.example/me"),
        );
        for _ in 0..3 {
            check(&proof(&state, &tokens, "GET", &u), "GET", &u, None);
        }
        assert!(!state.ahead.lock().unwrap().signing);
    }
}
