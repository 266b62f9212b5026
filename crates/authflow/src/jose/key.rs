//! [`SigningKey`]: the key pairs authflow creates and holds itself (ES256, EdDSA).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::{JwsAlgorithm, JwsSigner, PublicJwk, SignError, SignFuture, b64};

/// Why a key could not be made, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The content is not a usable private key.
    #[error(
        "not a P-256 (ES256) or Ed25519 (EdDSA) private key in PKCS#8 (PEM `BEGIN PRIVATE KEY`): {0}"
    )]
    Format(&'static str),
    /// Key generation failed.
    #[error("cannot generate a {0} key")]
    Generate(JwsAlgorithm),
    /// The algorithm has no built-in key type.
    #[error("authflow makes ES256 and EdDSA keys; {0} needs a key of your own (a `JwsSigner`)")]
    Unsupported(JwsAlgorithm),
}

enum Pair {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

struct Inner {
    pair: Pair,
    alg: JwsAlgorithm,
    jwk: PublicJwk,
    jkt: String,
    kid: Option<String>,
    /// The PKCS#8 document, kept for persistence.
    pkcs8: Zeroizing<Vec<u8>>,
}

/// A private key that authflow generated or loaded: ES256 (P-256) or EdDSA (Ed25519).
///
/// Cheap to clone. `Debug` shows the algorithm and the public key's thumbprint, never
/// the private key. It serializes (for token stores, where a DPoP key lives with the
/// tokens it is bound to) as `{"alg": ..., "pkcs8": base64url}`.
///
/// ```
/// use authflow::jose::{JwsAlgorithm, SigningKey};
/// let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
/// let pem = key.to_pkcs8_pem();
/// let again = SigningKey::from_pkcs8_pem(&pem).unwrap();
/// assert_eq!(key.thumbprint(), again.thumbprint());
/// assert!(!format!("{key:?}").contains(pem.as_str()));
/// ```
#[derive(Clone)]
pub struct SigningKey(Arc<Inner>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.0.alg)
            .field("jkt", &self.0.jkt)
            .finish_non_exhaustive()
    }
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.jkt == other.0.jkt && self.0.alg == other.0.alg
    }
}

impl Eq for SigningKey {}

impl SigningKey {
    /// A new key pair from the operating system's generator.
    pub fn generate(alg: JwsAlgorithm) -> Result<Self, KeyError> {
        let pkcs8 = match alg {
            JwsAlgorithm::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|p| p.to_pkcs8v1())
                .map_err(|_| KeyError::Generate(alg))?,
            JwsAlgorithm::EdDSA | JwsAlgorithm::Ed25519 => {
                Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                    .map_err(|_| KeyError::Generate(alg))?
            }
            other => return Err(KeyError::Unsupported(other)),
        };
        Self::from_pkcs8_der(pkcs8.as_ref())
    }

    /// A key from a PKCS#8 DER document (P-256 or Ed25519).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let (pair, alg) =
            if let Ok(p) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
                (Pair::Es256(p), JwsAlgorithm::ES256)
            } else if let Ok(p) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
                (Pair::EdDsa(p), JwsAlgorithm::EdDSA)
            } else {
                return Err(KeyError::Format(
                    "neither a P-256 nor an Ed25519 PKCS#8 key",
                ));
            };
        let jwk = match &pair {
            Pair::Es256(p) => {
                // An uncompressed point: 0x04, then x and y (32 bytes each).
                let point = p.public_key().as_ref();
                if point.len() != 65 {
                    return Err(KeyError::Format("unexpected P-256 public key encoding"));
                }
                PublicJwk::Ec {
                    crv: "P-256".into(),
                    x: b64(&point[1..33]),
                    y: b64(&point[33..65]),
                }
            }
            Pair::EdDsa(p) => PublicJwk::Okp {
                crv: "Ed25519".into(),
                x: b64(p.public_key().as_ref()),
            },
        };
        // Keep a canonical v1 document for persistence whatever form came in.
        let pkcs8 = match &pair {
            Pair::Es256(p) => p.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
            Pair::EdDsa(p) => p.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| KeyError::Format("the key cannot be re-encoded"))?;
        let jkt = jwk.thumbprint();
        Ok(Self(Arc::new(Inner {
            pair,
            alg,
            jwk,
            jkt,
            kid: None,
            pkcs8: Zeroizing::new(pkcs8),
        })))
    }

    /// A key from a PEM `PRIVATE KEY` block (PKCS#8), as `openssl genpkey` writes.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_body(pem, "PRIVATE KEY").map_err(KeyError::Format)?;
        Self::from_pkcs8_der(&der)
    }

    /// Reads a PEM key file (`--client-key FILE`).
    pub fn load_pem_file(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|source| KeyError::Read {
                path: path.display().to_string(),
                source,
            })?;
        Self::from_pkcs8_pem(&text)
    }

    /// The same key with a `kid`, sent in JWS headers (for `private_key_jwt`, where the
    /// server picks the key from the client's JWKS).
    #[must_use]
    pub fn with_key_id(&self, kid: impl Into<String>) -> Self {
        let pkcs8 = self.0.pkcs8.clone();
        match Self::from_pkcs8_der(&pkcs8) {
            Ok(k) => {
                let mut inner = match Arc::try_unwrap(k.0) {
                    Ok(inner) => inner,
                    Err(_) => return self.clone(),
                };
                inner.kid = Some(kid.into());
                Self(Arc::new(inner))
            }
            Err(_) => self.clone(),
        }
    }

    /// The PKCS#8 PEM text (a secret: write it only to a 0600 file).
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*self.0.pkcs8));
        let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END PRIVATE KEY-----\n");
        Zeroizing::new(out)
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.0.alg
    }

    /// The public key.
    pub fn public_jwk(&self) -> &PublicJwk {
        &self.0.jwk
    }

    /// The RFC 7638 thumbprint of the public key (DPoP's `jkt`).
    pub fn thumbprint(&self) -> &str {
        &self.0.jkt
    }

    /// The `kid`, when one was set.
    pub fn key_id(&self) -> Option<&str> {
        self.0.kid.as_deref()
    }

    /// Signs at once (no future): the built-in keys never wait.
    pub fn sign_now(&self, input: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.0.pair {
            Pair::Es256(p) => p
                .sign(&SystemRandom::new(), input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError::new("ECDSA signing failed")),
            Pair::EdDsa(p) => Ok(p.sign(input).as_ref().to_vec()),
        }
    }

    /// The public key as SubjectPublicKeyInfo DER, for tools that want it.
    pub fn public_key_der(&self) -> Option<Vec<u8>> {
        match &self.0.pair {
            Pair::Es256(p) => p.public_key().as_der().ok().map(|d| d.as_ref().to_vec()),
            Pair::EdDsa(p) => p.public_key().as_der().ok().map(|d| d.as_ref().to_vec()),
        }
    }
}

