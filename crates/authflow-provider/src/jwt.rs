//! Signing: the Ed25519 key for RFC 9068 access tokens, and the RSA key for OpenID
//! Connect ID tokens (RS256, which OIDC Discovery §3 makes mandatory).
//!
//! Signing is done here directly with aws-lc-rs on a key pair parsed once:
//! `jsonwebtoken::encode` parses the PKCS#8 document again on every call, which costs
//! about as much as the signature itself and halves token throughput. Verification goes
//! through `jsonwebtoken::decode`.

use std::fmt;
use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Why a signing key could not be made or loaded.
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
    /// The content is not a PEM `PRIVATE KEY` or DER PKCS#8 Ed25519 key.
    #[error("not an Ed25519 private key in PKCS#8 (PEM `BEGIN PRIVATE KEY` or DER): {0}")]
    Format(&'static str),
    /// Key generation failed.
    #[error("cannot generate an Ed25519 key")]
    Generate,
    /// The content is not an RSA private key (for ID tokens).
    #[error(
        "not an RSA private key of 2048 to 8192 bits (PEM `BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`, or DER): {0}"
    )]
    RsaFormat(&'static str),
    /// RSA key generation failed.
    #[error("cannot generate an RSA key")]
    GenerateRsa,
}

/// The DER inside the first PEM block labelled `label`.
fn pem_body(pem: &str, label: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, &'static str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or("no `BEGIN` line")? + begin.len();
    let len = pem[start..].find(&end).ok_or("no `END` line")?;
    let body: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(
        pem[start..start + len]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
    );
    STANDARD
        .decode(body.as_bytes())
        .map(zeroize::Zeroizing::new)
        .map_err(|_| "the PEM body is not base64")
}

fn read_key_file(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>, KeyError> {
    std::fs::read(path)
        .map(zeroize::Zeroizing::new)
        .map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })
}

/// The provider's Ed25519 signing key (JWS `EdDSA`). `Debug` never shows the private key.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    decoding: DecodingKey,
    kid: String,
    x: String,
    access_header: String,
}

impl SigningKey {
    /// A fresh key, for a provider whose tokens need not survive a restart.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::generate().map_err(|_| KeyError::Generate)?;
        Ok(Self::from_pair(pair))
    }

    /// A fresh key as a PKCS#8 document, to keep (a shared store keeps it).
    #[cfg(feature = "redis")]
    pub(crate) fn generate_pkcs8() -> Result<zeroize::Zeroizing<Vec<u8>>, KeyError> {
        let doc =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Generate)?;
        Ok(zeroize::Zeroizing::new(doc.as_ref().to_vec()))
    }

    /// A key from a PKCS#8 DER document (v1, as `openssl genpkey -algorithm ed25519`
    /// writes, or v2).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|_| KeyError::Format("the PKCS#8 document is not an Ed25519 key"))?;
        Ok(Self::from_pair(pair))
    }

    /// A key from PEM text (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_body(pem, "PRIVATE KEY").map_err(KeyError::Format)?;
        Self::from_pkcs8_der(&der)
    }

    /// A key from a file holding PEM or DER PKCS#8.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let bytes = read_key_file(path)?;
        match std::str::from_utf8(&bytes) {
            Ok(text) if text.contains("-----BEGIN") => Self::from_pem(text),
            _ => Self::from_pkcs8_der(&bytes),
        }
    }

    fn from_pair(pair: Ed25519KeyPair) -> Self {
        let public = pair.public_key().as_ref().to_vec();
        let x = URL_SAFE_NO_PAD.encode(&public);
        // RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
        let thumb_input = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(crate::hashing::sha256(thumb_input.as_bytes()));
        let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid});
        Self {
            decoding: DecodingKey::from_ed_der(&public),
            access_header: URL_SAFE_NO_PAD.encode(header.to_string()),
            pair,
            kid,
            x,
        }
    }

    /// The key id (`kid`): the RFC 7638 JWK thumbprint.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (RFC 8037), for `/jwks`.
    pub fn public_jwk(&self) -> serde_json::Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.x,
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    /// The key for `jsonwebtoken::decode`.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// Signs an RFC 9068 access token (`typ: at+jwt`).
    pub(crate) fn sign_access_token(&self, claims: &AccessClaims<'_>) -> Result<String, SignError> {
        jws(&self.access_header, claims, |input| {
            Ok(self.pair.sign(input))
        })
    }

    /// Verifies an access token: signature, `typ`, `iss`, `aud` (one of `audiences`),
    /// `exp` (no leeway). With `allow_expired`, an expired token still verifies (for
    /// revocation).
    pub(crate) fn verify_access_token(
        &self,
        token: &str,
        issuer: &str,
        audiences: &[impl ToString],
        allow_expired: bool,
    ) -> Option<VerifiedClaims> {
        let mut v = Validation::new(Algorithm::EdDSA);
        v.leeway = 0;
        v.validate_exp = !allow_expired;
        v.set_issuer(&[issuer]);
        v.set_audience(audiences);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<VerifiedClaims>(token, &self.decoding, &v).ok()?;
        if data.header.typ.as_deref() != Some("at+jwt") {
            return None;
        }
        Some(data.claims)
    }
}

