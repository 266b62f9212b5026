//! Secrets at rest: SHA-256 digests compared in constant time, and fresh opaque tokens.

use authflow::random::{OsRandom, RandomSource};
use base64::Engine as _;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroize as _;

/// A SHA-256 digest; what the store keeps instead of a secret.
pub(crate) type Digest = [u8; 32];

/// SHA-256 of `value`.
pub(crate) fn sha256(value: &[u8]) -> Digest {
    sha2::Sha256::digest(value).into()
}

/// Whether `presented` hashes to `stored`, compared in constant time.
pub(crate) fn matches(presented: &str, stored: &Digest) -> bool {
    sha256(presented.as_bytes()).ct_eq(stored).into()
}

/// A fresh opaque token: 256 bits from the OS CSPRNG, base64url without padding.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRandom.fill(&mut bytes);
    let s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    bytes.zeroize();
    s
}

/// A short random identifier (128 bits) for `jti` and grant ids; not a secret.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    OsRandom.fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_same_secret() {
        let d = sha256(b"s3cret");
        assert!(matches("s3cret", &d));
        assert!(!matches("s3cre", &d));
        assert!(!matches("s3cret ", &d));
    }

    #[test]
    fn tokens_are_distinct_and_long() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert_eq!(random_id().len(), 22);
    }
}
