//! JWT client authentication (RFC 7523 §2.2, §3): `private_key_jwt` and
//! `client_secret_jwt`, for clients (claims to sign) and servers (checks).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::jose::{CompactJws, JwsAlgorithm, PublicJwk, b64};
use crate::random::RandomSource;
use crate::types::{Assertion, ClientId, ClientSecret};

/// `client_assertion_type` for a JWT (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The `grant_type` of the JWT-bearer grant (RFC 7523 §2.1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long the assertions authflow makes live.
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The claims of a client assertion: `iss` and `sub` the client id, `aud` the
/// authorization server's issuer (or its token endpoint when no issuer is known), a
/// random `jti`, `iat` now and `exp` a minute later (RFC 7523 §3).
pub fn assertion_claims(
    client_id: &ClientId,
    audience: &str,
    now: SystemTime,
    rng: &mut dyn RandomSource,
) -> Value {
    let mut jti = [0u8; 16];
    rng.fill(&mut jti);
    let iat = unix(now);
    json!({
        "iss": client_id.as_str(),
        "sub": client_id.as_str(),
        "aud": audience,
        "jti": b64(jti),
        "iat": iat,
        "exp": iat + ASSERTION_LIFETIME.as_secs(),
    })
}

/// A `client_secret_jwt` assertion: the claims signed with HS256 under the client secret.
pub fn secret_jwt(
    client_id: &ClientId,
    secret: &ClientSecret,
    audience: &str,
    now: SystemTime,
    rng: &mut dyn RandomSource,
) -> Result<Assertion, crate::types::InvalidValue> {
    let claims = assertion_claims(client_id, audience, now, rng);
    Assertion::new(crate::jose::sign_hmac(secret.secret().as_bytes(), &claims))
}

/// A client's keys as a server knows them, for checking `private_key_jwt`.
#[derive(Clone, Copy)]
pub enum ClientKeys<'a> {
    /// Public keys from the client's registered JWKS, each with its `kid` if any.
    Public(&'a [(Option<String>, PublicJwk)]),
    /// The client secret, for `client_secret_jwt`.
    Secret(&'a [u8]),
}

impl std::fmt::Debug for ClientKeys<'_> {
    // The shared secret never prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Public(keys) => f.debug_tuple("Public").field(keys).finish(),
            Self::Secret(_) => f.write_str("Secret(<redacted>)"),
        }
    }
}

/// What a server expects of a client assertion.
#[derive(Debug, Clone)]
pub struct AssertionCheck<'a> {
    /// The client the request says it is (`client_id`, when sent, or the assertion's `sub`).
    pub client_id: &'a str,
    /// Values `aud` may hold: the issuer, the token endpoint, the endpoint called.
    pub audiences: &'a [&'a str],
    /// Now.
    pub now: SystemTime,
    /// How far `exp` may lie in the future (a bound on replay-cache lifetimes).
    pub max_lifetime: Duration,
    /// Clock leeway for `exp`, `nbf` and `iat`.
    pub leeway: Duration,
}

/// An assertion that passed: its `jti` and `exp` are for the server's replay cache.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedAssertion {
    /// The `jti`.
    pub jti: String,
    /// When it expires.
    pub expires_at: SystemTime,
    /// The algorithm it was signed with.
    pub alg: JwsAlgorithm,
}

/// Why a client assertion was refused (the server answers `invalid_client`). Messages
/// never quote the assertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionError {
    /// Not a JWS, or `alg` is `none` or unknown.
    #[error("the client assertion is not a signed JWT: {0}")]
    Malformed(String),
    /// The algorithm does not fit the client's method (HS256 for keys, or the reverse).
    #[error("the client assertion's `alg` does not fit the client's authentication method")]
    Algorithm,
    /// No registered key verifies it.
    #[error("the client assertion's signature does not verify with the client's keys")]
    Signature,
    /// `iss` or `sub` is not the client id.
    #[error("the client assertion's `iss` and `sub` must both be the client id")]
    Subject,
    /// `aud` names no accepted audience.
    #[error("the client assertion's `aud` does not name this server")]
    Audience,
    /// Expired, not yet valid, or lives too long.
    #[error("the client assertion is expired, not yet valid, or valid for too long")]
    Lifetime,
    /// No `jti`.
    #[error("the client assertion has no `jti`")]
    MissingJti,
}

