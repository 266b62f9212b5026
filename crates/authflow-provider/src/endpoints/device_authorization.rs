//! The device authorization endpoint (RFC 8628 §3.1, §3.2): a client that cannot show a
//! browser asks for a device code (which it polls with) and a user code (which the user
//! enters at `{issuer}/device`).
//!
//! Clients authenticate as at the token endpoint (public clients name themselves); the
//! scope must be within the client's. The device code is an opaque 256-bit token kept
//! only as its SHA-256 digest.

use std::time::Duration;

use authflow::protocol::OAuthError;
use authflow::types::Scope;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::form_body;
use crate::client_auth::authenticate;
use crate::device_store::{InsertError, NewDevice};
use crate::errors::{error, error_response, invalid_scope, no_store, unauthorized_client};
use crate::hashing::{random_token, sha256};
use crate::provider::Shared;
use crate::registry::GrantType;
use crate::time::now;
use crate::user_code;

/// How many fresh user codes to draw when one is taken before giving up.
const USER_CODE_TRIES: usize = 8;

pub(crate) async fn device_authorization(
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
        Err(e) => {
            tracing::debug!(error = %e.error, "device authorization refused");
            error_response(&e)
        }
    }
}

async fn handle(
    s: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<serde_json::Value, OAuthError> {
    let params = form_body(headers, body)?;
    let (authenticated, _) =
        authenticate(s, headers, &params, &s.url("/device_authorization")).await?;
    let client = &*authenticated;
    if !client.allows(GrantType::DeviceCode) {
        return Err(unauthorized_client(format!(
            "client `{}` may not use the device code grant",
            client.id
        )));
    }
    let scope = match params.get("scope").map(Scope::parse).transpose() {
        Ok(Some(scope)) if scope.is_subset_of(&client.scope) => scope,
        Ok(Some(_)) => return Err(invalid_scope("the client may not ask for this scope")),
        Ok(None) => client.scope.clone(),
        Err(e) => return Err(invalid_scope(e.to_string())),
    };
    let now = now();
    let device_code = random_token();
    let mut stored = None;
    for _ in 0..USER_CODE_TRIES {
        let code = user_code::generate();
        let new = NewDevice {
            device: sha256(device_code.as_bytes()),
            user_code: code.clone(),
            client_id: client.id.as_str().to_owned(),
            scope: scope.clone(),
            expires: now + s.settings.device_ttl,
            interval: Duration::from_secs(s.settings.device_interval),
        };
        match s.store.insert_device(new, now).await? {
            Ok(()) => {
                stored = Some(code);
                break;
            }
            Err(InsertError::UserCodeTaken) => {}
            Err(InsertError::Full) => break,
        }
    }
    let Some(code) = stored else {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many device authorizations are in progress; try again in a few minutes",
        ));
    };
    let shown = user_code::display(&code);
    let verification_uri = s.url("/device");
    let complete = url::Url::parse_with_params(&verification_uri, [("user_code", &shown)])
        .map(String::from)
        .ok();
    tracing::info!(client = %client.id, "device authorization started");
    Ok(json!({
        "device_code": device_code,
        "user_code": shown,
        "verification_uri": verification_uri,
        "verification_uri_complete": complete,
        "expires_in": s.settings.device_ttl,
        "interval": s.settings.device_interval,
    }))
}
