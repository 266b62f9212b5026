//! A client's registered keys (its JWKS) and the checks shared by every JWT a client
//! signs: client assertions (RFC 7523 §3), request objects (RFC 9101) and JWT-bearer
//! grants (RFC 7523 §2.1).

use std::fmt;

use authflow::jose::{CompactJws, JwsAlgorithm, PublicJwk};
use serde_json::Value;
use zeroize::Zeroizing;

/// The most keys a client's JWKS may hold (each one is tried when a JWS has no `kid`).
const MAX_KEYS: usize = 16;

/// The asymmetric algorithms accepted in what clients sign with their keys.
pub(crate) const CLIENT_KEY_ALGORITHMS: [JwsAlgorithm; 5] = [
    JwsAlgorithm::ES256,
    JwsAlgorithm::EdDSA,
    // RFC 9864's name for the same Ed25519 signatures.
    JwsAlgorithm::Ed25519,
    JwsAlgorithm::RS256,
    JwsAlgorithm::PS256,
];

/// Clock leeway for `exp`, `nbf` and `iat` of client-signed JWTs, in seconds.
pub(crate) const LEEWAY: u64 = 5;

/// One public key from a client's JWKS.
#[derive(Debug, Clone)]
pub(crate) struct ClientKey {
    pub kid: Option<String>,
    /// The key's `alg` member: when given, the only algorithm it verifies.
    pub alg: Option<JwsAlgorithm>,
    pub jwk: PublicJwk,
}

/// A client secret kept in clear for `client_secret_jwt`. `Debug` never shows it.
pub(crate) struct HmacSecret(Zeroizing<Vec<u8>>);

impl HmacSecret {
    pub(crate) fn new(secret: &[u8]) -> Self {
        Self(Zeroizing::new(secret.to_vec()))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for HmacSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacSecret(<redacted>)")
    }
}

/// Reads a JWK set (`{"keys": [...]}`). Keys marked `"use": "enc"` are left out; a key
/// with private members, of an unknown type or naming an algorithm this provider does
/// not verify makes the whole set invalid (a typo should not silently drop a key).
pub(crate) fn parse_jwks(set: &Value) -> Result<Vec<ClientKey>, &'static str> {
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("is not a JSON object with a `keys` array")?;
    if keys.len() > MAX_KEYS {
        return Err("holds more than 16 keys");
    }
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let Value::Object(obj) = key else {
            return Err("holds a key that is not a JSON object");
        };
        if obj.get("use").and_then(Value::as_str) == Some("enc") {
            continue;
        }
        let jwk = PublicJwk::from_object(obj).map_err(|e| match e {
            authflow::jose::JwkError::Private => "holds private key material",
            _ => "holds a key that is not an EC P-256, OKP Ed25519 or RSA public key",
        })?;
        let alg = match obj.get("alg") {
            None => None,
            Some(a) => Some(
                a.as_str()
                    .and_then(|a| a.parse::<JwsAlgorithm>().ok())
                    .filter(|a| CLIENT_KEY_ALGORITHMS.contains(a) && jwk.fits(*a))
                    .ok_or(
                        "holds a key whose `alg` is not ES256, EdDSA, RS256 or PS256 for its type",
                    )?,
            ),
        };
        let kid = match obj.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err("holds a key whose `kid` is not a string"),
        };
        out.push(ClientKey { kid, alg, jwk });
    }
    Ok(out)
}

/// The keys that may have signed a JWS with `alg` and `kid`: same `kid` when the JWS names
/// one, an `alg` the key allows and its type fits.
pub(crate) fn candidates<'k>(
    keys: &'k [ClientKey],
    alg: JwsAlgorithm,
    kid: Option<&'k str>,
) -> impl Iterator<Item = &'k ClientKey> {
    keys.iter().filter(move |k| {
        (kid.is_none() || k.kid.as_deref() == kid)
            && k.alg.is_none_or(|a| a == alg)
            && k.jwk.fits(alg)
    })
}

/// Whether one of the client's keys verifies `jws`, signed with an accepted asymmetric
/// algorithm (never `none`, never HMAC).
pub(crate) fn verify_with(jws: &CompactJws, keys: &[ClientKey]) -> bool {
    let alg = jws.algorithm();
    CLIENT_KEY_ALGORITHMS.contains(&alg)
        && candidates(keys, alg, jws.key_id()).any(|k| jws.verify(&k.jwk))
}

