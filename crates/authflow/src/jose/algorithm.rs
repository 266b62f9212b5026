//! The JWS algorithms authflow signs and verifies with.

use std::fmt;
use std::str::FromStr;

/// A JWS `alg` (RFC 7518 §3, RFC 8037 §3.1). `none` is not one: it is never accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwsAlgorithm {
    /// ECDSA on P-256 with SHA-256: the usual DPoP and `private_key_jwt` choice.
    ES256,
    /// Ed25519 (RFC 8037), under its original name.
    EdDSA,
    /// Ed25519 under its fully-specified name (RFC 9864), which replaces `EdDSA`; the same
    /// keys and signatures. authflow signs as `EdDSA` (what deployed servers know) and
    /// accepts both.
    Ed25519,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (verification and external signers).
    RS256,
    /// RSASSA-PSS with SHA-256 (verification and external signers).
    PS256,
    /// HMAC with SHA-256: only for `client_secret_jwt`, never for proofs.
    HS256,
}

impl JwsAlgorithm {
    /// The registered name, as in a JWS header and in server metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
            Self::Ed25519 => "Ed25519",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::HS256 => "HS256",
        }
    }

    /// Whether two names mean the same signatures (`EdDSA` and `Ed25519`): a list that
    /// accepts one accepts the other.
    pub fn same_as(self, other: Self) -> bool {
        let norm = |a: Self| if a == Self::Ed25519 { Self::EdDSA } else { a };
        norm(self) == norm(other)
    }

    /// Whether the algorithm uses a public key (everything but HMAC).
    pub fn is_asymmetric(self) -> bool {
        !matches!(self, Self::HS256)
    }
}

impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JwsAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "ES256" => Self::ES256,
            "EdDSA" => Self::EdDSA,
            "Ed25519" => Self::Ed25519,
            "RS256" => Self::RS256,
            "PS256" => Self::PS256,
            "HS256" => Self::HS256,
            other => {
                return Err(format!(
                    "unsupported JWS algorithm `{}` (supported: ES256, EdDSA, Ed25519, RS256, PS256, HS256)",
                    other.chars().take(20).collect::<String>()
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_none_is_refused() {
        for a in [
            JwsAlgorithm::ES256,
            JwsAlgorithm::EdDSA,
            JwsAlgorithm::Ed25519,
            JwsAlgorithm::RS256,
            JwsAlgorithm::PS256,
            JwsAlgorithm::HS256,
        ] {
            assert_eq!(a.as_str().parse::<JwsAlgorithm>(), Ok(a));
        }
        assert!("none".parse::<JwsAlgorithm>().is_err());
        assert!(
            "es256".parse::<JwsAlgorithm>().is_err(),
            "names are case-sensitive"
        );
    }
}
