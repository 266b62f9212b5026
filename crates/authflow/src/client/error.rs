//! The client layer's error.

use std::fmt;

use crate::jose::SignError;
use crate::protocol::discovery::DiscoveryError;
use crate::protocol::error::OAuthErrorCode;
use crate::protocol::id_token::IdTokenError;
use crate::protocol::{BuildError, CallbackError, OAuthError, ResponseError};
use crate::types::InvalidValue;

use super::http::HttpError;

/// What went wrong talking to an authorization server, or finishing a login.
///
/// Holds no secret and no response body. Match on the variants, or use the predicates
/// ([`is_network`](Self::is_network), [`is_config`](Self::is_config),
/// [`is_login_refused`](Self::is_login_refused), ...) to decide what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request did not get a response (network, TLS, timeout, size cap).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The server answered with an OAuth error (RFC 6749 §5.2), fields intact; its typed
    /// code is [`OAuthError::code`].
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
    /// A metadata document was found but is wrong (another issuer, an http endpoint).
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// Neither metadata document (RFC 8414, OpenID Connect Discovery) could be read.
    #[error(
        "no usable metadata for issuer {issuer}; check the issuer URL ({})",
        tried.join("; ")
    )]
    NoMetadata {
        /// The issuer asked.
        issuer: String,
        /// Each URL tried and why it did not do.
        tried: Vec<String>,
    },
    /// The request could not be built from the values given.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A URL was refused: plain http to a non-loopback host, or otherwise invalid.
    #[error(transparent)]
    InvalidValue(#[from] InvalidValue),
    /// The client has no endpoint of this kind (not configured, not in the metadata).
    #[error("{}", missing_endpoint(*.0))]
    MissingEndpoint(EndpointKind),
    /// The client was built without an HTTP client and the `reqwest` feature is off.
    #[error(
        "no HTTP client: enable the `reqwest` feature or call `OAuthClientBuilder::http_client`"
    )]
    NoHttpClient,
    /// The issuer is unknown, so ID tokens cannot be checked.
    #[error(
        "the issuer is unknown; build the client by discovery (or set its issuer) to check ID tokens"
    )]
    UnknownIssuer,
    /// The client's credentials could not be obtained: for callers that load a secret or
    /// a key only when a request needs it (a prompt, a command, a key file).
    #[error("the client credentials are not available: {reason}")]
    Credentials {
        /// What is missing or wrong (never the secret).
        reason: String,
    },
    /// Something the client signs could not be signed.
    #[error("cannot sign the {what}: {source}; check the key")]
    Sign {
        /// `client assertion`, `DPoP proof` or `request object`.
        what: &'static str,
        /// The signer's error (never key material).
        #[source]
        source: SignError,
    },
    /// The redirect was refused: `state`, `iss` (RFC 9207), path, or an `error=` from the
    /// server (such as `access_denied`).
    #[error(transparent)]
    Callback(CallbackError),
    /// The login is being finished at another issuer than the one it started at.
    #[error(
        "this login was started at `{started_at}` but is being finished at `{finishing_at}` (mix-up); start again"
    )]
    MixUp {
        /// The issuer the authorization request went to.
        started_at: String,
        /// The issuer of the client finishing it.
        finishing_at: String,
    },
    /// The login is being finished by another client than the one that started it.
    #[error(
        "this login was started by client `{started_by}` but is being finished by client `{finishing_by}`; finish it with the client that started it"
    )]
    ClientMismatch {
        /// The client that started the login.
        started_by: String,
        /// The client finishing it.
        finishing_by: String,
    },
    /// An ID token (or the userinfo that goes with it) failed validation.
    #[error(transparent)]
    IdToken(IdTokenError),
    /// `openid` was requested but the token response carries no ID token.
    #[error(
        "the provider sent no ID token although `openid` was requested; check that this client may use `openid` at the provider"
    )]
    MissingIdToken,
    /// The device code expired before the user approved (RFC 8628 `expired_token`, or
    /// its lifetime ran out while polling).
    #[error("the device code expired before the login was approved; start again{}", server_words(.error.as_ref()))]
    DeviceExpired {
        /// The server's `expired_token` error, when it sent one.
        error: Option<OAuthError>,
    },
    /// The user (or the server) declined the device login (RFC 8628 `access_denied`).
    #[error("the device login was declined at the authorization server; start again if that was a mistake{}", server_words(Some(.error)))]
    DeviceDenied {
        /// The server's `access_denied` error, fields intact.
        error: OAuthError,
    },
}