/// Why a token could not be signed.
#[derive(Debug)]
pub(crate) struct SignError;

impl From<serde_json::Error> for SignError {
    fn from(_: serde_json::Error) -> Self {
        SignError
    }
}

/// A compact JWS: `header.claims.signature`, `sign` given the signing input.
fn jws<S: AsRef<[u8]>>(
    header: &str,
    claims: &impl Serialize,
    sign: impl FnOnce(&[u8]) -> Result<S, SignError>,
) -> Result<String, SignError> {
    let json = serde_json::to_vec(claims)?;
    let mut out = String::with_capacity(header.len() + json.len() * 4 / 3 + 400);
    out.push_str(header);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&json, &mut out);
    let sig = sign(out.as_bytes())?;
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(sig.as_ref(), &mut out);
    Ok(out)
}

/// The provider's RSA key for ID tokens (JWS `RS256`). `Debug` never shows the private
/// key. Generating one (2048 bits) takes a noticeable fraction of a second; a provider
/// does it once, when it is built without a key given.
pub struct IdTokenKey {
    pair: RsaKeyPair,
    kid: String,
    n: String,
    e: String,
    header: String,
}

impl IdTokenKey {
    /// A fresh 2048-bit key.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::GenerateRsa)?;
        Ok(Self::from_pair(pair))
    }

    /// A fresh 2048-bit key as a PKCS#8 document, to keep (a shared store keeps it).
    #[cfg(feature = "redis")]
    pub(crate) fn generate_pkcs8() -> Result<zeroize::Zeroizing<Vec<u8>>, KeyError> {
        use aws_lc_rs::encoding::AsDer as _;
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::GenerateRsa)?;
        let der = pair.as_der().map_err(|_| KeyError::GenerateRsa)?;
        Ok(zeroize::Zeroizing::new(der.as_ref().to_vec()))
    }

    /// A key from DER: PKCS#8 (`openssl genpkey -algorithm rsa`) or PKCS#1.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = RsaKeyPair::from_pkcs8(der)
            .or_else(|_| RsaKeyPair::from_der(der))
            .map_err(|_| KeyError::RsaFormat("the DER document is not a usable RSA key"))?;
        Ok(Self::from_pair(pair))
    }

    /// A key from PEM text (`BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let label = if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
            "RSA PRIVATE KEY"
        } else {
            "PRIVATE KEY"
        };
        let der = pem_body(pem, label).map_err(KeyError::RsaFormat)?;
        Self::from_der(&der)
    }

    /// A key from a file holding PEM or DER.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let bytes = read_key_file(path)?;
        match std::str::from_utf8(&bytes) {
            Ok(text) if text.contains("-----BEGIN") => Self::from_pem(text),
            _ => Self::from_der(&bytes),
        }
    }

    fn from_pair(pair: RsaKeyPair) -> Self {
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        // RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
        let thumb_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(crate::hashing::sha256(thumb_input.as_bytes()));
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
        Self {
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
            pair,
            kid,
            n,
            e,
        }
    }

    /// The key id (`kid`): the RFC 7638 JWK thumbprint.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (RFC 7518 §6.3), for `/jwks`.
    pub fn public_jwk(&self) -> serde_json::Value {
        json!({
            "kty": "RSA",
            "n": self.n,
            "e": self.e,
            "kid": self.kid,
            "alg": "RS256",
            "use": "sig",
        })
    }

    /// Signs an OpenID Connect ID token (`typ: JWT`, `alg: RS256`).
    pub(crate) fn sign_id_token(&self, claims: &IdClaims<'_>) -> Result<String, SignError> {
        jws(&self.header, claims, |input| {
            let mut sig = vec![0; self.pair.public_modulus_len()];
            self.pair
                .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input, &mut sig)
                .map_err(|_| SignError)?;
            Ok(sig)
        })
    }
}

impl fmt::Debug for IdTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenKey")
            .field("alg", &"RS256")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &"EdDSA")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The claims of an access token being issued (RFC 9068 §2.2).
