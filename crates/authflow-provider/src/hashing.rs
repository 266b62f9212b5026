//! Secrets at rest: SHA-256 digests of high-entropy secrets (client secrets, tokens),
//! salted PBKDF2 for user passwords, all compared in constant time; fresh opaque tokens.

use std::num::NonZeroU32;
use std::sync::OnceLock;

use aws_lc_rs::pbkdf2;

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

/// PBKDF2-HMAC-SHA256 iterations for user passwords. Lower than a production server
/// would use (OWASP says 600,000): this is a development provider whose users are
/// declared in its configuration, and every build hashes each of them once.
const PBKDF2_ITERATIONS: NonZeroU32 = match NonZeroU32::new(100_000) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// A user's password at rest: PBKDF2-HMAC-SHA256 with a random per-user salt.
#[derive(Clone)]
pub(crate) struct PasswordHash {
    salt: [u8; 16],
    hash: [u8; 32],
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(PBKDF2-HMAC-SHA256, ..)")
    }
}

impl PasswordHash {
    /// Hashes `password` with a fresh salt.
    pub(crate) fn new(password: &str) -> Self {
        let mut salt = [0u8; 16];
        OsRandom.fill(&mut salt);
        let mut hash = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            PBKDF2_ITERATIONS,
            &salt,
            password.as_bytes(),
            &mut hash,
        );
        Self { salt, hash }
    }

    /// Whether `password` is the one hashed, compared in constant time.
    pub(crate) fn matches(&self, password: &str) -> bool {
        let mut derived = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            PBKDF2_ITERATIONS,
            &self.salt,
            password.as_bytes(),
            &mut derived,
        );
        let ok = derived.ct_eq(&self.hash).into();
        derived.zeroize();
        ok
    }

    /// A hash no password matches in practice, to check against when the user is
    /// unknown, so that the answer takes as long as for a known user.
    pub(crate) fn unknown_user() -> &'static Self {
        static DUMMY: OnceLock<PasswordHash> = OnceLock::new();
        DUMMY.get_or_init(|| PasswordHash::new(&random_token()))
    }
}

/// A fresh opaque token: 256 bits from the OS CSPRNG, base64url without padding.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRandom.fill(&mut bytes);
    let s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    bytes.zeroize();
    s
}

/// `bytes` as base64url without padding (digests in store keys).
pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What [`b64`] wrote.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

/// Whether `id` could be one of [`random_id`]'s: 22 base64url characters. Ids from
/// forms are checked before they reach a store.
pub(crate) fn is_random_id(id: &str) -> bool {
    id.len() == 22
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
    fn passwords_are_salted_and_checked() {
        let a = PasswordHash::new("pw");
        let b = PasswordHash::new("pw");
        assert_ne!(a.salt, b.salt);
        assert_ne!(
            a.hash, b.hash,
            "same password, different salt, different hash"
        );
        assert_ne!(a.hash, sha256(b"pw"));
        assert!(a.matches("pw") && b.matches("pw"));
        assert!(!a.matches("pw ") && !a.matches(""));
        assert!(!PasswordHash::unknown_user().matches("pw"));
        assert!(!format!("{a:?}").contains("salt"));
    }

    #[test]
    fn tokens_are_distinct_and_long() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert_eq!(random_id().len(), 22);
        assert!(is_random_id(&random_id()));
        assert!(!is_random_id("short"));
        assert!(
            !is_random_id(&format!("{}:", "a".repeat(21))),
            "not base64url"
        );
        let d = sha256(b"x");
        assert_eq!(unb64(&b64(&d)).as_deref(), Some(&d[..]));
    }
}
