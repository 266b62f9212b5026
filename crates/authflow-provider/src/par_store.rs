//! Pushed authorization requests (RFC 9126) waiting for `/authorize`: validated
//! requests under a fresh `request_uri`, each usable once, by the client that pushed it,
//! for a short while (`ProviderBuilder::par_ttl`, 60 s by default). Kept by the digest of
//! the `request_uri`.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::authz_request::Request;
use crate::hashing::{Digest, random_token, sha256};

/// The prefix of every `request_uri` (RFC 9126 §2.2).
pub(crate) const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// At most this many pushed requests wait at once.
pub(crate) const MAX_PUSHED: usize = 10_000;
/// At most this many for one client: a public client's id is no secret, so one client's
/// flood pushes out its own oldest requests, never everyone's.
pub(crate) const MAX_PUSHED_PER_CLIENT: usize = 1_000;

struct Pushed {
    request: Request,
    expires: u64,
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct ParStore {
    inner: Mutex<HashMap<Digest, Pushed>>,
}

impl ParStore {
    /// Stores a validated request for `ttl` seconds; its `request_uri`, or `None` when
    /// full.
    pub(crate) fn push(&self, request: Request, ttl: u64, now: u64) -> Option<String> {
        let uri = format!("{REQUEST_URI_PREFIX}{}", random_token());
        // Only map operations happen under the lock; a panic elsewhere cannot corrupt it.
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.len() >= MAX_PUSHED_PER_CLIENT {
            g.retain(|_, p| p.expires > now);
            let mine = g
                .iter()
                .filter(|(_, p)| p.request.client_id == request.client_id);
            if mine.clone().count() >= MAX_PUSHED_PER_CLIENT
                && let Some(oldest) = mine.min_by_key(|(_, p)| p.expires).map(|(k, _)| *k)
            {
                g.remove(&oldest);
            }
            if g.len() >= MAX_PUSHED {
                return None;
            }
        }
        g.insert(
            sha256(uri.as_bytes()),
            Pushed {
                request,
                expires: now + ttl,
            },
        );
        Some(uri)
    }

    /// Takes the request behind `request_uri` if it is live and `client_id` pushed it.
    /// Another client's attempt leaves it in place for the one that pushed it.
    pub(crate) fn take(&self, request_uri: &str, client_id: &str, now: u64) -> Option<Request> {
        let key = sha256(request_uri.as_bytes());
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match g.get(&key) {
            Some(p) if p.expires <= now => {
                g.remove(&key);
                None
            }
            Some(p) if p.request.client_id == client_id => g.remove(&key).map(|p| p.request),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use authflow::types::Scope;

    /// Found in review: one public client's flood filled the store for everyone.
    #[test]
    fn one_clients_flood_evicts_only_its_own_oldest_requests() {
        let store = ParStore::default();
        let other = store.push(request("other"), 60, 0).unwrap();
        let first = store.push(request("flood"), 60, 0).unwrap();
        for i in 0..MAX_PUSHED_PER_CLIENT + 10 {
            assert!(store.push(request("flood"), 60 + i as u64, 0).is_some());
        }
        assert!(
            store.take(&first, "flood", 1).is_none(),
            "its oldest went first"
        );
        assert!(
            store.take(&other, "other", 1).is_some(),
            "others are untouched"
        );
    }

    fn request(client: &str) -> Request {
        Request {
            client_id: client.into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            redirect_uri_given: true,
            state: None,
            scope: Scope::empty(),
            challenge: None,
            nonce: None,
            login_hint: None,
            dpop_jkt: None,
        }
    }

    #[test]
    fn once_by_its_client_until_expiry() {
        let p = ParStore::default();
        let uri = p.push(request("a"), 60, 10).unwrap();
        assert!(uri.starts_with(REQUEST_URI_PREFIX));
        assert!(p.take(&uri, "b", 11).is_none());
        assert!(p.take(&uri, "a", 11).is_some(), "b's attempt left it");
        assert!(p.take(&uri, "a", 12).is_none(), "single use");
        let uri = p.push(request("a"), 60, 10).unwrap();
        assert!(p.take(&uri, "a", 70).is_none(), "expired");
    }
}
