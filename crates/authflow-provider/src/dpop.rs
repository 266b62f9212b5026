//! DPoP (RFC 9449) where the provider issues tokens: proofs at `/token` and `/par`
//! checked by the library's [`verify_proof`], a `jti` replay cache, and optional server
//! nonces (§8).

use std::time::{Duration, SystemTime};

use authflow::protocol::OAuthError;
use authflow::protocol::dpop::{
    DPOP_HEADER, DPOP_NONCE_HEADER, DpopError, DpopNonces, ProofCheck, VerifiedProof, verify_proof,
};
use authflow::random::OsRandom;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use url::Url;

use crate::errors::error;
use crate::grant_store::{Backend, ReplayKind};
use crate::replay::Use;

/// How long a server nonce stays current; one is accepted for up to twice that.
const NONCE_PERIOD: Duration = Duration::from_secs(60);
/// How long a proof's `iat` is accepted after it (the library's default window) plus the
/// leeway into the future: how long its `jti` must be remembered.
const PROOF_WINDOW: u64 = 60 + 5 + 1;

/// The provider's DPoP nonces; accepted proofs' `jti`s are kept in its store.
pub(crate) struct Dpop {
    /// Server nonces, when the provider requires them.
    pub nonces: Option<DpopNonces>,
}

impl Dpop {
    /// Nonces keyed with `shared_secret` (every instance of a provider on a shared store
    /// holds the same), or with a random secret.
    pub(crate) fn new(require_nonce: bool, shared_secret: Option<&[u8]>) -> Self {
        let nonces = require_nonce.then(|| match shared_secret {
            Some(secret) => DpopNonces::new(secret, NONCE_PERIOD),
            None => DpopNonces::random(NONCE_PERIOD, &mut OsRandom),
        });
        Self { nonces }
    }

    /// The proof sent to `url` with `POST`, if the request has one: every check of
    /// RFC 9449 §4.3 and the nonce when required. Its `jti` is recorded by
    /// [`remember`](Self::remember) once the client has authenticated, so that proofs
    /// from anyone cannot fill the replay cache.
    pub(crate) fn check(
        &self,
        headers: &HeaderMap,
        url: &Url,
    ) -> Result<Option<VerifiedProof>, OAuthError> {
        let mut all = headers.get_all(DPOP_HEADER).iter();
        let Some(value) = all.next() else {
            return Ok(None);
        };
        if all.next().is_some() {
            return Err(refusal(&DpopError::Missing));
        }
        let proof = value
            .to_str()
            .map_err(|_| refusal(&DpopError::Malformed("not a header string")))?;
        let now = SystemTime::now();
        let mut check = ProofCheck::new("POST", url, now);
        if let Some(n) = &self.nonces {
            check = check.nonces(n);
        }
        verify_proof(proof, &check)
            .map(Some)
            .map_err(|e| refusal(&e))
    }

    /// Records a checked proof's `jti` in `store`; a second use is refused (RFC 9449
    /// §11.1).
    pub(crate) async fn remember(
        &self,
        store: &Backend,
        proof: Option<&VerifiedProof>,
    ) -> Result<(), OAuthError> {
        let Some(verified) = proof else {
            return Ok(());
        };
        let secs = crate::time::now();
        let parts = [verified.jkt.as_str(), verified.jti.as_str()];
        match store
            .first_use(ReplayKind::TokenProof, &parts, secs + PROOF_WINDOW, secs)
            .await?
        {
            Use::First => Ok(()),
            Use::Replayed => Err(refusal(&DpopError::Replayed)),
            Use::Full => Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many recent DPoP proofs to remember; try again in a minute",
            )),
        }
    }

    /// Adds a fresh `DPoP-Nonce` to a response when nonces are required (RFC 9449 §8.2:
    /// the client uses the latest one).
    pub(crate) fn offer_nonce(&self, resp: &mut Response) {
        if let Some(n) = &self.nonces
            && let Ok(v) = HeaderValue::try_from(n.current(SystemTime::now()))
        {
            resp.headers_mut().insert(DPOP_NONCE_HEADER, v);
        }
    }
}

/// The `400` error for a refused proof: `use_dpop_nonce` or `invalid_dpop_proof`.
pub(crate) fn refusal(e: &DpopError) -> OAuthError {
    error(StatusCode::BAD_REQUEST, e.error_code(), e.to_string())
}

/// A `dpop_jkt` (RFC 9449 §10): a base64url SHA-256 thumbprint, 43 characters.
pub(crate) fn is_jkt(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
