//! Random opaque values and their constant-time comparison.

use authflow::random::{OsRandom, RandomSource};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// 256 random bits, URL-safe base64.
pub(crate) fn random_token() -> String {
    let mut buf = [0u8; 32];
    OsRandom.fill(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Whether `given` equals `expected`, in time independent of where they differ.
pub(crate) fn tokens_match(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_and_compare_exactly() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert!(tokens_match(&a, &a));
        assert!(!tokens_match("", ""));
        assert!(!tokens_match(&a[..42], &a));
    }
}
