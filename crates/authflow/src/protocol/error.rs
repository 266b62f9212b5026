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

    /// The `error` code as a typed value; the `error` field keeps the server's string.
    ///
    /// ```
    /// use authflow::protocol::error::{OAuthError, OAuthErrorCode};
    /// use http::StatusCode;
    ///
    /// let e = OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant");
    /// assert_eq!(e.code(), OAuthErrorCode::InvalidGrant);
    /// assert_eq!(e.error, "invalid_grant");
    /// ```
    pub fn code(&self) -> OAuthErrorCode {
        OAuthErrorCode::parse(&self.error)
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
        self.code().hint()
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

/// The registered OAuth error codes (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009,
/// RFC 7591 §3.2.2, RFC 8628 §3.5, RFC 8707, RFC 9101, RFC 9126, RFC 9396, RFC 9449,
/// RFC 9470, OpenID Connect Core §3.1.2.6), and [`Other`](Self::Other) for the rest.
///
/// [`parse`](Self::parse) never yields `Other` for a code that has its own variant, so a
/// `match` on the variants sees every registered code; matching `Other("...")` for a
/// registered code never succeeds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`.
    InvalidRequest,
    /// `invalid_client`: the client's authentication failed.
    InvalidClient,
    /// `invalid_grant`: the code or refresh token is dead.
    InvalidGrant,
    /// `unauthorized_client`.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `unsupported_response_type`.
    UnsupportedResponseType,
    /// `invalid_scope`.
    InvalidScope,
    /// `access_denied`: the user or the server declined.
    AccessDenied,
    /// `server_error`.
    ServerError,
    /// `temporarily_unavailable`.
    TemporarilyUnavailable,
    /// `invalid_token` (RFC 6750).
    InvalidToken,
    /// `insufficient_scope` (RFC 6750).
    InsufficientScope,
    /// `unsupported_token_type` (RFC 7009).
    UnsupportedTokenType,
    /// `authorization_pending` (RFC 8628): poll again.
    AuthorizationPending,
    /// `slow_down` (RFC 8628): poll again, 5 s later.
    SlowDown,
    /// `expired_token` (RFC 8628): the device code expired.
    ExpiredToken,
    /// `invalid_target` (RFC 8707).
    InvalidTarget,
    /// `invalid_request_uri` (RFC 9101, RFC 9126).
    InvalidRequestUri,
    /// `invalid_request_object` (RFC 9101).
    InvalidRequestObject,
    /// `invalid_dpop_proof` (RFC 9449).
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449 §8): retry with the server's nonce.
    UseDpopNonce,
    /// `interaction_required` (OpenID Connect).
    InteractionRequired,
    /// `login_required` (OpenID Connect).
    LoginRequired,
    /// `consent_required` (OpenID Connect).
    ConsentRequired,
    /// `account_selection_required` (OpenID Connect).
    AccountSelectionRequired,
    /// `request_not_supported` (OpenID Connect).
    RequestNotSupported,
    /// `request_uri_not_supported` (OpenID Connect).
    RequestUriNotSupported,
    /// `registration_not_supported` (OpenID Connect).
    RegistrationNotSupported,
    /// `invalid_redirect_uri` (RFC 7591).
    InvalidRedirectUri,
    /// `invalid_client_metadata` (RFC 7591).
    InvalidClientMetadata,
    /// `invalid_software_statement` (RFC 7591).
    InvalidSoftwareStatement,
    /// `unapproved_software_statement` (RFC 7591).
    UnapprovedSoftwareStatement,
    /// `insufficient_user_authentication` (RFC 9470): authenticate again, more strongly.
    InsufficientUserAuthentication,
    /// `invalid_authorization_details` (RFC 9396).
    InvalidAuthorizationDetails,
    /// Any other code, as the server sent it.
    Other(String),
}

