//! DPoP-bound access tokens at the resource server (RFC 9449 §7).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, Uri};
use url::Url;

use super::rejection::{Rejection, algs_param};
use super::replay::{MemoryReplayCache, ProofId, ReplayCache};
use super::server::{Principal, ResourceServer};
use crate::jose::JwsAlgorithm;
use crate::protocol::dpop::{
    DEFAULT_PROOF_ALGORITHMS, DPOP_HEADER, DpopError, DpopNonces, ProofCheck, check_binding,
    verify_proof,
};
use crate::types::InvalidValue;

/// How a [`ResourceServer`] accepts DPoP-bound access tokens (RFC 9449): requests with
/// `Authorization: DPoP <token>` and one `DPoP` proof header.
///
/// Each such request is checked for: the proof (RFC 9449 §4.3: signature, `typ`, `alg`,
/// `htm`, `htu`, `iat` window, `ath` of the token, and the nonce when required), the
/// token's `cnf.jkt` against the proof key's thumbprint, and replay of the proof's `jti`.
/// Tokens bound to a key are then refused as bearer tokens (§7.2), and bearer tokens are
/// refused with the DPoP scheme.
///
/// `htu` is checked against the server's public URL (configured, never read from the
/// client's `Host` header) followed by the request's path.
///
/// ```
/// use authflow::resource::{DpopConfig, MemoryReplayCache, ResourceServer};
/// use authflow::types::IssuerUrl;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let api = ResourceServer::builder(IssuerUrl::new("https://as.example")?, "https://api.example")
///     .dpop(DpopConfig::new("https://api.example")?.replay_cache(MemoryReplayCache::new(100_000)))
///     .build();
/// # let _ = api; Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct DpopConfig {
    /// The public URL, without a trailing `/`: the request's path follows it.
    base: String,
    only: bool,
    nonces: Option<DpopNonces>,
    replay: Arc<dyn ReplayCache>,
    algorithms: Vec<JwsAlgorithm>,
    algs: String,
    max_age: Duration,
    leeway: Duration,
}

