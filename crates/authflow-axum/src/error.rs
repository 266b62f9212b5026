//! Errors: setting up [`Auth`](crate::Auth), and what can go wrong in the routes.

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::page::error_page;

/// Why [`AuthBuilder::build`](crate::AuthBuilder::build) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// Discovery or the client configuration failed.
    #[error(transparent)]
    Client(#[from] authflow::client::Error),
    /// A setting is invalid.
    #[error("authflow-axum configuration: {0}")]
    Config(String),
    /// The session storage could not be reached (e.g. Redis). Never carries its URL.
    #[error("authflow-axum session storage: {0}")]
    Storage(String),
}

/// Why a sign-in or sign-out request was refused. Shown to the browser as a small page;
/// never carries a token, a code, `state` or a session id.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The callback came to a browser with no sign-in in progress (another browser's
    /// callback, a replayed one, or one that took too long).
    #[error(
        "no sign-in is in progress in this browser (it was finished already, took too long, or was started elsewhere); start again"
    )]
    NoLoginInProgress,
    /// The redirect was refused: wrong `state`, wrong `iss`, or an error from the server.
    #[error(transparent)]
    Callback(#[from] authflow::protocol::CallbackError),
    /// Finishing the sign-in failed: the code exchange, the ID token check (see
    /// [`authflow::client`]'s rules for finishing a login), or the client's setup.
    #[error("the sign-in could not be completed: {0}")]
    Client(#[from] authflow::client::Error),
    /// The logout form did not carry this session's CSRF token.
    #[error("the sign-out request did not come from this site's form; nothing was changed")]
    Csrf,
    /// A state-changing request came from another origin.
    #[error("requests from another site are refused")]
    CrossOrigin,
    /// The session layer is missing or its store failed.
    #[error("session storage: {0}")]
    Session(String),
}

impl AuthError {
    /// The HTTP status this error is shown with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoLoginInProgress | Self::Callback(_) => StatusCode::BAD_REQUEST,
            Self::Csrf | Self::CrossOrigin => StatusCode::FORBIDDEN,
            Self::Client(e) if e.is_transient() => StatusCode::BAD_GATEWAY,
            // The application's client setup, not the browser's request, is at fault.
            Self::Client(e) if e.is_config() => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Client(_) => StatusCode::BAD_REQUEST,
            Self::Session(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<tower_sessions::session::Error> for AuthError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Session(e.to_string())
    }
}

impl From<tower_sessions::session_store::Error> for AuthError {
    fn from(e: tower_sessions::session_store::Error) -> Self {
        Self::Session(e.to_string())
    }
}

impl From<authflow::session::StoreError> for AuthError {
    fn from(e: authflow::session::StoreError) -> Self {
        Self::Session(e.to_string())
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        tracing::info!(error = %self, "sign-in request refused");
        error_page(self.status(), &self.to_string(), "/login")
    }
}

#[cfg(test)]
mod tests {
    use authflow::client::{EndpointKind, Error as ClientError, HttpError};

    use super::*;

    #[test]
    fn statuses_say_whose_fault_it_is() {
        let status = |e: ClientError| AuthError::Client(e).status();
        assert_eq!(
            status(ClientError::MissingEndpoint(EndpointKind::Jwks)),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(ClientError::MixUp {
                started_at: "https://a.example".into(),
                finishing_at: "https://b.example".into(),
            }),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(status(ClientError::MissingIdToken), StatusCode::BAD_REQUEST);
        assert_eq!(
            status(ClientError::Http(HttpError::Timeout {
                url: "https://as.example/token".into()
            })),
            StatusCode::BAD_GATEWAY
        );
    }
}
