//! Public JWKs (RFC 7517): parsing, RFC 7638 thumbprints, signature verification.

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::{JwsAlgorithm, b64, unb64};

/// A public key as a JWK: EC P-256, OKP Ed25519 or RSA. Other members (`kid`, `use`,
/// `alg`) are read separately where they matter.
///
/// ```
/// use authflow::jose::PublicJwk;
/// // RFC 7638 §3.1's example key and thumbprint.
/// let jwk: PublicJwk = serde_json::from_str(r#"{"kty":"RSA","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#).unwrap();
/// assert_eq!(jwk.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kty")]
#[non_exhaustive]
pub enum PublicJwk {
    /// An elliptic-curve key (`kty: EC`).
    #[serde(rename = "EC")]
    Ec {
        /// The curve: only `P-256` verifies.
        crv: String,
        /// The x coordinate, base64url.
        x: String,
        /// The y coordinate, base64url.
        y: String,
    },
    /// An octet key pair (`kty: OKP`, RFC 8037).
    #[serde(rename = "OKP")]
    Okp {
        /// The curve: only `Ed25519` verifies.
        crv: String,
        /// The public key, base64url.
        x: String,
    },
    /// An RSA key (`kty: RSA`).
    #[serde(rename = "RSA")]
    Rsa {
        /// The modulus, base64url.
        n: String,
        /// The exponent, base64url.
        e: String,
    },
}

/// Why a JWK cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    /// Not a JSON object with a supported `kty` and its members.
    #[error("not a public JWK of type EC (P-256), OKP (Ed25519) or RSA")]
    Unsupported,
    /// The object carries private key members.
    #[error(
        "the JWK holds private key material (`d`, `p`, `q`, ...); only public keys may be sent"
    )]
    Private,
}

/// Members that only a private JWK has (RFC 7518 §6.2.2, §6.3.2; RFC 7517 §4 `k`).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

impl PublicJwk {
    /// Reads a public JWK from a JSON object, refusing one that carries private members.
    pub fn from_object(object: &Map<String, Value>) -> Result<Self, JwkError> {
        if PRIVATE_MEMBERS.iter().any(|m| object.contains_key(*m)) {
            return Err(JwkError::Private);
        }
        serde_json::from_value(Value::Object(object.clone())).map_err(|_| JwkError::Unsupported)
    }

    /// The JWK SHA-256 thumbprint (RFC 7638), base64url: DPoP's `jkt`.
    pub fn thumbprint(&self) -> String {
        // The required members in lexicographic order, no white space (RFC 7638 §3.2).
        // serde_json escapes strings the way §3.3 asks.
        let canonical = match self {
            Self::Ec { crv, x, y } => {
                serde_json::json!({"crv": crv, "kty": "EC", "x": x, "y": y})
            }
            Self::Okp { crv, x } => serde_json::json!({"crv": crv, "kty": "OKP", "x": x}),
            Self::Rsa { n, e } => serde_json::json!({"e": e, "kty": "RSA", "n": n}),
        };
        // serde_json's default map keeps keys sorted, which is the order §3.2 needs.
        b64(Sha256::digest(canonical.to_string().as_bytes()))
    }

    /// Whether `alg` is meant for this key type.
    pub fn fits(&self, alg: JwsAlgorithm) -> bool {
        match self {
            Self::Ec { crv, .. } => alg == JwsAlgorithm::ES256 && crv == "P-256",
            Self::Okp { crv, .. } => {
                matches!(alg, JwsAlgorithm::EdDSA | JwsAlgorithm::Ed25519) && crv == "Ed25519"
            }
            Self::Rsa { .. } => matches!(alg, JwsAlgorithm::RS256 | JwsAlgorithm::PS256),
        }
    }

    /// Verifies `signature` over `input` with this key and `alg`. Any mismatch of key
    /// type, curve or encoding is a failed verification, never a panic.
    pub fn verify(&self, alg: JwsAlgorithm, input: &[u8], signature: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        match self {
            Self::Ec { x, y, .. } => {
                let (Some(x), Some(y)) = (unb64(x), unb64(y)) else {
                    return false;
                };
                if x.len() != 32 || y.len() != 32 {
                    return false;
                }
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(input, signature)
                    .is_ok()
            }
            Self::Okp { x, .. } => {
                let Some(x) = unb64(x).filter(|x| x.len() == 32) else {
                    return false;
                };
                UnparsedPublicKey::new(&signature::ED25519, x)
                    .verify(input, signature)
                    .is_ok()
            }
            Self::Rsa { n, e } => {
                let (Some(n), Some(e)) = (unb64(n), unb64(e)) else {
                    return false;
                };
                let params = match alg {
                    JwsAlgorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    _ => &signature::RSA_PSS_2048_8192_SHA256,
                };
                signature::RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(params, input, signature)
                    .is_ok()
            }
        }
    }

    /// The JWK as a JSON object, with `kid`, `alg` and `use` added when given: for a
    /// client's published JWKS.
    pub fn to_object(&self, kid: Option<&str>, alg: Option<JwsAlgorithm>) -> Map<String, Value> {
        let mut m = match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if let Some(kid) = kid {
            m.insert("kid".into(), kid.into());
        }
        if let Some(alg) = alg {
            m.insert("alg".into(), alg.as_str().into());
        }
        m.insert("use".into(), "sig".into());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_members_are_refused() {
        let obj = serde_json::json!({"kty":"OKP","crv":"Ed25519","x":"abc","d":"secret"});
        let Value::Object(m) = obj else {
            unreachable!()
        };
        assert_eq!(PublicJwk::from_object(&m), Err(JwkError::Private));
    }

    #[test]
    fn unknown_key_types_are_refused() {
        let obj = serde_json::json!({"kty":"oct","x":"abc"});
        let Value::Object(m) = obj else {
            unreachable!()
        };
        assert_eq!(PublicJwk::from_object(&m), Err(JwkError::Unsupported));
    }

    #[test]
    fn wrong_algorithm_for_the_key_never_verifies() {
        let jwk = PublicJwk::Okp {
            crv: "Ed25519".into(),
            x: b64([0u8; 32]),
        };
        assert!(!jwk.verify(JwsAlgorithm::ES256, b"x", &[0; 64]));
        assert!(!jwk.verify(JwsAlgorithm::HS256, b"x", &[0; 64]));
        let bad_curve = PublicJwk::Ec {
            crv: "P-384".into(),
            x: b64([1u8; 32]),
            y: b64([1u8; 32]),
        };
        assert!(!bad_curve.verify(JwsAlgorithm::ES256, b"x", &[0; 64]));
    }
}
