//! Secret newtypes.
//!
//! Every type here:
//! - prints `Name(<redacted>)` for `Debug` and `<redacted>` for `Display`;
//! - hands out its value only through an explicit `.secret()`;
//! - compares in constant time (for equal lengths) and zeroizes its memory on drop;
//! - serializes to its plain value, so that stores and pending flows can persist it.
//!   Serializing is an explicit act; printing never is.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::{InvalidValue, is_vschar};
use crate::random::RandomSource;

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $validate:path) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps the value.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidValue> {
                let value = value.into();
                match $validate(&value) {
                    Ok(()) => Ok(Self(value)),
                    Err(reason) => {
                        let mut value = value;
                        value.zeroize();
                        Err(InvalidValue::new($kind, reason))
                    }
                }
            }

            /// The secret value. Call this only where the value must go on the wire or
            /// into a store.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<redacted>")
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
            }
        }

        impl Eq for $name {}

        impl Drop for $name {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn vschar(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        Err("must not be empty")
    } else if !is_vschar(value) {
        Err("must be printable ASCII (RFC 6749 Appendix A)")
    } else {
        Ok(())
    }
}

fn pkce_verifier(value: &str) -> Result<(), &'static str> {
    if !(43..=128).contains(&value.len()) {
        Err("must be 43 to 128 characters long (RFC 7636 §4.1)")
    } else if !value.bytes().all(is_unreserved) {
        Err("must use only unreserved characters A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)")
    } else {
        Ok(())
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

secret_type!(
    /// A client secret (RFC 6749 §2.3.1).
    ClientSecret, "client secret", vschar
);
secret_type!(
    /// An access token (RFC 6749 §1.4).
    AccessToken, "access token", vschar
);
secret_type!(
    /// A refresh token (RFC 6749 §1.5).
    RefreshToken, "refresh token", vschar
);
secret_type!(
    /// An authorization code (RFC 6749 §4.1.2).
    AuthorizationCode, "authorization code", vschar
);
secret_type!(
    /// An OpenID Connect ID token, as the compact JWT the server sent.
    IdToken, "ID token", vschar
);
secret_type!(
    /// The `state` value that binds an authorization response to the flow that asked for it.
    CsrfState, "state", vschar
);
secret_type!(
    /// An OpenID Connect `nonce`.
    Nonce, "nonce", vschar
);
secret_type!(
    /// A device code (RFC 8628 §3.2): what the client polls with.
    DeviceCode, "device code", vschar
);
secret_type!(
    /// A signed JWT used as a credential: a client assertion (RFC 7523 §2.2) or a
    /// JWT-bearer grant's assertion (§2.1).
    Assertion, "assertion", vschar
);
secret_type!(
    /// A PKCE code verifier (RFC 7636 §4.1): 43–128 unreserved characters.
    PkceVerifier, "PKCE code verifier", pkce_verifier
);

/// 32 random bytes, base64url without padding: 256 bits, 43 characters.
fn random_token(rng: &mut dyn RandomSource) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes);
    let s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    bytes.zeroize();
    s
}

/// 32 given random bytes as base64url without padding (43 characters).
fn token_from(bytes: &[u8; 32]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl CsrfState {
    /// A state value from 32 random bytes the caller drew (one draw can serve several
    /// values).
    pub(crate) fn from_random(bytes: &[u8; 32]) -> Self {
        Self(token_from(bytes))
    }

    /// A fresh state value with 256 bits of entropy (RFC 9700 §2.1 asks for at least 128).
    pub fn generate(rng: &mut dyn RandomSource) -> Self {
        Self(random_token(rng))
    }
}

impl Nonce {
    /// A nonce from 32 random bytes the caller drew.
    pub(crate) fn from_random(bytes: &[u8; 32]) -> Self {
        Self(token_from(bytes))
    }

    /// A fresh nonce with 256 bits of entropy.
    pub fn generate(rng: &mut dyn RandomSource) -> Self {
        Self(random_token(rng))
    }
}

impl PkceVerifier {
    /// A verifier from 32 random bytes the caller drew: 43 characters, 256 bits.
    pub(crate) fn from_random(bytes: &[u8; 32]) -> Self {
        Self(token_from(bytes))
    }

    /// A fresh verifier: 43 characters carrying 256 bits of entropy (RFC 7636 §4.1).
    pub fn generate(rng: &mut dyn RandomSource) -> Self {
        Self(random_token(rng))
    }

    /// The `S256` code challenge: `BASE64URL(SHA256(verifier))` (RFC 7636 §4.2).
    pub fn s256_challenge(&self) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(self.0.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let t = AccessToken::new("s3cr3t-value").unwrap();
        assert_eq!(format!("{t:?}"), "AccessToken(<redacted>)");
        assert_eq!(format!("{t}"), "<redacted>");
        assert_eq!(t.secret(), "s3cr3t-value");
        let c = ClientSecret::new("p@ss:word%+").unwrap();
        assert!(!format!("{c:?}{c}").contains("p@ss"));
    }

    #[test]
    fn constructor_errors_never_show_the_value() {
        let err = RefreshToken::new("bad\nvalue-xyz").unwrap_err();
        assert!(!err.to_string().contains("value-xyz"), "{err}");
        assert!(AccessToken::new("").is_err());
    }

    #[test]
    fn equality_compares_values() {
        assert_eq!(
            CsrfState::new("abc").unwrap(),
            CsrfState::new("abc").unwrap()
        );
        assert_ne!(
            CsrfState::new("abc").unwrap(),
            CsrfState::new("abd").unwrap()
        );
        assert_ne!(
            CsrfState::new("abc").unwrap(),
            CsrfState::new("abcd").unwrap()
        );
    }

    #[test]
    fn serde_round_trip_keeps_value_and_validates() {
        let t = RefreshToken::new("r1").unwrap();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"r1\"");
        let back: RefreshToken = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        assert!(serde_json::from_str::<RefreshToken>("\"\"").is_err());
    }

    #[test]
    fn pkce_verifier_rules() {
        assert!(PkceVerifier::new("a".repeat(42)).is_err());
        assert!(PkceVerifier::new("a".repeat(43)).is_ok());
        assert!(PkceVerifier::new("a".repeat(128)).is_ok());
        assert!(PkceVerifier::new("a".repeat(129)).is_err());
        assert!(PkceVerifier::new(format!("{}+", "a".repeat(43))).is_err());
        let v = PkceVerifier::generate(&mut OsRandom);
        assert_eq!(v.secret().len(), 43);
        assert!(PkceVerifier::new(v.secret()).is_ok());
    }

    #[test]
    fn s256_challenge_matches_rfc7636_appendix_b() {
        let v = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        assert_eq!(
            v.s256_challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn generated_states_are_distinct_and_long_enough() {
        let a = CsrfState::generate(&mut OsRandom);
        let b = CsrfState::generate(&mut OsRandom);
        assert_ne!(a, b);
        assert!(
            a.secret().len() >= 22,
            "128 bits need at least 22 base64 chars"
        );
    }
}
