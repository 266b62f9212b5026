//! Errors the protocol layer finds in a server's response.

use std::fmt;

use http::StatusCode;
use serde_json::{Map, Value};

/// An OAuth error response from the server (RFC 6749 §5.2, §4.1.2.1; RFC 7009 §2.2.1).
///
/// The fields are what the server sent, intact. Descriptions come from the server, not from
/// the body that may hold tokens, and are shown as the server's words.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthError {
    /// The HTTP status the error came with (some servers use 200).
    pub status: StatusCode,
    /// The `error` code, e.g. `invalid_grant`.
    pub error: String,
    /// `error_description`, when sent.
    pub error_description: Option<String>,
    /// `error_uri`, when sent.
    pub error_uri: Option<String>,
}

impl OAuthError {
    /// Builds an error value (for servers and tests; clients get these from parsers).
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            error_description: None,
            error_uri: None,
        }
    }

    /// Sets `error_description`.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.error_description = Some(description.into());
        self
    }

    /// Whether the `error` code is `code`.
    pub fn is(&self, code: &str) -> bool {
        self.error == code
    }

    /// Reads `error`, `error_description`, `error_uri` from a parsed body, if `error` is there.
    pub(crate) fn from_fields(status: StatusCode, fields: &Map<String, Value>) -> Option<Self> {
        let error = text_field(fields.get("error")?)?;
        Some(Self {
            status,
            error,
            error_description: fields.get("error_description").and_then(text_field),
            error_uri: fields.get("error_uri").and_then(text_field),
        })
    }

    /// A hint for well-known codes: what the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self.error.as_str() {
            "invalid_client" => {
                "check the client id and its credentials (secret or key), and that the client authentication method is the one registered (basic, post, private_key_jwt, client_secret_jwt)"
            }
            "invalid_grant" => {
                "the code or refresh token is invalid, expired, already used or was issued to another client or redirect URI; log in again"
            }
            "invalid_scope" => "ask only for scopes the client is allowed to request",
            "unauthorized_client" => "this client is not allowed to use this grant type",
            "unsupported_grant_type" => "the server does not support this grant type",
            "access_denied" => "the user or the server declined the request",
            "invalid_token" => "the access token is invalid or expired; refresh it or log in again",
            "insufficient_scope" => "the token lacks a scope this request needs",
            "invalid_dpop_proof" => {
                "the server refused the DPoP proof (key, algorithm, clock or URL); check the system clock"
            }
            "invalid_request_object" => {
                "the server refused the signed request object: check the client key registered there and its algorithm"
            }
            _ => return None,
        })
    }
}

/// A string field or, leniently, a number or bool rendered as text.
fn text_field(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Keeps server text printable and bounded so that it is safe on a terminal. Only for
/// display: the struct's fields stay as the server sent them.
fn clean(s: &str, max_chars: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    if s.chars().count() > max_chars {
        out.push('…');
    }
    out
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the server answered `{}`", clean(&self.error, 100))?;
        if self.status != StatusCode::OK {
            write!(f, " (HTTP {})", self.status.as_u16())?;
        }
        if let Some(d) = &self.error_description {
            write!(f, ": {}", clean(d, 1000))?;
        }
        if let Some(u) = &self.error_uri {
            write!(f, " (see {})", clean(u, 1000))?;
        }
        if let Some(h) = self.hint() {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for OAuthError {}

/// What was wrong with a server's response.
///
/// Never holds the response body: it may carry tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The server sent an OAuth error.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// The body was larger than the cap.
    #[error("the response body is larger than {limit} bytes; refusing to read it")]
    TooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// A non-success status without an OAuth error in the body.
    #[error("the server answered HTTP {status} without an OAuth error in the body{}", content_type_note(.content_type))]
    Status {
        /// The status.
        status: StatusCode,
        /// The response's content type, if any: helps tell a proxy's HTML page from an API.
        content_type: Option<String>,
    },
    /// A success status with a body in a format this endpoint never uses.
    #[error("the response has content type `{content_type}`; expected JSON")]
    ContentType {
        /// The content type received.
        content_type: String,
    },
    /// The body could not be parsed.
    #[error("the response body is not valid {format}: {detail}")]
    Malformed {
        /// `JSON`, `form data`, ...
        format: &'static str,
        /// Where and what (never the body's content).
        detail: String,
    },
    /// A required field was missing.
    #[error("the response has no `{0}` field")]
    MissingField(&'static str),
    /// A field had a value of the wrong form.
    #[error("the response's `{field}` field is invalid: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What was wrong (never the value).
        reason: String,
    },
}

fn content_type_note(ct: &Option<String>) -> String {
    match ct {
        Some(ct) => format!(" (content type `{ct}`)"),
        None => String::new(),
    }
}

impl ResponseError {
    /// The OAuth error, when the server sent one.
    pub fn oauth(&self) -> Option<&OAuthError> {
        match self {
            Self::OAuth(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_keeps_fields_intact() {
        let mut fields = Map::new();
        fields.insert("error".into(), "invalid_grant".into());
        fields.insert("error_description".into(), "code expired".into());
        fields.insert("error_uri".into(), "https://as.example/e".into());
        let e = OAuthError::from_fields(StatusCode::BAD_REQUEST, &fields).unwrap();
        assert_eq!(e.error, "invalid_grant");
        assert_eq!(e.error_description.as_deref(), Some("code expired"));
        assert_eq!(e.error_uri.as_deref(), Some("https://as.example/e"));
        let s = e.to_string();
        assert!(s.starts_with("the server answered `invalid_grant` (HTTP 400): code expired (see https://as.example/e)"), "{s}");
    }

    #[test]
    fn control_characters_are_neutralised() {
        let mut fields = Map::new();
        fields.insert("error".into(), "x\u{1b}[31m".into());
        let e = OAuthError::from_fields(StatusCode::OK, &fields).unwrap();
        assert_eq!(e.error, "x\u{1b}[31m", "fields stay intact");
        assert!(!e.to_string().contains('\u{1b}'), "display is neutralised");
    }
}