/// An endpoint a client may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndpointKind {
    /// The authorization endpoint.
    Authorization,
    /// The token endpoint.
    Token,
    /// The revocation endpoint (RFC 7009).
    Revocation,
    /// The introspection endpoint (RFC 7662).
    Introspection,
    /// The OpenID Connect userinfo endpoint.
    Userinfo,
    /// The device authorization endpoint (RFC 8628).
    DeviceAuthorization,
    /// The JWKS document.
    Jwks,
    /// The pushed authorization request endpoint (RFC 9126).
    PushedAuthorization,
}

impl EndpointKind {
    /// The endpoint's name in the server's metadata (RFC 8414).
    pub fn metadata_name(self) -> &'static str {
        match self {
            Self::Authorization => "authorization_endpoint",
            Self::Token => "token_endpoint",
            Self::Revocation => "revocation_endpoint",
            Self::Introspection => "introspection_endpoint",
            Self::Userinfo => "userinfo_endpoint",
            Self::DeviceAuthorization => "device_authorization_endpoint",
            Self::Jwks => "jwks_uri",
            Self::PushedAuthorization => "pushed_authorization_request_endpoint",
        }
    }
}

impl fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metadata_name())
    }
}

fn missing_endpoint(kind: EndpointKind) -> String {
    let name = kind.metadata_name();
    let consequence = match kind {
        EndpointKind::Authorization | EndpointKind::Token => {
            return format!(
                "no `{name}`: configure one or build the client by discovery from the issuer"
            );
        }
        EndpointKind::Revocation => "tokens can only be forgotten locally",
        EndpointKind::Introspection => "tokens cannot be introspected (RFC 7662)",
        EndpointKind::Userinfo => "userinfo cannot be fetched",
        EndpointKind::DeviceAuthorization => "the device flow (RFC 8628) is not available",
        EndpointKind::Jwks => {
            "ID tokens cannot be verified, and an unverified ID token is never accepted"
        }
        EndpointKind::PushedAuthorization => {
            "pushed authorization requests (RFC 9126) are required or asked for but cannot be sent"
        }
    };
    format!("the server announces no `{name}`: {consequence}")
}