/// Checks a client assertion (RFC 7523 §3): signature with the client's keys, `iss` =
/// `sub` = client id, `aud`, `exp` (required, and not further away than `max_lifetime`),
/// `nbf`, and a `jti`. The caller checks `jti` against its replay cache.
pub fn verify_client_assertion(
    assertion: &str,
    keys: ClientKeys<'_>,
    check: &AssertionCheck<'_>,
) -> Result<VerifiedAssertion, AssertionError> {
    let jws = CompactJws::parse(assertion).map_err(|e| AssertionError::Malformed(e.to_string()))?;
    let alg = jws.algorithm();
    let verified = match keys {
        ClientKeys::Secret(secret) => {
            if alg != JwsAlgorithm::HS256 {
                return Err(AssertionError::Algorithm);
            }
            jws.verify_hmac(secret)
        }
        ClientKeys::Public(keys) => {
            if !alg.is_asymmetric() {
                return Err(AssertionError::Algorithm);
            }
            let kid = jws.key_id();
            keys.iter()
                .filter(|(k, jwk)| jwk.fits(alg) && (kid.is_none() || k.as_deref() == kid))
                .any(|(_, jwk)| jws.verify(jwk))
        }
    };
    if !verified {
        return Err(AssertionError::Signature);
    }
    if jws.claim_str("iss") != Some(check.client_id)
        || jws.claim_str("sub") != Some(check.client_id)
    {
        return Err(AssertionError::Subject);
    }
    let aud_ok = match jws.claims().get("aud") {
        Some(Value::String(a)) => check.audiences.contains(&a.as_str()),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| check.audiences.contains(&a)),
        _ => false,
    };
    if !aud_ok {
        return Err(AssertionError::Audience);
    }
    // Saturating: `exp` and friends are the signer's numbers, any i64.
    let now = i64::try_from(unix(check.now)).unwrap_or(i64::MAX);
    let leeway = i64::try_from(check.leeway.as_secs()).unwrap_or(i64::MAX);
    let max_life = i64::try_from(check.max_lifetime.as_secs()).unwrap_or(i64::MAX);
    let exp = jws.claim_secs("exp").ok_or(AssertionError::Lifetime)?;
    let too_long = exp.saturating_sub(now) > max_life.saturating_add(leeway);
    let latest = now.saturating_add(leeway);
    let nbf_future = jws.claim_secs("nbf").is_some_and(|nbf| nbf > latest);
    let iat_future = jws.claim_secs("iat").is_some_and(|iat| iat > latest);
    if exp.saturating_add(leeway) < now || too_long || nbf_future || iat_future {
        return Err(AssertionError::Lifetime);
    }
    let jti = jws
        .claim_str("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or(AssertionError::MissingJti)?;
    Ok(VerifiedAssertion {
        jti: jti.to_owned(),
        expires_at: UNIX_EPOCH + Duration::from_secs(exp.max(0).unsigned_abs()),
        alg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{SigningKey, UnsignedJws};
    use crate::random::OsRandom;

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn check(now: SystemTime) -> AssertionCheck<'static> {
        AssertionCheck {
            client_id: "app",
            audiences: &["https://as.example", "https://as.example/token"],
            now,
            max_lifetime: Duration::from_secs(300),
            leeway: Duration::from_secs(5),
        }
    }

    fn signed(key: &SigningKey, claims: Value) -> String {
        UnsignedJws::new(key, "JWT", claims).sign_with(key).unwrap()
    }

    #[test]
    fn private_key_jwt_round_trip_and_wrong_key() {
        let key = SigningKey::generate(JwsAlgorithm::ES256)
            .unwrap()
            .with_key_id("k1");
        let id = ClientId::new("app").unwrap();
        let jwt = signed(
            &key,
            assertion_claims(&id, "https://as.example", t(1000), &mut OsRandom),
        );
        let keys = vec![(Some("k1".to_owned()), key.public_jwk().clone())];
        let v = verify_client_assertion(&jwt, ClientKeys::Public(&keys), &check(t(1010))).unwrap();
        assert_eq!(v.expires_at, t(1060));
        let other = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        let keys = vec![(None, other.public_jwk().clone())];
        assert_eq!(
            verify_client_assertion(&jwt, ClientKeys::Public(&keys), &check(t(1010))),
            Err(AssertionError::Signature)
        );
    }

    #[test]
    fn client_secret_jwt_and_algorithm_confusion() {
        let id = ClientId::new("app").unwrap();
        let secret = ClientSecret::new("a-long-shared-secret-for-hmac-256").unwrap();
        let a = secret_jwt(
            &id,
            &secret,
            "https://as.example/token",
            t(50),
            &mut OsRandom,
        )
        .unwrap();
        assert!(
            verify_client_assertion(
                a.secret(),
                ClientKeys::Secret(secret.secret().as_bytes()),
                &check(t(50))
            )
            .is_ok()
        );
        assert_eq!(
            verify_client_assertion(a.secret(), ClientKeys::Secret(b"wrong"), &check(t(50))),
            Err(AssertionError::Signature)
        );
        // An HS256 assertion is never checked against public keys.
        let key = SigningKey::generate(JwsAlgorithm::EdDSA).unwrap();
        let keys = vec![(None, key.public_jwk().clone())];
        assert_eq!(
            verify_client_assertion(a.secret(), ClientKeys::Public(&keys), &check(t(50))),
            Err(AssertionError::Algorithm)
        );
    }

    #[test]
    fn extreme_numbers_are_refused_without_overflow() {
        let key = SigningKey::generate(JwsAlgorithm::EdDSA).unwrap();
        let keys = vec![(None, key.public_jwk().clone())];
        for exp in [i64::MIN, i64::MAX] {
            let c = json!({"iss":"app","sub":"app","aud":"https://as.example","jti":"j","exp":exp});
            let jwt = signed(&key, c);
            assert_eq!(
                verify_client_assertion(&jwt, ClientKeys::Public(&keys), &check(t(120))),
                Err(AssertionError::Lifetime)
            );
        }
        assert_eq!(
            format!("{:?}", ClientKeys::Secret(b"hunter2")),
            "Secret(<redacted>)"
        );
    }

    #[test]
    fn claims_are_checked() {
        let key = SigningKey::generate(JwsAlgorithm::EdDSA).unwrap();
        let keys = vec![(None, key.public_jwk().clone())];
        let base = json!({"iss":"app","sub":"app","aud":"https://as.example","jti":"j1","iat":100,"exp":160});
        let run = |claims: Value, now| {
            verify_client_assertion(
                &signed(&key, claims),
                ClientKeys::Public(&keys),
                &check(t(now)),
            )
        };
        assert!(run(base.clone(), 120).is_ok());
        let mut c = base.clone();
        c["sub"] = "other".into();
        assert_eq!(run(c, 120), Err(AssertionError::Subject));
        let mut c = base.clone();
        c["aud"] = json!(["https://evil.example"]);
        assert_eq!(run(c, 120), Err(AssertionError::Audience));
        assert_eq!(run(base.clone(), 166), Err(AssertionError::Lifetime));
        let mut c = base.clone();
        c["exp"] = 100_000.into();
        assert_eq!(run(c, 120), Err(AssertionError::Lifetime));
        let mut c = base.clone();
        c.as_object_mut().unwrap().remove("jti");
        assert_eq!(run(c, 120), Err(AssertionError::MissingJti));
        let mut c = base;
        c.as_object_mut().unwrap().remove("exp");
        assert_eq!(run(c, 120), Err(AssertionError::Lifetime));
    }
}
