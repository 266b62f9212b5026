//! The HTTP endpoints, one module each.

pub(crate) mod authorize;
pub(crate) mod device_authorization;
pub(crate) mod device_page;
pub(crate) mod discovery;
pub(crate) mod introspect;
pub(crate) mod par;
pub(crate) mod register;
pub(crate) mod resource;
pub(crate) mod revoke;
pub(crate) mod token;
mod token_device;
mod token_exchange;
mod token_jwt_bearer;
pub(crate) mod userinfo;

use authflow::protocol::OAuthError;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::errors::{error_response, invalid_request};
use crate::form::{self, Params};

/// 405 for a wrong method on an OAuth endpoint, as a §5.2 JSON error.
pub(crate) async fn method_not_allowed() -> Response {
    let err = OAuthError::new(StatusCode::METHOD_NOT_ALLOWED, "invalid_request")
        .with_description("this endpoint accepts POST only");
    let mut resp = error_response(&err);
    resp.headers_mut()
        .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
    resp
}

/// 404 for unknown paths.
pub(crate) async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({"error": "not_found"})),
    )
        .into_response()
}

/// A form body: the right content type, within the size limit, no repeated parameter,
/// at most [`form::MAX_PARAMS`] parameters, all UTF-8.
pub(crate) fn form_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Params, OAuthError> {
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let what = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!(
                "the request body is larger than {} bytes",
                crate::provider::MAX_BODY_BYTES
            )
        } else {
            "the request body could not be read".to_owned()
        };
        OAuthError::new(status, "invalid_request").with_description(what)
    })?;
    if !form::is_form(headers) {
        return Err(invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Params::parse(&body).map_err(|e| invalid_request(e.to_string()))
}
