//! Token introspection (RFC 7662), for authenticated confidential clients only.

use authflow::protocol::OAuthError;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Value, json};

use super::form_body;
use crate::client_auth::{Method, authenticate};
use crate::errors::{error_response, invalid_client, invalid_request, no_store};
use crate::hashing::sha256;
use crate::provider::Shared;
use crate::time::now;

pub(crate) async fn introspect(
    State(s): crate::provider::State,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&s, &headers, body) {
        Ok(v) => {
            let mut resp = axum::Json(v).into_response();
            no_store(&mut resp);
            resp
        }
        Err(e) => error_response(&e),
    }
}

fn handle(
    s: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, OAuthError> {
    let params = form_body(headers, body)?;
    let (client, method) = authenticate(&s.registry, headers, &params)?;
    if method == Method::None {
        return Err(invalid_client(
            "introspection needs an authenticated (confidential) client",
        ));
    }
    let token = params
        .get("token")
        .ok_or_else(|| invalid_request("token is missing"))?;
    let now = now();
    if let Some(c) = s
        .key
        .verify_access_token(token, &s.issuer_str, s.resource(), false)
    {
        if s.store.is_revoked(&c.jti, c.gid.as_deref(), now) {
            return Ok(json!({"active": false}));
        }
        let mut v = json!({
            "active": true,
            "token_type": "Bearer",
            "scope": c.scope,
            "client_id": c.client_id,
            "sub": c.sub,
            "aud": c.aud,
            "iss": c.iss,
            "exp": c.exp,
            "iat": c.iat,
            "jti": c.jti,
        });
        if c.gid.is_some() {
            v["username"] = json!(c.sub);
        }
        return Ok(v);
    }
    // Refresh tokens: only their own client may look at them.
    match s.store.refresh_info(&sha256(token.as_bytes()), now) {
        Some((grant, exp)) if grant.client_id == client.id.as_str() => Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": grant.scope.to_string(),
            "client_id": grant.client_id,
            "sub": grant.user,
            "username": grant.user,
            "iss": s.issuer_str,
            "exp": exp,
        })),
        _ => Ok(json!({"active": false})),
    }
}
