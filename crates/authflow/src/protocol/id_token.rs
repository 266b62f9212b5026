//! OpenID Connect ID token validation (OIDC Core §3.1.3.7), sans-IO.
//!
//! Signatures are checked by `jsonwebtoken` against a JWKS the caller supplies; the claims
//! rules (`iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, `at_hash`) are checked here with the
//! `now` passed in. Only asymmetric algorithms are accepted; `none` and HMAC never are.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value};
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use super::jws::{self, JwsError};
use crate::types::{AccessToken, ClientId, IdToken, IssuerUrl, Nonce};

/// What an ID token must match.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IdTokenExpectations<'a> {
    /// The issuer the client talked to.
    pub issuer: &'a IssuerUrl,
    /// This client: must be in `aud` (and be `azp` when there are several audiences).
    pub client_id: &'a ClientId,
    /// The nonce sent in the authorization request, if any.
    pub nonce: Option<&'a Nonce>,
    /// The access token issued with the ID token, to check `at_hash` when present.
    pub access_token: Option<&'a AccessToken>,
    /// Algorithms the provider announces (`id_token_signing_alg_values_supported`);
    /// empty means RS256 only (the OIDC default).
    pub algorithms: &'a [String],
    /// Clock skew tolerated on `exp` and `iat`.
    pub leeway: Duration,
    /// The current time.
    pub now: SystemTime,
}

impl<'a> IdTokenExpectations<'a> {
    /// Expectations with no nonce, no access token, RS256, 60 s leeway.
    pub fn new(issuer: &'a IssuerUrl, client_id: &'a ClientId, now: SystemTime) -> Self {
        Self {
            issuer,
            client_id,
            nonce: None,
            access_token: None,
            algorithms: &[],
            leeway: Duration::from_secs(60),
            now,
        }
    }
}

/// The validated claims of an ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdTokenClaims {
    /// `iss`.
    pub iss: String,
    /// `sub`: the user's stable identifier at this issuer.
    pub sub: String,
    /// `aud`, always as a list.
    pub aud: Vec<String>,
    /// `exp`.
    pub exp: SystemTime,
    /// `iat`.
    pub iat: SystemTime,
    /// `auth_time`, when sent.
    pub auth_time: Option<SystemTime>,
    /// `azp`, when sent.
    pub azp: Option<String>,
    /// Every claim, as sent (email, name, ...).
    pub all: Map<String, Value>,
}

impl IdTokenClaims {
    /// A string claim such as `email`, `name` or `preferred_username`.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.all.get(name).and_then(Value::as_str)
    }
}

/// Why an ID token was refused. Never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Not a compact JWS.
    #[error("the ID token is not a well-formed JWT: {0}")]
    Malformed(String),
    /// The header names an algorithm the provider does not announce, or a symmetric one.
    #[error("the ID token is signed with `{0}`, which is not allowed here")]
    Algorithm(String),
    /// No key in the JWKS has this `kid`: refetch the JWKS once (the provider may have
    /// rotated its keys), then give up.
    #[error("no key with id `{0}` in the provider's JWKS")]
    UnknownKey(String),
    /// The signature did not verify with any candidate key.
    #[error("the ID token's signature does not verify")]
    Signature,
    /// A claim failed its rule.
    #[error("the ID token's `{claim}` claim is invalid: {reason}")]
    Claim {
        /// The claim.
        claim: &'static str,
        /// Which rule.
        reason: String,
    },
}

fn claim(claim: &'static str, reason: impl Into<String>) -> IdTokenError {
    IdTokenError::Claim {
        claim,
        reason: reason.into(),
    }
}

/// Validates an ID token: signature against `jwks`, then the OIDC claim rules.
pub fn validate_id_token(
    token: &IdToken,
    jwks: &JwkSet,
    expect: &IdTokenExpectations<'_>,
) -> Result<IdTokenClaims, IdTokenError> {
    let verified = jws::verify(
        token.secret(),
        jwks,
        expect.algorithms,
        Some(Algorithm::RS256),
    )
    .map_err(|e| match e {
        JwsError::Malformed(m) => IdTokenError::Malformed(m),
        JwsError::Algorithm(a) => IdTokenError::Algorithm(a),
        JwsError::UnknownKey(k) => IdTokenError::UnknownKey(k),
        JwsError::Signature => IdTokenError::Signature,
    })?;
    check_claims(verified.claims, verified.alg, expect)
}