fn server_words(error: Option<&OAuthError>) -> String {
    match error {
        Some(e) => format!(" ({e})"),
        None => String::new(),
    }
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

    /// The server's OAuth error, if the server sent one (at any endpoint, including the
    /// `expired_token` and `access_denied` that end a device flow).
    pub fn oauth(&self) -> Option<&OAuthError> {
        match self {
            Self::OAuth { error, .. } | Self::DeviceDenied { error } => Some(error),
            Self::DeviceExpired { error } => error.as_ref(),
            _ => None,
        }
    }

    /// The typed code of the server's OAuth error, if it sent one.
    pub fn oauth_code(&self) -> Option<OAuthErrorCode> {
        self.oauth().map(OAuthError::code)
    }

    /// Whether the server said `invalid_grant`: the code or refresh token is dead, so the
    /// user must log in again.
    pub fn is_invalid_grant(&self) -> bool {
        self.oauth_code() == Some(OAuthErrorCode::InvalidGrant)
    }

    /// Whether the server rejected the client's authentication.
    pub fn is_invalid_client(&self) -> bool {
        self.oauth_code() == Some(OAuthErrorCode::InvalidClient)
    }

    /// Whether this is a network-level failure (no usable answer from the server).
    pub fn is_network(&self) -> bool {
        matches!(self, Self::Http(_))
    }

    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Http(HttpError::Timeout { .. }))
    }

    /// Whether the client's configuration is at fault (issuer, metadata, endpoints,
    /// credentials, keys, URLs): retrying the same thing cannot help.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            Self::Discovery(_)
                | Self::NoMetadata { .. }
                | Self::InvalidValue(_)
                | Self::MissingEndpoint(_)
                | Self::NoHttpClient
                | Self::UnknownIssuer
                | Self::Credentials { .. }
                | Self::Sign { .. }
        )
    }

    /// Whether a login was refused: the redirect failed its checks (`state`, `iss`,
    /// mix-up) or carried an error, the ID token failed verification or is missing, or
    /// the device flow expired or was declined.
    pub fn is_login_refused(&self) -> bool {
        matches!(
            self,
            Self::Callback(_)
                | Self::MixUp { .. }
                | Self::ClientMismatch { .. }
                | Self::IdToken(_)
                | Self::MissingIdToken
                | Self::DeviceExpired { .. }
                | Self::DeviceDenied { .. }
        )
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
                error.status.is_server_error()
                    || error.code() == OAuthErrorCode::TemporarilyUnavailable
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    fn oauth(code: &str) -> Error {
        Error::OAuth {
            endpoint: "https://as.example/token".into(),
            error: OAuthError::new(StatusCode::BAD_REQUEST, code),
        }
    }

    #[test]
    fn predicates_follow_the_typed_code() {
        assert!(oauth("invalid_grant").is_invalid_grant());
        assert!(oauth("invalid_client").is_invalid_client());
        assert!(!oauth("invalid_client").is_invalid_grant());
        assert_eq!(
            oauth("slow_down").oauth_code(),
            Some(OAuthErrorCode::SlowDown)
        );
        assert!(oauth("temporarily_unavailable").is_transient());
        assert!(!oauth("invalid_grant").is_transient());
    }

    #[test]
    fn device_outcomes_keep_the_server_error_and_say_what_to_do() {
        let denied = Error::DeviceDenied {
            error: OAuthError::new(StatusCode::BAD_REQUEST, "access_denied")
                .with_description("the user denied access"),
        };
        assert_eq!(denied.oauth_code(), Some(OAuthErrorCode::AccessDenied));
        assert_eq!(
            denied.oauth().map(|e| e.error.as_str()),
            Some("access_denied")
        );
        let text = denied.to_string();
        assert!(
            text.contains("declined") && text.contains("the user denied access"),
            "{text}"
        );
        let expired = Error::DeviceExpired { error: None };
        assert!(expired.to_string().contains("start again"));
        assert_eq!(expired.oauth(), None);
        assert!(denied.is_login_refused() && expired.is_login_refused());
        assert!(!denied.is_config());
    }

    #[test]
    fn missing_endpoints_name_the_metadata_field() {
        let e = Error::MissingEndpoint(EndpointKind::Jwks);
        assert!(e.is_config());
        let text = e.to_string();
        assert!(
            text.contains("`jwks_uri`") && text.contains("never accepted"),
            "{text}"
        );
        let text = Error::MissingEndpoint(EndpointKind::Token).to_string();
        assert!(
            text.contains("`token_endpoint`") && text.contains("discovery"),
            "{text}"
        );
    }

    #[test]
    fn refusals_and_configuration_are_told_apart() {
        let mix_up = Error::MixUp {
            started_at: "https://a.example".into(),
            finishing_at: "https://b.example".into(),
        };
        assert!(mix_up.is_login_refused() && !mix_up.is_config());
        assert!(mix_up.to_string().contains("mix-up"));
        assert!(Error::MissingIdToken.is_login_refused());
        assert!(Error::Callback(CallbackError::StateMismatch).is_login_refused());
        assert!(Error::UnknownIssuer.is_config());
        assert!(
            Error::Credentials {
                reason: "no secret".into()
            }
            .is_config()
        );
        assert!(!oauth("access_denied").is_login_refused());
    }
}
