//! The sans-IO protocol core.
//!
//! Functions here build [`http::Request`] values and parse [`http::Response`] values; they
//! never touch a socket, a clock or a file. Time comes in as an argument and randomness
//! through [`RandomSource`](crate::random::RandomSource), so every rule is a plain unit test.

pub mod access_token;
pub mod as_discovery;
pub mod audit;
pub mod authorization;
mod body;
pub mod callback;
pub mod client_assertion;
pub mod client_auth;
pub mod client_id_metadata;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod error;
mod form;
pub mod id_token;
pub mod introspection;
mod jws;
pub mod par;
pub mod registration;
pub mod request_object;
pub mod resource_metadata;
pub mod revocation;
pub mod token_request;
pub mod token_response;
pub mod userinfo;
pub mod www_authenticate;

pub use authorization::{AuthorizationParameters, AuthorizationRequest, PendingAuthorization};
pub use body::MAX_RESPONSE_BYTES;
pub use callback::CallbackError;
pub use client_auth::{ClientAuthentication, Credentials};
pub use discovery::{DiscoveryError, ServerMetadata};
pub use error::{OAuthError, OAuthErrorCode, ResponseError};
pub use introspection::IntrospectionResponse;
pub use revocation::TokenTypeHint;
pub use token_request::{Grant, TokenRequest};
pub use token_response::{TokenResponse, TokenType};
pub use www_authenticate::{BearerError, Challenge};

/// An error building a request from values that are valid on their own but do not fit
/// together, or that `http` refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The URL cannot be used as an HTTP request target.
    #[error("{url} cannot be used as a request URL: {reason}")]
    Url {
        /// The URL (endpoints are never secret).
        url: String,
        /// Why.
        reason: String,
    },
    /// An extra parameter would repeat or override one the protocol sets.
    #[error("parameter `{0}` is set by authflow itself and cannot be added as an extra parameter")]
    Parameter(String),
    /// A header value was refused.
    #[error("invalid value for header `{0}`")]
    Header(&'static str),
    /// A JWT client authentication method reached a request builder unsigned: the client
    /// layer signs an assertion first (`Credentials::with_assertion`).
    #[error("`{0}` needs a signed client assertion before the request is built")]
    Unsigned(&'static str),
}

/// A GET with `Accept: application/json`, for the client layer's own documents (JWKS).
pub(crate) fn form_get_json(url: &url::Url) -> Result<http::Request<Vec<u8>>, BuildError> {
    form::get_json(url)
}

/// A JSON object body, with the usual size cap and OAuth error detection.
pub(crate) fn body_json(
    resp: &http::Response<bytes::Bytes>,
) -> Result<serde_json::Map<String, serde_json::Value>, ResponseError> {
    body::read_fields(resp, body::Formats::Json)
}
