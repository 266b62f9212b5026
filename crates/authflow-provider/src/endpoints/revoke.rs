//! Token revocation (RFC 7009).

use authflow::protocol::OAuthError;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::form_body;
use crate::client_auth::authenticate;
use crate::errors::{error_response, invalid_request};
use crate::hashing::sha256;
use crate::provider::Shared;
use crate::time::now;

pub(crate) async fn revoke(
    State(s): crate::provider::State,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&s, &headers, body).await {
        // RFC 7009 §2.2: 200 whether or not the token was known.
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => error_response(&e),
    }
}

async fn handle(
    s: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(), OAuthError> {
    let params = form_body(headers, body)?;
    let (authenticated, _) = authenticate(s, headers, &params, &s.url("/revoke")).await?;
    let client = &*authenticated;
    let token = params
        .get("token")
        .ok_or_else(|| invalid_request("token is missing"))?;
    let now = now();
    // The hint only orders the look-ups; both kinds are always tried (§2.1).
    if s.store
        .revoke_refresh(&sha256(token.as_bytes()), client.id.as_str(), now)
        .await?
    {
        tracing::info!(client = %client.id, "refresh token revoked with its grant");
        return Ok(());
    }
    // Another client's access token is left alone (§2.1: the token must belong to the
    // client), and the answer is the same 200.
    if let Some(claims) = s
        .verify_own_token(token, true)
        .filter(|c| c.client_id == client.id.as_str())
    {
        s.store.revoke_jti(&claims.jti, claims.exp, now).await?;
        tracing::info!(client = %client.id, "access token revoked");
    }
    Ok(())
}
