//! [`JwsSigner`]: whatever signs a JWS, in this process or outside it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::{JwsAlgorithm, PublicJwk};

/// The future a [`JwsSigner`] returns.
pub type SignFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, SignError>> + Send + 'a>>;

/// Signs JWS signing input. Implement it to keep a `private_key_jwt` key in an HSM, a
/// cloud KMS or an agent: authflow never needs the private key itself.
/// [`SigningKey`](super::SigningKey) is the built-in one.
///
/// ```
/// use authflow::jose::{JwsAlgorithm, JwsSigner, PublicJwk, SignFuture, SigningKey};
///
/// /// A signer that delegates (here to an in-process key, standing in for a KMS call).
/// #[derive(Debug)]
/// struct Kms(SigningKey);
///
/// impl JwsSigner for Kms {
///     fn algorithm(&self) -> JwsAlgorithm { self.0.algorithm() }
///     fn key_id(&self) -> Option<&str> { Some("kms-key-1") }
///     fn public_jwk(&self) -> Option<&PublicJwk> { Some(self.0.public_jwk()) }
///     fn sign<'a>(&'a self, input: &'a [u8]) -> SignFuture<'a> {
///         Box::pin(async move { self.0.sign_now(input) })
///     }
/// }
/// ```
pub trait JwsSigner: Send + Sync + fmt::Debug {
    /// The `alg` of the signatures.
    fn algorithm(&self) -> JwsAlgorithm;

    /// The `kid` to put in the header, if any.
    fn key_id(&self) -> Option<&str> {
        None
    }

    /// The public key, where it may be shown (DPoP puts it in every proof).
    fn public_jwk(&self) -> Option<&PublicJwk> {
        None
    }

    /// Signs `input` (the JWS signing input, `header.payload`). Returns the raw signature
    /// (for ECDSA the fixed-width `r || s` of RFC 7518 §3.4).
    fn sign<'a>(&'a self, input: &'a [u8]) -> SignFuture<'a>;
}

/// A signer failed. The message must not hold key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(String);

impl SignError {
    /// An error with a message (never key material).
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}
