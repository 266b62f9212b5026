//! Token introspection (RFC 7662), for authenticated confidential clients only.
//!
//! A client sees its own tokens; only a client registered with `introspect_any` (a
//! resource server) sees every client's access tokens (refresh tokens stay private to
//! their client). Anything else is `{"active": false}`, the same
//! answer as for an unknown token (RFC 7662 §2.2), so nothing leaks about other clients.

use authflow::protocol::OAuthError;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Value, json};

use super::form_body;
use crate::client_auth::authenticate;
use crate::errors::{error_response, invalid_client, invalid_request, no_store};
use crate::hashing::sha256;
use crate::provider::Shared;
use crate::registry::TokenEndpointAuthMethod as Method;
use crate::time::now;

pub(crate) async fn introspect(
    State(s): crate::provider::State,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&s, &headers, body).await {
        Ok(v) => {
            let mut resp = axum::Json(v).into_response();
            no_store(&mut resp);
            resp
        }
        Err(e) => error_response(&e),
    }
}

async fn handle(
    s: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, OAuthError> {
    let params = form_body(headers, body)?;
    let (authenticated, method) = authenticate(s, headers, &params, &s.url("/introspect")).await?;
    let client = &*authenticated;
    if method == Method::None {
        return Err(invalid_client(
            "introspection needs an authenticated (confidential) client",
        ));
    }
    let token = params
        .get("token")
        .ok_or_else(|| invalid_request("token is missing"))?;
    let may_see = |owner: &str| client.introspect_any || owner == client.id.as_str();
    let now = now();
    if let Some(c) = s.verify_own_token(token, false) {
        if !may_see(&c.client_id) || s.store.is_revoked(&c.jti, c.gid.as_deref(), now).await? {
            return Ok(json!({"active": false}));
        }
        // RFC 9449 §6.2: a bound token's key is shown as `cnf`.
        let token_type = if c.cnf.is_some() { "DPoP" } else { "Bearer" };
        let mut v = json!({
            "active": true,
            "token_type": token_type,
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
        if let Some(cnf) = &c.cnf {
            v["cnf"] = json!({"jkt": cnf.jkt});
        }
        return Ok(v);
    }
    // Refresh tokens: only their own client may look at them (a resource server never
    // receives one).
    match s.store.refresh_info(&sha256(token.as_bytes()), now).await? {
        Some(info) if info.client_id == client.id.as_str() => {
            let mut v = json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": info.scope.to_string(),
                "client_id": info.client_id,
                "sub": info.user,
                "username": info.user,
                "iss": s.issuer_str,
                "exp": info.expires,
            });
            if let Some(jkt) = info.dpop_jkt {
                v["cnf"] = json!({"jkt": jkt});
            }
            Ok(v)
        }
        _ => Ok(json!({"active": false})),
    }
}
