//! The client layer's error.

use crate::protocol::discovery::DiscoveryError;
use crate::protocol::{BuildError, OAuthError, ResponseError};
use crate::types::InvalidValue;

use super::http::HttpError;

/// What went wrong talking to an authorization server.
///
/// Holds no secret and no response body. Use the predicates to decide what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request did not get a response (network, TLS, timeout, size cap).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The server answered with an OAuth error (RFC 6749 §5.2), fields intact.
    #[error("{endpoint}: {error}")]
    OAuth {
        /// The endpoint that answered (no query).
        endpoint: String,
        /// The server's error.
        error: OAuthError,
    },
    /// The server's answer was not a valid response for this endpoint.
    #[error("{endpoint} sent an invalid response: {source}")]
    Response {
        /// The endpoint that answered (no query).
        endpoint: String,
        /// What was wrong.
        #[source]
        source: ResponseError,
    },
    /// Discovery failed (document unreachable, invalid, or for another issuer).
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// The request could not be built from the values given.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A URL was refused: plain http to a non-loopback host, or otherwise invalid.
    #[error(transparent)]
    InvalidValue(#[from] InvalidValue),
    /// An ID token (or the userinfo that goes with it) failed validation.
    #[error(transparent)]
    IdToken(crate::protocol::id_token::IdTokenError),
    /// The redirect was refused (state, `iss`, or an `error=` from the server).
    #[error(transparent)]
    Callback(crate::protocol::CallbackError),
    /// The client lacks something the operation needs (e.g. no revocation endpoint).
    #[error("{0}")]
    Config(String),
}

impl Error {
    pub(crate) fn from_response(endpoint: &str, e: ResponseError) -> Self {
        match e {
            ResponseError::OAuth(error) => Self::OAuth {
                endpoint: endpoint.to_owned(),
                error,
            },
            source => Self::Response {
                endpoint: endpoint.to_owned(),
                source,
            },
        }
    }

    /// The server's OAuth error, if that is what this is.
    pub fn oauth(&self) -> Option<&OAuthError> {
        match self {
            Self::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether the server said `invalid_grant`: the code or refresh token is dead, so the
    /// user must log in again.
    pub fn is_invalid_grant(&self) -> bool {
        self.oauth().is_some_and(|e| e.is("invalid_grant"))
    }

    /// Whether the server rejected the client's authentication.
    pub fn is_invalid_client(&self) -> bool {
        self.oauth().is_some_and(|e| e.is("invalid_client"))
    }

    /// Whether this is a network-level failure (no usable answer from the server).
    pub fn is_network(&self) -> bool {
        matches!(self, Self::Http(_))
    }

    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Http(HttpError::Timeout { .. }))
    }

    /// Whether a later retry may succeed (timeouts, refused connections, 5xx answers).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Http(e) => e.is_transient(),
            Self::Response {
                source: ResponseError::Status { status, .. },
                ..
            } => status.is_server_error(),
            Self::OAuth { error, .. } => {
                error.status.is_server_error() || error.is("temporarily_unavailable")
            }
            _ => false,
        }
    }
}
