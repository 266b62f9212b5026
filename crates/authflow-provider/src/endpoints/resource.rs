//! The protected resource: `/api/me`, `/api/data`, with RFC 6750 bearer challenges.

use authflow::protocol::www_authenticate::Challenge;
use authflow::resource::{Principal, Rejection, ResourceServer};
use authflow::types::IssuerUrl;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, StatusCode};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};

use crate::errors::REALM;
use crate::jwt::SigningKey;
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

/// The validator behind `/api/*` and `/userinfo`: the library's RFC 9068 resource server,
/// given this provider's access token key (no fetching), `EdDSA` only, and the issuer as
/// the one audience (tokens for other resources are refused here).
pub(crate) fn resource_server(issuer: &IssuerUrl, key: &SigningKey) -> ResourceServer {
    let keys: Option<JwkSet> = serde_json::from_value(json!({ "keys": [key.public_jwk()] })).ok();
    let iss = issuer.as_issuer_str();
    let mut b = ResourceServer::builder(issuer.clone(), iss)
        .algorithms(["EdDSA"])
        .realm(REALM)
        .resource_metadata(format!("{iss}/.well-known/oauth-protected-resource"));
    if let Some(keys) = keys {
        b = b.jwks(keys);
    }
    b.build()
}

/// The verified, unrevoked access token from `Authorization: Bearer`; the error is the
/// challenge response to send.
///
/// The library's [`ResourceServer`] reads the header and validates the token (RFC 6750
/// §3.1: no header or another scheme is a 401 with a bare challenge; a malformed `Bearer`
/// header or two headers is `invalid_request`). Two checks only the issuer can make come
/// on top: revocation (of the token or of its grant), and `exp` without leeway (issuer
/// and resource share one clock here).
#[allow(clippy::result_large_err)]
pub(crate) async fn bearer(s: &Shared, headers: &HeaderMap) -> Result<Principal, Response> {
    let principal = s
        .resource_server
        .authenticate(headers)
        .await
        .map_err(|r| rejection(s, &r))?;
    let claim = |k: &str| principal.claims.get(k);
    let jti = claim("jti").and_then(Value::as_str).unwrap_or_default();
    let gid = claim("gid").and_then(Value::as_str);
    let now = now();
    let expired = claim("exp")
        .and_then(Value::as_u64)
        .is_none_or(|exp| exp <= now);
    if expired || s.store.is_revoked(jti, gid, now) {
        return Err(challenge(
            s,
            StatusCode::UNAUTHORIZED,
            Some((
                "invalid_token",
                "the access token is invalid, expired or revoked",
            )),
            None,
        ));
    }
    Ok(principal)
}

/// The library's refusal as this provider's challenge (realm, quirks, JSON body).
fn rejection(s: &Shared, r: &Rejection) -> Response {
    match r {
        Rejection::Missing => challenge(s, StatusCode::UNAUTHORIZED, None, None),
        Rejection::InvalidRequest(_) => challenge(
            s,
            StatusCode::BAD_REQUEST,
            Some((
                "invalid_request",
                "use one Authorization: Bearer <token> header",
            )),
            None,
        ),
        Rejection::InsufficientScope(scope) => challenge(
            s,
            StatusCode::FORBIDDEN,
            Some((
                "insufficient_scope",
                "the access token lacks a needed scope",
            )),
            Some(&scope.to_string()),
        ),
        // Invalid, and anything a later library version adds: never let it through.
        _ => challenge(
            s,
            StatusCode::UNAUTHORIZED,
            Some((
                "invalid_token",
                "the access token is invalid, expired or revoked",
            )),
            None,
        ),
    }
}

/// The token, if it carries `scope`; else a 403 `insufficient_scope` naming it.
#[allow(clippy::result_large_err)]
pub(crate) async fn with_scope(
    s: &Shared,
    headers: &HeaderMap,
    scope: &str,
) -> Result<Principal, Response> {
    let principal = bearer(s, headers).await?;
    principal.require(scope).map_err(|r| rejection(s, &r))?;
    Ok(principal)
}

pub(crate) async fn me(State(s): crate::provider::State, headers: HeaderMap) -> Response {
    match bearer(&s, &headers).await {
        Ok(p) => axum::Json(json!({
            "sub": p.subject,
            "client_id": p.client_id,
            "scope": p.scope.to_string(),
            "exp": p.claims.get("exp"),
        }))
        .into_response(),
        Err(r) => r,
    }
}

pub(crate) async fn read(State(s): crate::provider::State, headers: HeaderMap) -> Response {
    match with_scope(&s, &headers, "api:read").await {
        Ok(p) => axum::Json(json!({
            "owner": p.subject,
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
    let principal = match with_scope(&s, &headers, "api:write").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match body {
        Ok(b) => (
            StatusCode::CREATED,
            axum::Json(json!({"owner": principal.subject, "received_bytes": b.len()})),
        )
            .into_response(),
        Err(rej) => (
            rej.status(),
            axum::Json(json!({"error": "invalid_request", "error_description": "the body is too large or unreadable"})),
        )
            .into_response(),
    }
}
