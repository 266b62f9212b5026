//! Why a request was refused, as an RFC 6750 challenge.

use axum_core::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::protocol::www_authenticate::Challenge;
use crate::types::Scope;

/// A refused request. Its response carries the `WWW-Authenticate: Bearer` challenge of
/// RFC 6750 §3 and a small JSON body with the same error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No bearer token (or another scheme): 401 with a bare challenge (§3.1).
    #[error("no bearer token")]
    Missing,
    /// A malformed request (several tokens, token in two places): 400 `invalid_request`.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Expired, revoked, malformed or for another resource: 401 `invalid_token`.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// Valid, but missing a scope: 403 `insufficient_scope` naming it.
    #[error("insufficient scope: needs `{0}`")]
    InsufficientScope(Scope),
    /// The token could not be checked (JWKS or introspection unreachable): 503.
    #[error("the token cannot be checked right now: {0}")]
    Unavailable(String),
}

impl Rejection {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Missing | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The RFC 6750 error code, if this rejection has one.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::Missing | Self::Unavailable(_) => None,
            Self::InvalidRequest(_) => Some("invalid_request"),
            Self::InvalidToken(_) => Some("invalid_token"),
            Self::InsufficientScope(_) => Some("insufficient_scope"),
        }
    }

    /// The `WWW-Authenticate` challenge for `realm` (and RFC 9728 `resource_metadata`).
    pub fn challenge(&self, realm: &str, resource_metadata: Option<&str>) -> Option<Challenge> {
        let mut c = Challenge::new("Bearer")
            .ok()?
            .with_param("realm", realm)
            .ok()?;
        if let Some(code) = self.error_code() {
            c = c.with_param("error", code).ok()?;
            let description = match self {
                Self::InvalidRequest(d) | Self::InvalidToken(d) => d.clone(),
                Self::InsufficientScope(_) => "the token lacks a scope this request needs".into(),
                _ => String::new(),
            };
            c = c.with_param("error_description", &description).ok()?;
        }
        if let Self::InsufficientScope(s) = self {
            c = c.with_param("scope", &s.to_string()).ok()?;
        }
        if let Some(m) = resource_metadata {
            c = c.with_param("resource_metadata", m).ok()?;
        }
        Some(c)
    }

    /// The full response, with the challenge for `realm`.
    pub fn to_response(&self, realm: &str, resource_metadata: Option<&str>) -> Response {
        let mut body = serde_json::Map::new();
        if let Some(code) = self.error_code() {
            body.insert("error".into(), code.into());
        }
        if let Self::InsufficientScope(s) = self {
            body.insert("scope".into(), s.to_string().into());
        }
        let mut resp = (
            self.status(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            serde_json::Value::Object(body).to_string(),
        )
            .into_response();
        if self.status() != StatusCode::SERVICE_UNAVAILABLE
            && let Some(v) = self
                .challenge(realm, resource_metadata)
                .and_then(|c| c.to_header_value().ok())
        {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.to_response("api", None)
    }
}
