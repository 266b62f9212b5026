//! DPoP (RFC 9449): proofs for the client, proof checks and nonces for servers.
//!
//! The client side is [`DpopProver`]: it holds the key the client made, with the proof
//! header encoded once, and makes a fresh proof per request. The server side is
//! [`verify_proof`] (every check of RFC 9449 §4.3 that needs no state) and [`DpopNonces`]
//! (stateless server nonces, §8). Replay detection of `jti` needs state and lives with the
//! server that keeps it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::jose::{CompactJws, JwkError, JwsAlgorithm, PublicJwk, SignError, SigningKey, b64};
use crate::random::RandomSource;

/// The request header that carries a proof.
pub const DPOP_HEADER: &str = "dpop";
/// The response header that carries a server nonce (RFC 9449 §8.1).
pub const DPOP_NONCE_HEADER: &str = "dpop-nonce";
/// The proof's JWS `typ`.
pub const PROOF_TYP: &str = "dpop+jwt";
/// The error code a server answers when it wants a (new) nonce.
pub const USE_DPOP_NONCE: &str = "use_dpop_nonce";
/// The error code for a proof that fails a check.
pub const INVALID_DPOP_PROOF: &str = "invalid_dpop_proof";
/// The algorithms authflow's servers accept in proofs by default.
pub const DEFAULT_PROOF_ALGORITHMS: &[JwsAlgorithm] = &[JwsAlgorithm::ES256, JwsAlgorithm::EdDSA];

/// The `htu` of a request URL: the URL without query and fragment (RFC 9449 §4.2).
pub fn htu(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.into()
}

/// The `ath` of an access token: base64url(SHA-256(token)) (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    b64(Sha256::digest(access_token.as_bytes()))
}

/// The nonce a response offers, if any (`DPoP-Nonce`, RFC 9449 §8).
pub fn nonce_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get(DPOP_NONCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|n| !n.is_empty() && n.len() <= 512 && crate::types::is_nqchar(n))
        .map(str::to_owned)
}

/// Makes DPoP proofs with a key the client created. Cheap to clone.
///
/// ```
/// use std::time::SystemTime;
/// use authflow::jose::{JwsAlgorithm, SigningKey};
/// use authflow::protocol::dpop::{DpopProver, ProofCheck, verify_proof};
/// use authflow::random::OsRandom;
///
/// let prover = DpopProver::new(SigningKey::generate(JwsAlgorithm::ES256).unwrap());
/// let url = url::Url::parse("https://as.example/token").unwrap();
/// let now = SystemTime::now();
/// let proof = prover.proof("POST", &url, None, None, now, &mut OsRandom).unwrap();
/// let checked = verify_proof(proof.to_str().unwrap(), &ProofCheck::new("POST", &url, now)).unwrap();
/// assert_eq!(checked.jkt, prover.thumbprint());
/// ```
#[derive(Debug, Clone)]
pub struct DpopProver {
    key: SigningKey,
    header_b64: std::sync::Arc<str>,
}

impl DpopProver {
    /// A prover for `key` (ES256 or EdDSA).
    pub fn new(key: SigningKey) -> Self {
        let mut header = Map::new();
        header.insert("typ".into(), PROOF_TYP.into());
        header.insert("alg".into(), key.algorithm().as_str().into());
        header.insert(
            "jwk".into(),
            serde_json::to_value(key.public_jwk()).unwrap_or_default(),
        );
        let header_b64 = b64(serde_json::to_vec(&header).unwrap_or_default()).into();
        Self { key, header_b64 }
    }

    /// The key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The key's RFC 7638 thumbprint, as a bound token's `cnf.jkt` holds it.
    pub fn thumbprint(&self) -> &str {
        self.key.thumbprint()
    }

    /// A proof for one request: `method` and `url` of the request, `access_token` when
    /// it carries one (adds `ath`), and the server's latest `nonce` when it gave one.
    pub fn proof(
        &self,
        method: &str,
        url: &Url,
        access_token: Option<&str>,
        nonce: Option<&str>,
        now: SystemTime,
        rng: &mut dyn RandomSource,
    ) -> Result<HeaderValue, SignError> {
        let mut jti = [0u8; 16];
        rng.fill(&mut jti);
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut claims = Map::new();
        claims.insert("jti".into(), b64(jti).into());
        claims.insert("htm".into(), method.into());
        claims.insert("htu".into(), htu(url).into());
        claims.insert("iat".into(), iat.into());
        if let Some(t) = access_token {
            claims.insert("ath".into(), ath(t).into());
        }
        if let Some(n) = nonce {
            claims.insert("nonce".into(), n.into());
        }
        let payload = b64(serde_json::to_vec(&claims).unwrap_or_default());
        let jws = crate::jose::UnsignedJws::from_encoded(&self.header_b64, &payload);
        let proof = jws.sign_with(&self.key)?;
        HeaderValue::try_from(proof).map_err(|_| SignError::new("proof is not a header value"))
    }
}

