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
    AccessToken, AuthorizationCode, ClientSecret, CsrfState, DeviceCode, IdToken, Nonce,
    PkceVerifier, RefreshToken,
};
pub use url::{EndpointUrl, IssuerUrl, RedirectUri, ResourceIndicator, is_loopback_url};

/// Whether every byte is a `VSCHAR` (RFC 6749 Appendix A: `%x20-7E`).
pub(crate) fn is_vschar(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}
