//! # authflow
//!
//! OAuth 2.0 done right: the Authorization Code grant with PKCE and everything around it.
//!
//! The crate has layers, lowest first:
//! - [`types`]: validated newtypes; secrets never print.
//! - [`protocol`]: the sans-IO core: builds `http::Request`s, parses `http::Response`s.
//! - [`client`]: the async layer that sends those requests through an [`client::HttpClient`]
//!   (reqwest with rustls by default).
//! - [`session`]: token sets and the stores that keep them.
//! - [`flow`]: what needs a person: the loopback redirect listener and the browser.
//!
//! The main types are also at the crate root: [`OAuthClient`], [`Error`], [`Login`],
//! [`TokenSet`], [`AuthorizedClient`], [`ServerMetadata`], the secret newtypes
//! ([`ClientSecret`], [`AccessToken`], [`RefreshToken`], ...), and more.
//!
//! ```no_run
//! # async fn run() -> Result<(), authflow::Error> {
//! use authflow::{ClientId, Credentials, IssuerUrl, OAuthClient};
//!
//! let client = OAuthClient::builder(Credentials::public(ClientId::new("my-cli")?))
//!     .discover(&IssuerUrl::new("https://login.example")?)
//!     .await?;
//! # let _ = client; Ok(()) }
//! ```

pub mod client;
#[cfg(feature = "flow")]
pub mod flow;
pub mod html;
pub mod jose;
pub mod protocol;
pub mod random;
#[cfg(feature = "resource")]
pub mod resource;
pub mod session;
pub mod types;

// The types most programs name, at the root (as reqwest does); the module paths stay.
#[cfg(feature = "reqwest")]
pub use client::ReqwestClient;
pub use client::{EndpointKind, Error, HttpClient, HttpError, OAuthClient, OAuthClientBuilder};
#[cfg(feature = "flow")]
pub use flow::{FlowError, LoopbackListener};
pub use protocol::discovery::ServerMetadata;
pub use protocol::error::{OAuthError, OAuthErrorCode};
pub use protocol::id_token::IdTokenClaims;
pub use protocol::{
    AuthorizationRequest, CallbackError, Credentials, PendingAuthorization, TokenResponse,
};
pub use session::{
    AuthorizedClient, AuthorizedError, Login, SessionError, TokenSet, TokenSource, TokenStore,
};
pub use types::{
    AccessToken, Assertion, AuthorizationCode, ClientId, ClientSecret, CsrfState, DeviceCode,
    IdToken, IssuerUrl, Nonce, PkceVerifier, RedirectUri, RefreshToken, Scope,
};

// The README's example compiles as a doc test, so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
