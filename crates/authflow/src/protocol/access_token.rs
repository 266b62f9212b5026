//! JWT access tokens on the resource server (RFC 9068), sans-IO: signature against the
//! issuer's JWKS, `typ` `at+jwt`, `iss`, `aud`, `exp`/`nbf` with the caller's clock, and the
//! claims a resource server needs (`sub`, `client_id`, `scope`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value};

use super::jws::{self, JwsError};
use crate::types::{IssuerUrl, Scope};

/// What a JWT access token must match.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccessTokenExpectations<'a> {
    /// The issuer trusted for these tokens.
    pub issuer: &'a IssuerUrl,
    /// This resource's identifiers: `aud` must name one of them.
    pub audiences: &'a [String],
    /// Algorithms the issuer announces; empty means those the JWKS keys declare.
    pub algorithms: &'a [String],
    /// Whether the header must say `typ: at+jwt` (RFC 9068 §4). Some providers issue JWT
    /// access tokens without it; turning this off accepts them, and then only the
    /// audience check separates them from ID tokens.
    pub require_at_jwt: bool,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// The current time.
    pub now: SystemTime,
}

impl<'a> AccessTokenExpectations<'a> {
    /// Strict expectations: `typ` `at+jwt` required, 30 s leeway.
    pub fn new(issuer: &'a IssuerUrl, audiences: &'a [String], now: SystemTime) -> Self {
        Self {
            issuer,
            audiences,
            algorithms: &[],
            require_at_jwt: true,
            leeway: Duration::from_secs(30),
            now,
        }
    }
}

/// The claims of a valid access token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessTokenClaims {
    /// `iss`.
    pub iss: String,
    /// `sub`: the user, or the client itself for client credentials.
    pub sub: Option<String>,
    /// `client_id`: the client the token was issued to.
    pub client_id: Option<String>,
    /// `aud`, as a list.
    pub aud: Vec<String>,
    /// `scope` (empty when absent).
    pub scope: Scope,
    /// `exp`.
    pub exp: SystemTime,
    /// `jti`, when sent.
    pub jti: Option<String>,
    /// Every claim, as sent.
    pub all: Map<String, Value>,
}

/// Why an access token was refused. Never contains the token. Every variant maps to an
/// RFC 6750 `invalid_token` answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessTokenError {
    /// Not a compact JWS.
    #[error("the access token is not a well-formed JWT ({0})")]
    Malformed(String),
    /// Signed with an algorithm that is not allowed.
    #[error("the access token is signed with `{0}`, which is not allowed")]
    Algorithm(String),
    /// No key with this id: refetch the JWKS once, then give up.
    #[error("no key with id `{0}` in the issuer's JWKS")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("the access token's signature does not verify")]
    Signature,
    /// The header's `typ` is not `at+jwt`.
    #[error("the token is not a JWT access token (typ is `{0}`, expected `at+jwt`)")]
    Type(String),
    /// A claim failed its rule.
    #[error("the access token's `{claim}` claim is invalid: {reason}")]
    Claim {
        /// The claim.
        claim: &'static str,
        /// Which rule.
        reason: String,
    },
}

impl From<JwsError> for AccessTokenError {
    fn from(e: JwsError) -> Self {
        match e {
            JwsError::Malformed(m) => Self::Malformed(m),
            JwsError::Algorithm(a) => Self::Algorithm(a),
            JwsError::UnknownKey(k) => Self::UnknownKey(k),
            JwsError::Signature => Self::Signature,
        }
    }
}

fn claim(claim: &'static str, reason: impl Into<String>) -> AccessTokenError {
    AccessTokenError::Claim {
        claim,
        reason: reason.into(),
    }
}

/// Validates a JWT access token.
pub fn validate_access_token(
    token: &str,
    jwks: &JwkSet,
    expect: &AccessTokenExpectations<'_>,
) -> Result<AccessTokenClaims, AccessTokenError> {
    let verified = jws::verify(token, jwks, expect.algorithms, None)?;
    if expect.require_at_jwt {
        let typ = verified.typ.unwrap_or_default();
        let t = typ.to_ascii_lowercase();
        if t != "at+jwt" && t != "application/at+jwt" {
            return Err(AccessTokenError::Type(typ.chars().take(40).collect()));
        }
    }
    let all = verified.claims;
    let string = |k: &str| all.get(k).and_then(Value::as_str).map(str::to_owned);
    let time = |k: &'static str| -> Result<Option<SystemTime>, AccessTokenError> {
        match all.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs_f64(s.min(1e12))))
                .map(Some)
                .ok_or_else(|| claim(k, "not a number of seconds")),
        }
    };
    let iss = string("iss").ok_or_else(|| claim("iss", "missing"))?;
    if !expect.issuer.matches(&iss) {
        return Err(claim("iss", "not the trusted issuer"));
    }
    let aud: Vec<String> = match all.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => return Err(claim("aud", "missing")),
    };
    if !aud.iter().any(|a| expect.audiences.contains(a)) {
        return Err(claim("aud", "the token is for another resource"));
    }
    let exp = time("exp")?.ok_or_else(|| claim("exp", "missing"))?;
    if exp + expect.leeway <= expect.now {
        return Err(claim("exp", "the token has expired"));
    }
    if let Some(nbf) = time("nbf")?
        && nbf > expect.now + expect.leeway
    {
        return Err(claim("nbf", "the token is not valid yet"));
    }
    let scope = match all.get("scope") {
        Some(Value::String(s)) => {
            Scope::parse_lenient(s).map_err(|_| claim("scope", "not a list of scope tokens"))?
        }
        Some(Value::Array(a)) => Scope::from_tokens(a.iter().filter_map(|v| v.as_str()))
            .map_err(|_| claim("scope", "not a list of scope tokens"))?,
        _ => Scope::empty(),
    };
    Ok(AccessTokenClaims {
        iss,
        sub: string("sub"),
        client_id: string("client_id"),
        aud,
        scope,
        exp,
        jti: string("jti"),
        all,
    })
}

#[cfg(test)]
#[path = "access_token_tests.rs"]
mod tests;