impl PartialEq for DpopProver {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for DpopProver {}

// A prover persists as its key: the header is derived again on load.
impl serde::Serialize for DpopProver {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.key.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for DpopProver {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SigningKey::deserialize(d).map(Self::new)
    }
}

/// What a server expects of a proof.
#[derive(Debug, Clone)]
#[must_use]
pub struct ProofCheck<'a> {
    method: &'a str,
    url: &'a Url,
    now: SystemTime,
    max_age: Duration,
    leeway: Duration,
    access_token: Option<&'a str>,
    algorithms: &'a [JwsAlgorithm],
    nonces: Option<&'a DpopNonces>,
}

impl<'a> ProofCheck<'a> {
    /// A proof for `method` on `url` (as the client addressed it), checked at `now`:
    /// `iat` at most 60 s old and 5 s ahead, ES256 or EdDSA, no nonce.
    pub fn new(method: &'a str, url: &'a Url, now: SystemTime) -> Self {
        Self {
            method,
            url,
            now,
            max_age: Duration::from_secs(60),
            leeway: Duration::from_secs(5),
            access_token: None,
            algorithms: DEFAULT_PROOF_ALGORITHMS,
            nonces: None,
        }
    }

    /// The access token the request presents: the proof must carry its `ath`.
    pub fn access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }

    /// How old `iat` may be, and how far in the future.
    pub fn window(mut self, max_age: Duration, leeway: Duration) -> Self {
        self.max_age = max_age;
        self.leeway = leeway;
        self
    }

    /// The algorithms accepted.
    pub fn algorithms(mut self, algorithms: &'a [JwsAlgorithm]) -> Self {
        self.algorithms = algorithms;
        self
    }

    /// Requires a nonce issued by `nonces` (and still current).
    pub fn nonces(mut self, nonces: &'a DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }
}

/// A proof that passed every stateless check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedProof {
    /// The thumbprint of the proof's key: a bound token's `cnf.jkt` must equal it.
    pub jkt: String,
    /// The proof's `jti`, for the server's replay cache.
    pub jti: String,
    /// When the proof says it was made.
    pub iat: SystemTime,
    /// The proof's key.
    pub jwk: PublicJwk,
}

/// Why a proof was refused. Each maps to `invalid_dpop_proof` or `use_dpop_nonce`
/// ([`error_code`](Self::error_code)); messages never quote the proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// No proof, or more than one `DPoP` header.
    #[error("exactly one DPoP proof header is required")]
    Missing,
    /// Not a JWS, or claims missing or of the wrong type.
    #[error("the DPoP proof is malformed: {0}")]
    Malformed(&'static str),
    /// `typ` is not `dpop+jwt`.
    #[error("the DPoP proof's `typ` is not `dpop+jwt`")]
    Type,
    /// `alg` not accepted (or `none`, or symmetric).
    #[error("the DPoP proof's `alg` is not accepted here")]
    Algorithm,
    /// The header's `jwk` is missing, private, or unusable.
    #[error("the DPoP proof's `jwk`: {0}")]
    Key(JwkError),
    /// The signature does not verify with the header's key.
    #[error("the DPoP proof's signature does not verify")]
    Signature,
    /// `htm` is not the request's method.
    #[error("the DPoP proof was made for another HTTP method")]
    Method,
    /// `htu` is not the request's URL.
    #[error("the DPoP proof was made for another URL")]
    Url,
    /// `iat` is too old or in the future.
    #[error("the DPoP proof's `iat` is outside the accepted window")]
    IssuedAt,
    /// `ath` is missing or not the hash of the presented token.
    #[error("the DPoP proof's `ath` does not match the access token")]
    AccessTokenHash,
    /// The server wants a nonce, or a newer one.
    #[error("a fresh DPoP nonce is required")]
    UseNonce,
    /// The proof's key is not the one the token is bound to.
    #[error("the DPoP proof's key is not the one the token is bound to")]
    KeyMismatch,
    /// The `jti` was seen before.
    #[error("the DPoP proof was already used")]
    Replayed,
}

impl DpopError {
    /// The OAuth error code for the response: `use_dpop_nonce` or `invalid_dpop_proof`.
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::UseNonce => USE_DPOP_NONCE,
            _ => INVALID_DPOP_PROOF,
        }
    }
}

/// The largest `jti` accepted (random ids are far shorter; this bounds replay caches).
const MAX_JTI: usize = 256;

