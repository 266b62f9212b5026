//! Newtypes for every value with meaning in OAuth 2.0.
//!
//! Constructors validate and return [`Result`]; nothing here panics on input.
//! Secret-bearing types never print their value: see [`secret`].

mod error;
mod ids;
mod scope;
pub mod secret;
mod url;

pub use error::InvalidValue;
pub use ids::ClientId;
pub use scope::{Scope, ScopeToken};
pub use secret::{
    AccessToken, Assertion, AuthorizationCode, ClientSecret, CsrfState, DeviceCode, IdToken, Nonce,
    PkceVerifier, RefreshToken,
};
pub use url::{EndpointUrl, IssuerUrl, RedirectUri, ResourceIndicator, is_loopback_url};

/// Whether every byte is a `VSCHAR` (RFC 6749 Appendix A: `%x20-7E`).
pub(crate) fn is_vschar(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Whether every byte is an `NQCHAR` (RFC 6749 Appendix A: `%x21 / %x23-5B / %x5D-7E`),
/// as DPoP nonces must be (RFC 9449 §8.1).
pub fn is_nqchar(s: &str) -> bool {
    s.bytes()
        .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}
