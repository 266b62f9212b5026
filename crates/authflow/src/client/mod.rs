//! The async layer: sends the protocol's requests through an [`HttpClient`].
//!
//! # Finishing a login
//!
//! [`OAuthClient::complete_login`] (a redirect URL), [`OAuthClient::complete_login_code`]
//! (a code whose redirect was already checked) and [`OAuthClient::complete_login_response`]
//! (tokens that came without a redirect, as in the device flow) apply one rule set, in
//! this order:
//!
//! 1. The redirect is checked against the flow that started it: path, `state` (constant
//!    time), `iss` (RFC 9207: required when the metadata announces it, always equal to
//!    the issuer when present), then `error=` or `code` ([`Error::Callback`]).
//! 2. The login finishes at the issuer and with the client that started it
//!    ([`Error::MixUp`], [`Error::ClientMismatch`]).
//! 3. The code is exchanged with the PKCE verifier and the same redirect URI.
//! 4. An ID token that comes back is always verified: signature against the issuer's
//!    JWKS (refetched once on an unknown key), `iss`, `aud`, `azp`, `exp`, `iat`, the
//!    `nonce` that was sent, and `at_hash` when present ([`Error::IdToken`]). An issuer
//!    without `jwks_uri` is an error ([`Error::MissingEndpoint`] with
//!    [`EndpointKind::Jwks`]), never a reason to skip the check.
//! 5. When `openid` was requested, an ID token is required ([`Error::MissingIdToken`]).
//! 6. The result, a [`Login`](crate::session::Login), holds the [`TokenSet`](crate::session::TokenSet) (granted
//!    scope defaulting to the requested one, bound to the client's DPoP key when it has
//!    one) and the verified claims.

mod device;
mod error;
mod http;
mod oauth_client;
mod oidc;
#[cfg(feature = "reqwest")]
mod reqwest_client;
mod resource_discovery;

pub use error::{EndpointKind, Error};
pub use http::{BoxFuture, HttpClient, HttpError};
pub use oauth_client::{Endpoints, OAuthClient, OAuthClientBuilder, ensure_secure_url};
#[cfg(feature = "reqwest")]
pub(crate) use reqwest_client::copy_request;
#[cfg(feature = "reqwest-middleware")]
pub(crate) use reqwest_client::into_http_response;
#[cfg(feature = "reqwest")]
pub use reqwest_client::{ReqwestClient, ReqwestClientBuilder};
pub use resource_discovery::{
    DiscoveredResource, ResourceAuthorization, ResourceDiscoveryError, ResourceDiscoveryOptions,
    delete_client_registration, discover_authorization_server, discover_for_resource,
    discover_resource, read_client_registration, register_client, select_authorization_server,
};