#[derive(Debug, Serialize)]
pub(crate) struct AccessClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub client_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub scope: &'a str,
    pub exp: u64,
    pub iat: u64,
    pub jti: &'a str,
    /// The grant the token belongs to (revoking the grant revokes the token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// The DPoP key the token is bound to (RFC 9449 §6.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation<'a>>,
}

/// `cnf` of a DPoP-bound token: the RFC 7638 thumbprint of the key.
#[derive(Debug, Serialize)]
pub(crate) struct Confirmation<'a> {
    pub jkt: &'a str,
}

/// `cnf` of a verified token.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct VerifiedConfirmation {
    pub jkt: String,
}

/// The claims of a verified access token.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct VerifiedClaims {
    pub sub: String,
    pub client_id: String,
    #[serde(default)]
    pub scope: String,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
    #[serde(default)]
    pub jti: String,
    #[serde(default)]
    pub gid: Option<String>,
    #[serde(default)]
    pub auth_time: Option<u64>,
    #[serde(default)]
    pub cnf: Option<VerifiedConfirmation>,
    pub iss: String,
    pub aud: String,
}

/// The claims of an ID token (OpenID Connect Core §2).
#[derive(Debug, Serialize)]
pub(crate) struct IdClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub azp: &'a str,
    pub exp: u64,
    pub iat: u64,
    pub auth_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    pub at_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
}

/// `at_hash` for RS256 (OIDC Core §3.1.3.6): the left half of SHA-256 of the access
/// token, base64url.
pub(crate) fn at_hash(access_token: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn claims<'a>(exp: u64) -> AccessClaims<'a> {
        AccessClaims {
            iss: "http://127.0.0.1:1",
            sub: "alice",
            aud: "http://127.0.0.1:1",
            client_id: "c",
            scope: "api:read",
            exp,
            iat: 1,
            jti: "j",
            gid: None,
            auth_time: None,
            cnf: None,
        }
    }

    #[test]
    fn signs_what_jsonwebtoken_verifies() {
        let key = SigningKey::generate().unwrap();
        let now = crate::time::now();
        let t = key.sign_access_token(&claims(now + 60)).unwrap();
        let header = jsonwebtoken::decode_header(&t).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        let c = key
            .verify_access_token(&t, "http://127.0.0.1:1", &["http://127.0.0.1:1"], false)
            .unwrap();
        assert_eq!(c.sub, "alice");
        assert_eq!(c.scope, "api:read");
        assert!(
            key.verify_access_token(&t, "http://other", &["http://127.0.0.1:1"], false)
                .is_none()
        );
        let other = SigningKey::generate().unwrap();
        assert!(
            other
                .verify_access_token(&t, "http://127.0.0.1:1", &["http://127.0.0.1:1"], false)
                .is_none()
        );
    }

    #[test]
    fn expired_tokens_fail_unless_allowed() {
        let key = SigningKey::generate().unwrap();
        let t = key.sign_access_token(&claims(10)).unwrap();
        let (i, a) = ("http://127.0.0.1:1", &["http://127.0.0.1:1"]);
        assert!(key.verify_access_token(&t, i, a, false).is_none());
        assert!(key.verify_access_token(&t, i, a, true).is_some());
    }

    #[test]
    fn rs256_id_tokens_verify_with_the_published_jwk() {
        let key = IdTokenKey::generate().unwrap();
        let claims = IdClaims {
            iss: "http://127.0.0.1:1",
            sub: "alice",
            aud: "c",
            azp: "c",
            exp: crate::time::now() + 60,
            iat: 1,
            auth_time: 1,
            nonce: None,
            at_hash: at_hash("x"),
            name: None,
            email: None,
        };
        let t = key.sign_id_token(&claims).unwrap();
        let header = jsonwebtoken::decode_header(&t).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk()).unwrap();
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&["c"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &t,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &v,
        )
        .unwrap();
        assert_eq!(data.claims["sub"], "alice");
        assert!(!format!("{key:?}").contains(&key.n));
        assert!(IdTokenKey::from_pem("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n").is_err(), "an Ed25519 key is not an RSA key");
    }

    #[test]
    fn loads_openssl_pkcs8_pem() {
        // RFC 8410 §10.3, the PKCS#8 v1 form `openssl genpkey -algorithm ed25519` writes.
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        let key = SigningKey::from_pem(pem).unwrap();
        assert_eq!(key.public_jwk()["kty"], "OKP");
        assert!(!format!("{key:?}").contains("MC4C"));
        assert!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----")
                .is_err()
        );
        assert!(SigningKey::from_pkcs8_der(b"garbage").is_err());
    }
}