fn check_claims(
    all: Map<String, Value>,
    alg: Algorithm,
    expect: &IdTokenExpectations<'_>,
) -> Result<IdTokenClaims, IdTokenError> {
    let string = |name: &'static str| -> Result<String, IdTokenError> {
        all.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| claim(name, "missing or not a string"))
    };
    let time = |name: &'static str| -> Result<Option<SystemTime>, IdTokenError> {
        match all.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs_f64(s.min(1e12))))
                .map(Some)
                .ok_or_else(|| claim(name, "not a number of seconds")),
        }
    };

    let iss = string("iss")?;
    if !expect.issuer.matches(&iss) {
        return Err(claim(
            "iss",
            format!(
                "`{}` is not the issuer `{}`",
                printable(&iss),
                expect.issuer.as_issuer_str()
            ),
        ));
    }
    let sub = string("sub")?;
    let aud: Vec<String> = match all.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => return Err(claim("aud", "missing")),
    };
    let me = expect.client_id.as_str();
    if !aud.iter().any(|a| a == me) {
        return Err(claim("aud", format!("does not include this client `{me}`")));
    }
    let azp = all.get("azp").and_then(Value::as_str).map(str::to_owned);
    match &azp {
        Some(azp) if azp != me => {
            return Err(claim("azp", format!("names another client, not `{me}`")));
        }
        None if aud.len() > 1 => {
            return Err(claim("azp", "missing although there are several audiences"));
        }
        _ => {}
    }
    let exp = time("exp")?.ok_or_else(|| claim("exp", "missing"))?;
    if exp + expect.leeway <= expect.now {
        return Err(claim(
            "exp",
            "the ID token has expired (check this machine's clock if it was just issued)",
        ));
    }
    let iat = time("iat")?.ok_or_else(|| claim("iat", "missing"))?;
    if iat > expect.now + expect.leeway {
        return Err(claim(
            "iat",
            "issued in the future (check this machine's clock)",
        ));
    }
    if let Some(expected) = expect.nonce {
        let got = all
            .get("nonce")
            .and_then(Value::as_str)
            .ok_or_else(|| claim("nonce", "missing"))?;
        if !bool::from(got.as_bytes().ct_eq(expected.secret().as_bytes())) {
            return Err(claim(
                "nonce",
                "does not match the one sent (replayed or injected ID token)",
            ));
        }
    }
    if let (Some(at_hash), Some(at)) = (
        all.get("at_hash").and_then(Value::as_str),
        expect.access_token,
    ) {
        let want = left_half_hash(alg, at.secret().as_bytes());
        if !bool::from(at_hash.as_bytes().ct_eq(want.as_bytes())) {
            return Err(claim(
                "at_hash",
                "does not match the access token issued with it",
            ));
        }
    }
    let auth_time = time("auth_time")?;
    Ok(IdTokenClaims {
        iss,
        sub,
        aud,
        exp,
        iat,
        auth_time,
        azp,
        all,
    })
}

/// `at_hash`/`c_hash`: base64url of the left half of the hash that matches the JWS alg
/// (OIDC Core §3.1.3.6; SHA-512 for Ed25519).
pub fn left_half_hash(alg: Algorithm, value: &[u8]) -> String {
    let digest: Vec<u8> = match alg {
        Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 | Algorithm::HS384 => {
            sha2::Sha384::digest(value).to_vec()
        }
        Algorithm::RS512 | Algorithm::PS512 | Algorithm::HS512 | Algorithm::EdDSA => {
            sha2::Sha512::digest(value).to_vec()
        }
        _ => sha2::Sha256::digest(value).to_vec(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
#[path = "id_token_tests.rs"]
mod tests;
