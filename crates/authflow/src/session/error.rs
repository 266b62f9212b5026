use std::sync::Arc;

use super::store::StoreError;
use crate::client::Error as ClientError;

/// Why a session could not hand out a token. Cheap to clone: every task waiting on one
/// refresh receives the same error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// There is no usable grant: the user must log in (again).
    #[error("{0}; log in again")]
    LoginRequired(String),
    /// The token request failed.
    #[error(transparent)]
    Client(Arc<ClientError>),
    /// The store failed.
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// A bug or a runtime shutting down.
    #[error("{0}")]
    Internal(String),
}

impl From<ClientError> for SessionError {
    fn from(e: ClientError) -> Self {
        if let Some(o) = e.oauth().filter(|o| o.is("invalid_grant")) {
            let why = o.error_description.as_deref().unwrap_or("invalid_grant");
            let why: String = why.chars().filter(|c| !c.is_control()).take(300).collect();
            return Self::LoginRequired(format!("the server refused the refresh token ({why})"));
        }
        Self::Client(Arc::new(e))
    }
}

impl From<StoreError> for SessionError {
    fn from(e: StoreError) -> Self {
        Self::Store(Arc::new(e))
    }
}

impl SessionError {
    /// Whether the user has to log in again.
    pub fn is_login_required(&self) -> bool {
        matches!(self, Self::LoginRequired(_))
    }

    /// Whether a retry later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Client(e) if e.is_transient())
    }

    /// The client error, if that is the cause.
    pub fn client_error(&self) -> Option<&ClientError> {
        match self {
            Self::Client(e) => Some(e),
            _ => None,
        }
    }
}
