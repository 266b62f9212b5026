//! Randomness as a small trait, so that protocol code stays deterministic under test.

/// A source of cryptographically secure random bytes.
pub trait RandomSource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// A thread-local CSPRNG in user space (`rand`'s ChaCha12, seeded and periodically
/// reseeded from the operating system): as secure as [`OsRandom`] for state, PKCE and
/// nonces, without a system call per value. The better choice for servers that start many
/// flows.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadRandom;

impl RandomSource for ThreadRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        rand::Rng::fill_bytes(&mut rand::rng(), buf);
    }
}

/// The operating system's CSPRNG (`getrandom`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // The OS generator failing means the platform is unusable for security work;
        // continuing with predictable state or PKCE values would be worse than stopping.
        #[allow(clippy::expect_used)]
        getrandom::fill(buf).expect("the operating system's random number generator failed");
    }
}
