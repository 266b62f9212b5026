//! Compact JWS (RFC 7515 §7.1): building the signing input, signing, parsing, verifying.

use serde_json::{Map, Value};

use super::{JwsAlgorithm, JwsSigner, PublicJwk, SignError, b64, unb64};

/// A JWS not yet signed: the protocol builds it, a signer finishes it.
///
/// ```
/// use authflow::jose::{JwsAlgorithm, SigningKey, UnsignedJws, CompactJws};
/// use serde_json::json;
/// let key = SigningKey::generate(JwsAlgorithm::EdDSA).unwrap();
/// let jws = UnsignedJws::new(&key, "example+jwt", json!({"sub": "me"}));
/// let token = jws.sign_with(&key).unwrap();
/// let parsed = CompactJws::parse(&token).unwrap();
/// assert!(parsed.verify(key.public_jwk()));
/// assert_eq!(parsed.claims()["sub"], "me");
/// ```
#[derive(Debug, Clone)]
pub struct UnsignedJws {
    input: String,
}

impl UnsignedJws {
    /// A JWS with the signer's `alg` and `kid`, the given `typ`, and `claims` (a JSON
    /// object).
    pub fn new(signer: &dyn JwsSigner, typ: &str, claims: Value) -> Self {
        let mut header = Map::new();
        header.insert("alg".into(), signer.algorithm().as_str().into());
        header.insert("typ".into(), typ.into());
        if let Some(kid) = signer.key_id() {
            header.insert("kid".into(), kid.into());
        }
        Self::from_parts(&header, &claims)
    }

    /// A JWS from an explicit header and claims.
    pub fn from_parts(header: &Map<String, Value>, claims: &Value) -> Self {
        // Serializing a Map or Value cannot fail.
        let h = serde_json::to_vec(header).unwrap_or_default();
        let c = serde_json::to_vec(claims).unwrap_or_default();
        Self::from_encoded(&b64(h), &b64(c))
    }

    /// A JWS from an already encoded header and payload (for headers computed once).
    pub fn from_encoded(header_b64: &str, payload_b64: &str) -> Self {
        let mut input = String::with_capacity(header_b64.len() + payload_b64.len() + 90);
        input.push_str(header_b64);
        input.push('.');
        input.push_str(payload_b64);
        Self { input }
    }

    /// The bytes to sign: `base64url(header) "." base64url(payload)`.
    pub fn signing_input(&self) -> &[u8] {
        self.input.as_bytes()
    }

    /// The compact serialization with `signature` appended.
    pub fn finish(mut self, signature: &[u8]) -> String {
        self.input.push('.');
        base64::Engine::encode_string(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            signature,
            &mut self.input,
        );
        self.input
    }

    /// Signs with a built-in key, synchronously.
    pub fn sign_with(self, key: &super::SigningKey) -> Result<String, SignError> {
        let sig = key.sign_now(self.signing_input())?;
        Ok(self.finish(&sig))
    }
}

/// Signs with any [`JwsSigner`] (which may be remote).
pub async fn sign_jws(signer: &dyn JwsSigner, jws: UnsignedJws) -> Result<String, SignError> {
    let sig = signer.sign(jws.signing_input()).await?;
    Ok(jws.finish(&sig))
}

/// A parsed compact JWS, not yet verified. `Debug` shows the header only: the whole
/// token may be a credential (an assertion that can be replayed until it expires).
#[derive(Clone)]
pub struct CompactJws {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    alg: JwsAlgorithm,
    signing_input_len: usize,
    raw: String,
    signature: Vec<u8>,
}

impl std::fmt::Debug for CompactJws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompactJws")
            .field("header", &self.header)
            .field("len", &self.raw.len())
            .finish_non_exhaustive()
    }
}

/// Why a compact JWS could not be read. Never quotes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsParseError {
    /// Not three base64url parts separated by dots, or the parts are not JSON objects.
    #[error("not a compact JWS: {0}")]
    Malformed(&'static str),
    /// `alg` is missing, `none`, or not one authflow verifies.
    #[error("unsupported or missing `alg` in the JWS header")]
    Algorithm,
}

/// The largest JWS read (proofs, assertions and request objects are far smaller).
const MAX_JWS_BYTES: usize = 16 * 1024;