impl JwsSigner for SigningKey {
    fn algorithm(&self) -> JwsAlgorithm {
        self.0.alg
    }

    fn key_id(&self) -> Option<&str> {
        self.0.kid.as_deref()
    }

    fn public_jwk(&self) -> Option<&PublicJwk> {
        Some(&self.0.jwk)
    }

    fn sign<'a>(&'a self, input: &'a [u8]) -> SignFuture<'a> {
        let out = self.sign_now(input);
        Box::pin(std::future::ready(out))
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    alg: String,
    pkcs8: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
}

impl Serialize for SigningKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let pkcs8 = Zeroizing::new(b64(&*self.0.pkcs8));
        Stored {
            alg: self.0.alg.as_str().into(),
            pkcs8: pkcs8.to_string(),
            kid: self.0.kid.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for SigningKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let stored = Stored::deserialize(d)?;
        let der = Zeroizing::new(
            super::unb64(&stored.pkcs8).ok_or_else(|| D::Error::custom("key is not base64url"))?,
        );
        let key = Self::from_pkcs8_der(&der).map_err(D::Error::custom)?;
        if key.algorithm().as_str() != stored.alg {
            return Err(D::Error::custom(
                "stored key algorithm does not match the key",
            ));
        }
        Ok(match stored.kid {
            Some(kid) => key.with_key_id(kid),
            None => key,
        })
    }
}

/// The DER inside the first PEM block labelled `label`.
fn pem_body(pem: &str, label: &str) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or("no `BEGIN PRIVATE KEY` line")? + begin.len();
    let len = pem[start..].find(&end).ok_or("no `END PRIVATE KEY` line")?;
    let body: Zeroizing<String> = Zeroizing::new(
        pem[start..start + len]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
    );
    base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| "the PEM body is not base64")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_algorithms_sign_and_verify() {
        for alg in [JwsAlgorithm::ES256, JwsAlgorithm::EdDSA] {
            let key = SigningKey::generate(alg).unwrap();
            let sig = key.sign_now(b"input").unwrap();
            assert!(key.public_jwk().verify(alg, b"input", &sig), "{alg}");
            assert!(!key.public_jwk().verify(alg, b"other", &sig), "{alg}");
        }
    }

    #[test]
    fn serde_round_trip_keeps_the_key_and_kid() {
        let key = SigningKey::generate(JwsAlgorithm::EdDSA)
            .unwrap()
            .with_key_id("k1");
        let json = serde_json::to_string(&key).unwrap();
        let back: SigningKey = serde_json::from_str(&json).unwrap();
        assert_eq!(back.thumbprint(), key.thumbprint());
        assert_eq!(back.key_id(), Some("k1"));
        let sig = back.sign_now(b"m").unwrap();
        assert!(key.public_jwk().verify(JwsAlgorithm::EdDSA, b"m", &sig));
    }

    #[test]
    fn garbage_is_a_format_error_without_echo() {
        let err = SigningKey::from_pkcs8_pem(
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(matches!(err, KeyError::Format(_)));
        assert!(!err.to_string().contains("c2VjcmV0"));
        assert!(matches!(
            SigningKey::generate(JwsAlgorithm::RS256),
            Err(KeyError::Unsupported(_))
        ));
    }

    #[test]
    fn rejects_a_mismatched_stored_algorithm() {
        let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        let mut v = serde_json::to_value(&key).unwrap();
        v["alg"] = "EdDSA".into();
        assert!(serde_json::from_value::<SigningKey>(v).is_err());
    }
}
