//! RFC 6749 §5.2 error responses, built from the library's [`OAuthError`].

use authflow::protocol::OAuthError;
use authflow::protocol::www_authenticate::Challenge;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde::Serialize;

use crate::quirks::Quirks;

/// The realm named in `WWW-Authenticate` challenges.
pub(crate) const REALM: &str = "authflow";

pub(crate) fn error(status: StatusCode, code: &str, description: impl Into<String>) -> OAuthError {
    OAuthError::new(status, code).with_description(description)
}

pub(crate) fn invalid_request(description: impl Into<String>) -> OAuthError {
    error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

pub(crate) fn invalid_client(description: impl Into<String>) -> OAuthError {
    error(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

pub(crate) fn invalid_grant(description: impl Into<String>) -> OAuthError {
    error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

pub(crate) fn invalid_scope(description: impl Into<String>) -> OAuthError {
    error(StatusCode::BAD_REQUEST, "invalid_scope", description)
}

pub(crate) fn unauthorized_client(description: impl Into<String>) -> OAuthError {
    error(StatusCode::BAD_REQUEST, "unauthorized_client", description)
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

/// Headers every token-bearing (or token-endpoint) response carries.
pub(crate) fn no_store(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The `WWW-Authenticate: Basic realm="authflow"` challenge for `invalid_client`.
fn basic_challenge() -> Option<HeaderValue> {
    Challenge::new("Basic")
        .and_then(|c| c.with_param("realm", REALM))
        .ok()
        .and_then(|c| c.to_header_value().ok())
}

/// A JSON error response; `invalid_client` gets its 401 challenge.
pub(crate) fn error_response(err: &OAuthError) -> Response {
    render(err, Quirks::none())
}

/// A token endpoint error, shaped by the quirks in force.
pub(crate) fn render(err: &OAuthError, quirks: Quirks) -> Response {
    let body = Body {
        error: &err.error,
        error_description: err.error_description.as_deref(),
    };
    let status = if quirks.error_in_200 {
        StatusCode::OK
    } else {
        err.status
    };
    let mut resp = if quirks.form_encoded_token_response {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("error", body.error);
        if let Some(d) = body.error_description {
            s.append_pair("error_description", d);
        }
        (
            status,
            [(CONTENT_TYPE, "application/x-www-form-urlencoded")],
            s.finish(),
        )
            .into_response()
    } else {
        (status, axum::Json(body)).into_response()
    };
    if let Some(v) = basic_challenge().filter(|_| err.status == StatusCode::UNAUTHORIZED) {
        resp.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    no_store(&mut resp);
    resp
}