/// Checks a proof against the request (RFC 9449 §4.3, steps 1–11 except replay, which
/// needs the caller's cache; and §7.1 `ath` when the request presents a token).
pub fn verify_proof(proof: &str, check: &ProofCheck<'_>) -> Result<VerifiedProof, DpopError> {
    let jws = CompactJws::parse(proof).map_err(|e| match e {
        crate::jose::JwsParseError::Algorithm => DpopError::Algorithm,
        crate::jose::JwsParseError::Malformed(m) => DpopError::Malformed(m),
    })?;
    if jws.typ() != Some(PROOF_TYP) {
        return Err(DpopError::Type);
    }
    let alg = jws.algorithm();
    if !alg.is_asymmetric() || !check.algorithms.iter().any(|a| a.same_as(alg)) {
        return Err(DpopError::Algorithm);
    }
    let jwk = match jws.header().get("jwk") {
        Some(Value::Object(o)) => PublicJwk::from_object(o).map_err(DpopError::Key)?,
        _ => return Err(DpopError::Key(JwkError::Unsupported)),
    };
    if !jwk.fits(alg) {
        return Err(DpopError::Key(JwkError::Unsupported));
    }
    if !jws.verify(&jwk) {
        return Err(DpopError::Signature);
    }
    let jti = jws
        .claim_str("jti")
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI)
        .ok_or(DpopError::Malformed("`jti` is missing or too long"))?;
    if jws.claim_str("htm") != Some(check.method) {
        return Err(DpopError::Method);
    }
    let same_url = jws
        .claim_str("htu")
        .and_then(|h| Url::parse(h).ok())
        .is_some_and(|h| htu(&h) == htu(check.url));
    if !same_url {
        return Err(DpopError::Url);
    }
    let iat = jws
        .claim_secs("iat")
        .filter(|s| *s >= 0)
        .ok_or(DpopError::Malformed("`iat` is missing"))?;
    // Checked: a huge `iat` overflows `SystemTime` on some platforms.
    let iat = UNIX_EPOCH
        .checked_add(Duration::from_secs(iat.unsigned_abs()))
        .ok_or(DpopError::IssuedAt)?;
    let too_old = check
        .now
        .checked_sub(check.max_age)
        .is_some_and(|earliest| iat < earliest);
    let too_new = check
        .now
        .checked_add(check.leeway)
        .is_none_or(|latest| iat > latest);
    if too_old || too_new {
        return Err(DpopError::IssuedAt);
    }
    if let Some(nonces) = check.nonces {
        match jws.claim_str("nonce") {
            Some(n) if nonces.accepts(n, check.now) => {}
            _ => return Err(DpopError::UseNonce),
        }
    }
    if let Some(token) = check.access_token {
        let expected = ath(token);
        let given = jws.claim_str("ath").unwrap_or_default();
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given.as_bytes()).into();
        if !same {
            return Err(DpopError::AccessTokenHash);
        }
    }
    Ok(VerifiedProof {
        jkt: jwk.thumbprint(),
        jti: jti.to_owned(),
        iat,
        jwk,
    })
}

/// Checks a verified proof's key against a token's `cnf.jkt` (RFC 9449 §6.1), in
/// constant time.
pub fn check_binding(proof: &VerifiedProof, cnf_jkt: &str) -> Result<(), DpopError> {
    let same: bool = subtle::ConstantTimeEq::ct_eq(proof.jkt.as_bytes(), cnf_jkt.as_bytes()).into();
    if same {
        Ok(())
    } else {
        Err(DpopError::KeyMismatch)
    }
}

/// Stateless server nonces (RFC 9449 §8): an HMAC over the current time window, so any
/// instance holding the same secret accepts them and nothing is stored. A nonce is good
/// for the window it was made in and the next one.
#[derive(Clone)]
pub struct DpopNonces {
    key: aws_lc_rs::hmac::Key,
    period: Duration,
}

impl std::fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopNonces")
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

impl DpopNonces {
    /// Nonces keyed with `secret` (share it between instances), renewed every `period`.
    pub fn new(secret: &[u8], period: Duration) -> Self {
        Self {
            key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret),
            period: period.max(Duration::from_secs(1)),
        }
    }

    /// Nonces with a random secret (one instance).
    pub fn random(period: Duration, rng: &mut dyn RandomSource) -> Self {
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill(secret.as_mut());
        Self::new(secret.as_ref(), period)
    }

    fn window(&self, now: SystemTime) -> u64 {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        secs / self.period.as_secs().max(1)
    }

    fn for_window(&self, window: u64) -> String {
        let tag = aws_lc_rs::hmac::sign(&self.key, &window.to_be_bytes());
        let mut bytes = window.to_be_bytes().to_vec();
        bytes.extend_from_slice(&tag.as_ref()[..16]);
        b64(bytes)
    }

    /// The nonce to hand out now.
    pub fn current(&self, now: SystemTime) -> String {
        self.for_window(self.window(now))
    }

    /// Whether `nonce` was made by these nonces in this window or the one before.
    pub fn accepts(&self, nonce: &str, now: SystemTime) -> bool {
        let Some(bytes) = crate::jose::unb64(nonce).filter(|b| b.len() == 24) else {
            return false;
        };
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[..8]);
        let window = u64::from_be_bytes(w);
        let current = self.window(now);
        if window != current && window.checked_add(1) != Some(current) {
            return false;
        }
        let expected = self.for_window(window);
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), nonce.as_bytes()).into()
    }
}

#[cfg(test)]
#[path = "dpop_tests.rs"]
mod tests;