/// Whether `aud` (a string or an array) names one of `accepted`.
pub(crate) fn audience_ok(jws: &CompactJws, accepted: &[&str]) -> bool {
    match jws.claims().get("aud") {
        Some(Value::String(a)) => accepted.contains(&a.as_str()),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| accepted.contains(&a)),
        _ => false,
    }
}

/// Checks `exp` (required, not past, at most `max_lifetime` seconds ahead), `nbf` and `iat`
/// (not in the future), with [`LEEWAY`]; the `exp` on success.
pub(crate) fn check_lifetime(
    jws: &CompactJws,
    now: u64,
    max_lifetime: u64,
) -> Result<u64, &'static str> {
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let leeway = LEEWAY as i64;
    let exp = jws.claim_secs("exp").ok_or("`exp` is missing")?;
    if exp.saturating_add(leeway) < now {
        return Err("it has expired");
    }
    if exp.saturating_sub(now) > max_lifetime as i64 + leeway {
        return Err("`exp` lies too far in the future");
    }
    let future = |claim| {
        jws.claim_secs(claim)
            .is_some_and(|t| t > now.saturating_add(leeway))
    };
    if future("nbf") || future("iat") {
        return Err("it is not valid yet (`nbf` or `iat` in the future)");
    }
    Ok(exp.max(0).unsigned_abs())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use authflow::jose::{SigningKey, UnsignedJws};
    use serde_json::json;

    fn set(key: &SigningKey, kid: &str, alg: Option<JwsAlgorithm>) -> Value {
        json!({"keys": [key.public_jwk().to_object(Some(kid), alg)]})
    }

    #[test]
    fn jwks_parsing_refuses_what_cannot_be_used() {
        let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        assert_eq!(parse_jwks(&set(&key, "k", None)).unwrap().len(), 1);
        assert!(parse_jwks(&json!({"keys": "x"})).is_err());
        assert!(parse_jwks(&json!([])).is_err());
        let mut with_d = set(&key, "k", None);
        with_d["keys"][0]["d"] = "secret".into();
        assert_eq!(
            parse_jwks(&with_d).unwrap_err(),
            "holds private key material"
        );
        // An ES256 key declared for EdDSA, or HMAC, is a mistake to report.
        assert!(parse_jwks(&set(&key, "k", Some(JwsAlgorithm::EdDSA))).is_err());
        let mut hs = set(&key, "k", None);
        hs["keys"][0]["alg"] = "HS256".into();
        assert!(parse_jwks(&hs).is_err());
        let mut enc = set(&key, "k", None);
        enc["keys"][0]["use"] = "enc".into();
        assert!(parse_jwks(&enc).unwrap().is_empty());
    }

    #[test]
    fn verification_honours_kid_and_alg() {
        let key = SigningKey::generate(JwsAlgorithm::EdDSA)
            .unwrap()
            .with_key_id("k1");
        let keys = parse_jwks(&set(&key, "k1", Some(JwsAlgorithm::EdDSA))).unwrap();
        let jws = |k: &SigningKey| {
            CompactJws::parse(&UnsignedJws::new(k, "JWT", json!({})).sign_with(k).unwrap()).unwrap()
        };
        assert!(verify_with(&jws(&key), &keys));
        assert!(!verify_with(&jws(&key.with_key_id("k2")), &keys));
        let other = SigningKey::generate(JwsAlgorithm::EdDSA).unwrap();
        assert!(!verify_with(&jws(&other), &keys));
    }

    #[test]
    fn lifetime_bounds() {
        let key = SigningKey::generate(JwsAlgorithm::EdDSA).unwrap();
        let jws = |c: Value| {
            CompactJws::parse(&UnsignedJws::new(&key, "JWT", c).sign_with(&key).unwrap()).unwrap()
        };
        assert_eq!(check_lifetime(&jws(json!({"exp": 160})), 100, 300), Ok(160));
        assert!(check_lifetime(&jws(json!({})), 100, 300).is_err());
        assert!(check_lifetime(&jws(json!({"exp": 90})), 100, 300).is_err());
        assert!(check_lifetime(&jws(json!({"exp": 1000})), 100, 300).is_err());
        assert!(check_lifetime(&jws(json!({"exp": 160, "nbf": 150})), 100, 300).is_err());
    }
}