impl std::fmt::Debug for DpopConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopConfig")
            .field("public_url", &self.base)
            .field("dpop_only", &self.only)
            .field("nonces", &self.nonces.is_some())
            .field("algs", &self.algs)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl DpopConfig {
    /// DPoP for a resource reached at `public_url` (`https://api.example`, or with a path
    /// prefix a proxy strips: `https://example.com/api`), alongside bearer tokens; an
    /// in-memory replay cache, ES256 and EdDSA proofs, `iat` at most 60 s old and 5 s
    /// ahead, no nonce.
    pub fn new(public_url: &str) -> Result<Self, InvalidValue> {
        const KIND: &str = "DPoP public URL";
        let url = Url::parse(public_url).map_err(|e| InvalidValue::new(KIND, e.to_string()))?;
        if !matches!(url.scheme(), "https" | "http") || url.cannot_be_a_base() {
            return Err(InvalidValue::new(KIND, "must be an http(s) URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(InvalidValue::new(KIND, "must have no query or fragment"));
        }
        Ok(Self {
            base: url.as_str().trim_end_matches('/').to_owned(),
            only: false,
            nonces: None,
            replay: Arc::new(MemoryReplayCache::default()),
            algorithms: DEFAULT_PROOF_ALGORITHMS.to_vec(),
            algs: algs_param(DEFAULT_PROOF_ALGORITHMS),
            max_age: Duration::from_secs(60),
            leeway: Duration::from_secs(5),
        })
    }

    /// Refuse the `Bearer` scheme altogether: every token must come with a proof.
    pub fn dpop_only(mut self) -> Self {
        self.only = true;
        self
    }

    /// Require a server nonce in proofs (RFC 9449 §9). Without one, or with a stale one,
    /// the answer is 401 `use_dpop_nonce` with a fresh `DPoP-Nonce`; every refusal
    /// carries one, and [`ResourceServer::fresh_dpop_nonce`] gives one for other responses.
    pub fn nonces(mut self, nonces: DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// Where used proofs are remembered: share a `RedisReplayCache` between instances.
    pub fn replay_cache(mut self, cache: impl ReplayCache) -> Self {
        self.replay = Arc::new(cache);
        self
    }

    /// The proof algorithms accepted (asymmetric only; announced as `algs`).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = JwsAlgorithm>) -> Self {
        self.algorithms = algorithms
            .into_iter()
            .filter(|a| a.is_asymmetric())
            .collect();
        self.algs = algs_param(&self.algorithms);
        self
    }

    /// How old a proof's `iat` may be, and how far ahead of this server's clock. Proofs
    /// are remembered for replay as long as they could be accepted. At most an hour and
    /// five minutes: a proof is made for one request, now.
    pub fn proof_window(mut self, max_age: Duration, leeway: Duration) -> Self {
        self.max_age = max_age.min(Duration::from_secs(3600));
        self.leeway = leeway.min(Duration::from_secs(300));
        self
    }

    pub(crate) fn accepts_bearer(&self) -> bool {
        !self.only
    }

    pub(crate) fn algs(&self) -> &str {
        &self.algs
    }

    pub(crate) fn nonce_source(&self) -> Option<&DpopNonces> {
        self.nonces.as_ref()
    }

    /// The URL the client addressed: the public URL and the request's path. A path that
    /// URL parsing would change (dot segments, raw or percent-encoded) is refused: a proof
    /// for `/admin` must never pass at `/api/../admin`.
    fn request_url(&self, uri: &Uri) -> Result<Url, DpopError> {
        let mut s = String::with_capacity(self.base.len() + uri.path().len());
        s.push_str(&self.base);
        s.push_str(uri.path());
        let url = Url::parse(&s).map_err(|_| DpopError::Url)?;
        if url.as_str().len() < s.len() || !url.as_str().starts_with(s.as_str()) {
            return Err(DpopError::Url);
        }
        Ok(url)
    }
}

impl ResourceServer {
    /// `Authorization: DPoP <token>`: the proof, the token, their binding, then replay.
    /// One signature check for the proof; the token's is cached like a bearer token's.
    pub(super) async fn authenticate_dpop(
        &self,
        dpop: &DpopConfig,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        token: &str,
    ) -> Result<Principal, Rejection> {
        let mut proofs = headers.get_all(DPOP_HEADER).iter();
        let (Some(proof), None) = (proofs.next(), proofs.next()) else {
            return Err(Rejection::Dpop(DpopError::Missing));
        };
        let proof = proof
            .to_str()
            .map_err(|_| Rejection::Dpop(DpopError::Malformed("the DPoP header is not text")))?;
        let url = dpop.request_url(uri).map_err(Rejection::Dpop)?;
        let now = SystemTime::now();
        let mut check = ProofCheck::new(method.as_str(), &url, now)
            .access_token(token)
            .algorithms(&dpop.algorithms)
            .window(dpop.max_age, dpop.leeway);
        if let Some(nonces) = &dpop.nonces {
            check = check.nonces(nonces);
        }
        let proof = verify_proof(proof, &check).map_err(Rejection::Dpop)?;
        let principal = self.validate(token).await?;
        let Some(jkt) = principal.jkt.as_deref() else {
            return Err(Rejection::InvalidToken(
                "the access token is not DPoP-bound; present it as a bearer token".into(),
            ));
        };
        check_binding(&proof, jkt).map_err(Rejection::Dpop)?;
        // Remembered while the proof could still pass the `iat` check, and a second more.
        let ttl = proof
            .iat
            .checked_add(dpop.max_age)
            .map_or(dpop.max_age, |until| {
                until.duration_since(now).unwrap_or_default()
            })
            .saturating_add(Duration::from_secs(1));
        let id = ProofId::new(&proof.jkt, &proof.jti);
        match dpop.replay.check_and_insert(&id, ttl).await {
            Ok(true) => Ok(principal),
            Ok(false) => Err(Rejection::Dpop(DpopError::Replayed)),
            Err(e) => Err(Rejection::Unavailable(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_request_url_is_the_public_url_and_the_path() {
        let c = DpopConfig::new("https://api.example/").unwrap();
        let uri: Uri = "/me?x=1".parse().unwrap();
        assert_eq!(
            c.request_url(&uri).unwrap().as_str(),
            "https://api.example/me"
        );
        let c = DpopConfig::new("https://example.com/api").unwrap();
        // An absolute-form target names a host the client chose: only its path counts.
        let uri: Uri = "http://evil.example/items".parse().unwrap();
        assert_eq!(
            c.request_url(&uri).unwrap().as_str(),
            "https://example.com/api/items"
        );
    }

    #[test]
    fn public_urls_must_be_plain_http_urls() {
        for bad in [
            "api.example",
            "ftp://api.example",
            "https://a.example/?q",
            "https://a.example/#f",
            "mailto:x@y",
        ] {
            assert!(DpopConfig::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn algorithms_are_announced_and_symmetric_ones_dropped() {
        let c = DpopConfig::new("https://api.example")
            .unwrap()
            .algorithms([JwsAlgorithm::EdDSA, JwsAlgorithm::HS256]);
        assert_eq!(c.algs(), "EdDSA");
    }

    /// Found in review: `Url::parse` resolved `..` and `%2e%2e`, so a proof made for
    /// another path on the host matched.
    #[test]
    fn paths_with_dot_segments_are_refused() {
        let c = DpopConfig::new("https://example.com/api").unwrap();
        for bad in [
            "/../admin",
            "/%2e%2e/admin",
            "/%2E%2E/admin",
            "/./me",
            "/x/..",
        ] {
            let uri: Uri = bad.parse().unwrap();
            assert_eq!(c.request_url(&uri), Err(DpopError::Url), "{bad}");
        }
        let uri: Uri = "/me".parse().unwrap();
        assert_eq!(
            c.request_url(&uri).unwrap().as_str(),
            "https://example.com/api/me"
        );
        let uri: Uri = "/a%20b/c.d".parse().unwrap();
        assert!(
            c.request_url(&uri).is_ok(),
            "encoded bytes and dots in names are fine"
        );
    }
}