impl CompactJws {
    /// Splits and decodes a compact JWS; the header's `alg` must be a known asymmetric or
    /// HMAC algorithm (never `none`).
    pub fn parse(token: &str) -> Result<Self, JwsParseError> {
        if token.len() > MAX_JWS_BYTES {
            return Err(JwsParseError::Malformed("longer than 16 KiB"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsParseError::Malformed(
                "not three parts separated by dots",
            ));
        };
        let object =
            |part: &str, what: &'static str| -> Result<Map<String, Value>, JwsParseError> {
                let bytes = unb64(part).ok_or(JwsParseError::Malformed(what))?;
                match serde_json::from_slice(&bytes) {
                    Ok(Value::Object(m)) => Ok(m),
                    _ => Err(JwsParseError::Malformed(what)),
                }
            };
        let header = object(h, "the header is not a base64url JSON object")?;
        let claims = object(c, "the payload is not a base64url JSON object")?;
        let signature =
            unb64(s).ok_or(JwsParseError::Malformed("the signature is not base64url"))?;
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(|a| a.parse::<JwsAlgorithm>().ok())
            .ok_or(JwsParseError::Algorithm)?;
        Ok(Self {
            header,
            claims,
            alg,
            signing_input_len: h.len() + 1 + c.len(),
            raw: token.to_owned(),
            signature,
        })
    }

    /// The protected header.
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The claims (payload).
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The header's `alg`.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.alg
    }

    /// The header's `typ`, if any.
    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    /// The header's `kid`, if any.
    pub fn key_id(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// The claim `name` as a string.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// The claim `name` as whole seconds (a JSON number; fractions are cut).
    pub fn claim_secs(&self, name: &str) -> Option<i64> {
        let v = self.claims.get(name)?;
        v.as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
    }

    /// Verifies the signature with a public key (the `alg` must fit the key).
    pub fn verify(&self, key: &PublicJwk) -> bool {
        self.alg.is_asymmetric()
            && key.verify(
                self.alg,
                &self.raw.as_bytes()[..self.signing_input_len],
                &self.signature,
            )
    }

    /// Verifies an `HS256` signature with a shared secret (`client_secret_jwt`), in
    /// constant time.
    pub fn verify_hmac(&self, secret: &[u8]) -> bool {
        use aws_lc_rs::hmac;
        self.alg == JwsAlgorithm::HS256
            && hmac::verify(
                &hmac::Key::new(hmac::HMAC_SHA256, secret),
                &self.raw.as_bytes()[..self.signing_input_len],
                &self.signature,
            )
            .is_ok()
    }
}

/// An `HS256` JWS over `claims` keyed with `secret` (`client_secret_jwt`, RFC 7523).
pub(crate) fn sign_hmac(secret: &[u8], claims: &Value) -> String {
    use aws_lc_rs::hmac;
    let mut header = Map::new();
    header.insert("alg".into(), "HS256".into());
    header.insert("typ".into(), "JWT".into());
    let jws = UnsignedJws::from_parts(&header, claims);
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret),
        jws.signing_input(),
    );
    jws.finish(tag.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SigningKey;
    use serde_json::json;

    #[test]
    fn none_and_unknown_algorithms_are_refused() {
        for header in [
            json!({"alg":"none"}),
            json!({"typ":"JWT"}),
            json!({"alg":"XS999"}),
        ] {
            let token = format!("{}.{}.", b64(header.to_string()), b64("{}"));
            assert_eq!(
                CompactJws::parse(&token).unwrap_err(),
                JwsParseError::Algorithm
            );
        }
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        let token = UnsignedJws::new(&key, "JWT", json!({"a": 1}))
            .sign_with(&key)
            .unwrap();
        assert!(CompactJws::parse(&token).unwrap().verify(key.public_jwk()));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64(json!({"a": 2}).to_string());
        parts[1] = &forged;
        let forged = parts.join(".");
        assert!(!CompactJws::parse(&forged).unwrap().verify(key.public_jwk()));
        let other = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        assert!(
            !CompactJws::parse(&token)
                .unwrap()
                .verify(other.public_jwk())
        );
    }

    #[test]
    fn hmac_round_trip_and_no_hmac_with_a_public_key() {
        let token = sign_hmac(b"shared-secret-of-32-bytes-or-more!", &json!({"x": 1}));
        let parsed = CompactJws::parse(&token).unwrap();
        assert!(parsed.verify_hmac(b"shared-secret-of-32-bytes-or-more!"));
        assert!(!parsed.verify_hmac(b"another secret"));
        let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        assert!(!parsed.verify(key.public_jwk()));
    }

    #[test]
    fn oversized_and_malformed_tokens() {
        assert!(CompactJws::parse(&"a".repeat(20_000)).is_err());
        assert!(CompactJws::parse("a.b").is_err());
        assert!(CompactJws::parse("a.b.c.d").is_err());
        assert!(CompactJws::parse("!!.e30.").is_err());
    }
}