/// Every code with its own variant, and its wire form.
const CODES: [(OAuthErrorCode, &str); 34] = [
    (OAuthErrorCode::InvalidRequest, "invalid_request"),
    (OAuthErrorCode::InvalidClient, "invalid_client"),
    (OAuthErrorCode::InvalidGrant, "invalid_grant"),
    (OAuthErrorCode::UnauthorizedClient, "unauthorized_client"),
    (
        OAuthErrorCode::UnsupportedGrantType,
        "unsupported_grant_type",
    ),
    (
        OAuthErrorCode::UnsupportedResponseType,
        "unsupported_response_type",
    ),
    (OAuthErrorCode::InvalidScope, "invalid_scope"),
    (OAuthErrorCode::AccessDenied, "access_denied"),
    (OAuthErrorCode::ServerError, "server_error"),
    (
        OAuthErrorCode::TemporarilyUnavailable,
        "temporarily_unavailable",
    ),
    (OAuthErrorCode::InvalidToken, "invalid_token"),
    (OAuthErrorCode::InsufficientScope, "insufficient_scope"),
    (
        OAuthErrorCode::UnsupportedTokenType,
        "unsupported_token_type",
    ),
    (
        OAuthErrorCode::AuthorizationPending,
        "authorization_pending",
    ),
    (OAuthErrorCode::SlowDown, "slow_down"),
    (OAuthErrorCode::ExpiredToken, "expired_token"),
    (OAuthErrorCode::InvalidTarget, "invalid_target"),
    (OAuthErrorCode::InvalidRequestUri, "invalid_request_uri"),
    (
        OAuthErrorCode::InvalidRequestObject,
        "invalid_request_object",
    ),
    (OAuthErrorCode::InvalidDpopProof, "invalid_dpop_proof"),
    (OAuthErrorCode::UseDpopNonce, "use_dpop_nonce"),
    (OAuthErrorCode::InteractionRequired, "interaction_required"),
    (OAuthErrorCode::LoginRequired, "login_required"),
    (OAuthErrorCode::ConsentRequired, "consent_required"),
    (
        OAuthErrorCode::AccountSelectionRequired,
        "account_selection_required",
    ),
    (OAuthErrorCode::RequestNotSupported, "request_not_supported"),
    (
        OAuthErrorCode::RequestUriNotSupported,
        "request_uri_not_supported",
    ),
    (
        OAuthErrorCode::RegistrationNotSupported,
        "registration_not_supported",
    ),
    (OAuthErrorCode::InvalidRedirectUri, "invalid_redirect_uri"),
    (
        OAuthErrorCode::InvalidClientMetadata,
        "invalid_client_metadata",
    ),
    (
        OAuthErrorCode::InvalidSoftwareStatement,
        "invalid_software_statement",
    ),
    (
        OAuthErrorCode::UnapprovedSoftwareStatement,
        "unapproved_software_statement",
    ),
    (
        OAuthErrorCode::InsufficientUserAuthentication,
        "insufficient_user_authentication",
    ),
    (
        OAuthErrorCode::InvalidAuthorizationDetails,
        "invalid_authorization_details",
    ),
];

impl OAuthErrorCode {
    /// The code for an `error` value; unknown codes become [`Other`](Self::Other).
    /// Codes are compared exactly (RFC 6749 §5.2 defines them in lower case).
    pub fn parse(code: &str) -> Self {
        CODES
            .iter()
            .find(|(_, wire)| *wire == code)
            .map(|(c, _)| c.clone())
            .unwrap_or_else(|| Self::Other(code.to_owned()))
    }

    /// The code as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(s) => s,
            known => CODES
                .iter()
                .find(|(c, _)| c == known)
                .map_or("", |(_, wire)| wire),
        }
    }

    /// What the user can do about this code, for the well-known ones.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Self::InvalidClient => {
                "check the client id and its credentials (secret or key), and that the client authentication method is the one registered (basic, post, private_key_jwt, client_secret_jwt)"
            }
            Self::InvalidGrant => {
                "the code or refresh token is invalid, expired, already used or was issued to another client or redirect URI; log in again"
            }
            Self::InvalidScope => "ask only for scopes the client is allowed to request",
            Self::UnauthorizedClient => "this client is not allowed to use this grant type",
            Self::UnsupportedGrantType => "the server does not support this grant type",
            Self::AccessDenied => "the user or the server declined the request",
            Self::InvalidToken => {
                "the access token is invalid or expired; refresh it or log in again"
            }
            Self::InsufficientScope => "the token lacks a scope this request needs",
            Self::ExpiredToken => "the device code expired before it was approved; start again",
            Self::InvalidDpopProof => {
                "the server refused the DPoP proof (key, algorithm, clock or URL); check the system clock"
            }
            Self::InvalidRequestObject => {
                "the server refused the signed request object: check the client key registered there and its algorithm"
            }
            _ => return None,
        })
    }
}

impl From<&str> for OAuthErrorCode {
    fn from(code: &str) -> Self {
        Self::parse(code)
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&clean(self.as_str(), 100))
    }
}

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

    #[test]
    fn every_registered_code_round_trips_and_others_stay_intact() {
        for (code, wire) in &CODES {
            assert_eq!(&OAuthErrorCode::parse(wire), code, "{wire}");
            assert_eq!(code.as_str(), *wire);
            assert_eq!(code.to_string(), *wire);
        }
        let e = OAuthError::new(StatusCode::BAD_REQUEST, "use_dpop_nonce");
        assert_eq!(e.code(), OAuthErrorCode::UseDpopNonce);
        let e = OAuthError::new(StatusCode::BAD_REQUEST, "vendor_specific");
        assert_eq!(e.code(), OAuthErrorCode::Other("vendor_specific".into()));
        assert_eq!(e.code().as_str(), "vendor_specific");
        // Exact comparison: a code in other case is not the registered one.
        assert!(matches!(
            OAuthErrorCode::parse("Invalid_Grant"),
            OAuthErrorCode::Other(_)
        ));
        assert_eq!(OAuthErrorCode::from("slow_down"), OAuthErrorCode::SlowDown);
    }

    #[test]
    fn hints_follow_the_code() {
        let e = OAuthError::new(StatusCode::BAD_REQUEST, "expired_token");
        assert!(e.to_string().contains("start again"), "{e}");
        assert!(OAuthErrorCode::InvalidGrant.hint().is_some());
        assert!(OAuthErrorCode::Other("x".into()).hint().is_none());
    }
}
