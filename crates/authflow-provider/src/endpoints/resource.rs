//! The protected resource: `/api/me`, `/api/data`, with RFC 6750 bearer challenges.

use authflow::protocol::www_authenticate::Challenge;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::errors::REALM;
use crate::jwt::VerifiedClaims;
use crate::provider::Shared;
use crate::time::now;

/// A refusal with its `WWW-Authenticate: Bearer ...` challenge (RFC 6750 §3).
pub(crate) fn challenge(
    s: &Shared,
    status: StatusCode,
    error: Option<(&str, &str)>,
    scope: Option<&str>,
) -> Response {
    let scheme = if s.settings.quirks.lowercase_bearer_challenge {
        "bearer"
    } else {
        "Bearer"
    };
    let metadata = s.url("/.well-known/oauth-protected-resource");
    let mut c = Challenge::new(scheme).and_then(|c| c.with_param("realm", REALM));
    if let Some((code, description)) = error {
        c = c
            .and_then(|c| c.with_param("error", code))
            .and_then(|c| c.with_param("error_description", description));
    }
    if let Some(scope) = scope {
        c = c.and_then(|c| c.with_param("scope", scope));
    }
    c = c.and_then(|c| c.with_param("resource_metadata", &metadata));
    let body = match (error, scope) {
        (Some((code, description)), Some(scope)) => {
            json!({"error": code, "error_description": description, "scope": scope})
        }
        (Some((code, description)), None) => {
            json!({"error": code, "error_description": description})
        }
        (None, _) => {
            json!({"error": "unauthorized", "error_description": "a bearer token is required"})
        }
    };
    let mut resp = (status, axum::Json(body)).into_response();
    if let Some(v) = c.ok().and_then(|c| c.to_header_value().ok()) {
        resp.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    resp
}

/// The verified, unrevoked access token from `Authorization: Bearer`; the error is the
/// challenge response to send.
///
/// RFC 6750 §3.1: no `Authorization` header, or one with another scheme (say `Basic`),
/// is a request without a bearer token: 401 with a bare challenge, no error code. A
/// malformed `Bearer` header, or two `Authorization` headers, is `invalid_request` (400).
#[allow(clippy::result_large_err)]
pub(crate) fn bearer(s: &Shared, headers: &HeaderMap) -> Result<VerifiedClaims, Response> {
    let malformed = |description| {
        challenge(
            s,
            StatusCode::BAD_REQUEST,
            Some(("invalid_request", description)),
            None,
        )
    };
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Err(challenge(s, StatusCode::UNAUTHORIZED, None, None)),
        (Some(_), Some(_)) => return Err(malformed("more than one Authorization header")),
        (Some(value), None) => value,
    };
    let value = value.as_bytes();
    let (scheme, rest) = match value.iter().position(|&b| b == b' ') {
        Some(i) => (&value[..i], Some(&value[i + 1..])),
        None => (value, None),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(challenge(s, StatusCode::UNAUTHORIZED, None, None));
    }
    let Some(token) = rest
        .and_then(|t| std::str::from_utf8(t).ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Err(malformed("use Authorization: Bearer <token>"));
    };
    let invalid = || {
        challenge(
            s,
            StatusCode::UNAUTHORIZED,
            Some((
                "invalid_token",
                "the access token is invalid, expired or revoked",
            )),
            None,
        )
    };
    let claims = s
        .key
        .verify_access_token(token, &s.issuer_str, s.resource(), false)
        .ok_or_else(invalid)?;
    if s.store
        .is_revoked(&claims.jti, claims.gid.as_deref(), now())
    {
        return Err(invalid());
    }
    Ok(claims)
}

/// The token, if it carries `scope`; else a 403 `insufficient_scope` naming it.
#[allow(clippy::result_large_err)]
pub(crate) fn with_scope(
    s: &Shared,
    headers: &HeaderMap,
    scope: &str,
) -> Result<VerifiedClaims, Response> {
    let claims = bearer(s, headers)?;
    if claims.has_scope(scope) {
        Ok(claims)
    } else {
        Err(challenge(
            s,
            StatusCode::FORBIDDEN,
            Some((
                "insufficient_scope",
                "the access token lacks a needed scope",
            )),
            Some(scope),
        ))
    }
}

pub(crate) async fn me(State(s): crate::provider::State, headers: HeaderMap) -> Response {
    match bearer(&s, &headers) {
        Ok(c) => axum::Json(json!({
            "sub": c.sub,
            "client_id": c.client_id,
            "scope": c.scope,
            "exp": c.exp,
        }))
        .into_response(),
        Err(r) => r,
    }
}

pub(crate) async fn read(State(s): crate::provider::State, headers: HeaderMap) -> Response {
    match with_scope(&s, &headers, "api:read") {
        Ok(c) => axum::Json(json!({
            "owner": c.sub,
            "items": [
                {"id": 1, "name": "first item"},
                {"id": 2, "name": "second item"},
            ],
        }))
        .into_response(),
        Err(r) => r,
    }
}

pub(crate) async fn write(
    State(s): crate::provider::State,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let claims = match with_scope(&s, &headers, "api:write") {
        Ok(c) => c,
        Err(r) => return r,
    };
    match body {
        Ok(b) => (
            StatusCode::CREATED,
            axum::Json(json!({"owner": claims.sub, "received_bytes": b.len()})),
        )
            .into_response(),
        Err(rej) => (
            rej.status(),
            axum::Json(json!({"error": "invalid_request", "error_description": "the body is too large or unreadable"})),
        )
            .into_response(),
    }
}
