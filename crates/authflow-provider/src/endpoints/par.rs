//! Pushed authorization requests (RFC 9126): `POST /par` authenticates the client as the
//! token endpoint does, checks the authorization parameters (or a signed request object,
//! RFC 9101) exactly as `/authorize` would, and answers `201` with a `request_uri` that
//! `/authorize` accepts once, from the same client, for a minute.
//!
//! A DPoP proof sent here binds the code to its key, like `dpop_jkt` (RFC 9449 §10.1).

use authflow::protocol::OAuthError;
use authflow::protocol::dpop::DpopError;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::form_body;
use crate::authz_request::{Origin, validate};
use crate::client_auth::authenticate;
use crate::errors::{error, error_response, invalid_request, no_store};
use crate::provider::Shared;
use crate::time::now;

pub(crate) async fn par(
    State(s): crate::provider::State,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut resp = match handle(&s, &headers, body).await {
        Ok(v) => {
            let mut resp = (StatusCode::CREATED, axum::Json(v)).into_response();
            no_store(&mut resp);
            resp
        }
        Err(e) => {
            tracing::debug!(error = %e.error, "pushed authorization request refused");
            error_response(&e)
        }
    };
    s.dpop.offer_nonce(&mut resp);
    resp
}

async fn handle(
    s: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, OAuthError> {
    let params = form_body(headers, body)?;
    let proof = s.dpop.check(headers, &s.par_url)?;
    let (authenticated, _) = authenticate(s, headers, &params, s.par_url.as_str()).await?;
    let client = &*authenticated;
    s.dpop.remember(&s.store, proof.as_ref()).await?;
    if params.get("request_uri").is_some() {
        return Err(invalid_request(
            "request_uri must not be sent to the PAR endpoint (RFC 9126 §2.1)",
        ));
    }
    let object;
    let (params, signed) = match params.get("request") {
        Some(jwt) => {
            object = crate::request_object::verify(s, client, jwt).map_err(|why| {
                error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_object",
                    format!("the request object cannot be used: {why}"),
                )
            })?;
            (&object, true)
        }
        None => (&params, false),
    };
    let origin = Origin {
        pushed: true,
        signed,
    };
    let mut req = validate(s, client, params, origin).map_err(|refusal| {
        let (code, description) = refusal.parts();
        error(StatusCode::BAD_REQUEST, code, description)
    })?;
    match (proof, &req.dpop_jkt) {
        (Some(p), Some(jkt)) if p.jkt != *jkt => {
            return Err(crate::dpop::refusal(&DpopError::KeyMismatch));
        }
        (Some(p), None) => req.dpop_jkt = Some(p.jkt),
        _ => {}
    }
    let client_id = req.client_id.clone();
    let ttl = s.settings.par_ttl;
    let uri = s
        .store
        .push_request(req, ttl, now())
        .await?
        .ok_or_else(|| {
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many pushed authorization requests are waiting; try again in a minute",
            )
        })?;
    tracing::info!(client = %client_id, "authorization request pushed");
    Ok(json!({"request_uri": uri, "expires_in": ttl}))
}
