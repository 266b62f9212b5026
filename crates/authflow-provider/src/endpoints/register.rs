//! Dynamic client registration (RFC 7591) at `/register`, and reading and deleting a
//! registration at its `registration_client_uri` (RFC 7592) with the registration access
//! token. Clients are checked by [`crate::dynamic_client`] and kept in the provider's
//! store; no secret is kept, only digests.

use authflow::protocol::OAuthError;
use authflow::protocol::registration::INVALID_CLIENT_METADATA;
use authflow::protocol::www_authenticate::Challenge;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use crate::dynamic_client::{self, ID_PREFIX, MAX_REGISTRATION_BYTES, Record};
use crate::errors::{error, error_response, no_store};
use crate::hashing::{self, random_id, random_token, sha256};
use crate::provider::{Registration, Shared};
use crate::time::now;

/// `POST /register`.
pub(crate) async fn register(
    State(s): crate::provider::State,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(reg) = &s.settings.registration else {
        return super::not_found().await;
    };
    match register_now(&s, reg, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => refusal(&e),
    }
}

async fn register_now(
    s: &Shared,
    reg: &Registration,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    if let Some(expected) = &reg.initial_token {
        let ok = bearer(headers)?.is_some_and(|t| hashing::matches(t, expected));
        if !ok {
            return Err(invalid_token(
                "registration needs the initial access token (Authorization: Bearer)",
            ));
        }
    }
    let body = body.map_err(|r| {
        error(
            r.status(),
            "invalid_request",
            "the request body is too large or unreadable",
        )
    })?;
    if body.len() > MAX_REGISTRATION_BYTES {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!("client metadata may be at most {MAX_REGISTRATION_BYTES} bytes"),
        ));
    }
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send the client metadata as application/json (RFC 7591 §3.1)",
        ));
    }
    let bad = |e: serde_json::Error| {
        error(
            StatusCode::BAD_REQUEST,
            INVALID_CLIENT_METADATA,
            format!("the client metadata is not a valid JSON object: {e}"),
        )
    };
    let fields: Map<String, Value> = serde_json::from_slice(&body).map_err(bad)?;
    dynamic_client::check_shapes(&fields)?;
    let metadata = serde_json::from_value(Value::Object(fields)).map_err(bad)?;
    let checked = dynamic_client::check_with(&metadata, Some(crate::demo::SCOPES))?;
    let id = format!("{ID_PREFIX}{}", random_id());
    let secret = checked.needs_secret().then(random_token);
    let token = random_token();
    let issued_at = now();
    let record = Record {
        metadata: checked.metadata,
        secret_hash: secret
            .as_ref()
            .map(|t| dynamic_client::encode(&sha256(t.as_bytes()))),
        token_hash: dynamic_client::encode(&sha256(token.as_bytes())),
        issued_at,
    };
    let text = serde_json::to_string(&record).map_err(|_| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "cannot store the client",
        )
    })?;
    if !s.store.insert_client(&id, &text, reg.max_clients).await? {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            format!(
                "this server holds its limit of {} registered clients; delete unused ones",
                reg.max_clients
            ),
        ));
    }
    tracing::info!(client = %id, method = %checked.method, "client registered");
    let mut doc = describe(s, &id, &record);
    doc.insert("registration_access_token".into(), json!(token));
    if let Some(secret) = secret {
        doc.insert("client_secret".into(), json!(secret));
        // RFC 7591 §3.2.1: required with a secret; 0 means it does not expire.
        doc.insert("client_secret_expires_at".into(), json!(0));
    }
    Ok(answer(StatusCode::CREATED, doc))
}

/// `GET /register/{client_id}` (RFC 7592 §2.1): the registration, without secrets.
pub(crate) async fn read(
    State(s): crate::provider::State,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match managed(&s, &id, &headers).await {
        Ok(record) => answer(StatusCode::OK, describe(&s, &id, &record)),
        Err(e) => refusal(&e),
    }
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): the client is gone at once, at every
/// instance sharing the store.
pub(crate) async fn delete(
    State(s): crate::provider::State,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        managed(&s, &id, &headers).await?;
        s.store.remove_client(&id).await?;
        Ok::<_, OAuthError>(())
    }
    .await;
    match result {
        Ok(()) => {
            tracing::info!(client = %id, "client registration deleted");
            let mut resp = StatusCode::NO_CONTENT.into_response();
            no_store(&mut resp);
            resp
        }
        Err(e) => refusal(&e),
    }
}

/// The record of `id` if the request carries its registration access token. An unknown
/// client and a wrong token get the same `401 invalid_token` (RFC 7592 §2).
async fn managed(s: &Shared, id: &str, headers: &HeaderMap) -> Result<Record, OAuthError> {
    if s.settings.registration.is_none() {
        return Err(error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint",
        ));
    }
    let token = bearer(headers)?;
    let record = if id.starts_with(ID_PREFIX) {
        match s.store.client(id).await? {
            Some(json) => Some(
                serde_json::from_str::<Record>(&json)
                    .map_err(|_| crate::grant_store::StoreError::Corrupt("registered client"))?,
            ),
            None => None,
        }
    } else {
        None
    };
    // The same comparison whether or not the client exists.
    let unknown = [0u8; 32];
    let stored = record.as_ref().and_then(Record::token_digest);
    let ok = token.is_some_and(|t| hashing::matches(t, stored.as_ref().unwrap_or(&unknown)));
    match record {
        Some(r) if ok && stored.is_some() => Ok(r),
        _ => Err(invalid_token(
            "the registration access token is missing, wrong, or its client was deleted",
        )),
    }
}

/// The registration as RFC 7591 §3.2.1 describes it, without secrets.
fn describe(s: &Shared, id: &str, record: &Record) -> Map<String, Value> {
    let mut doc = match serde_json::to_value(&record.metadata) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    doc.insert("client_id".into(), json!(id));
    doc.insert("client_id_issued_at".into(), json!(record.issued_at));
    doc.insert(
        "registration_client_uri".into(),
        json!(s.url(&format!("/register/{id}"))),
    );
    doc
}

fn answer(status: StatusCode, doc: Map<String, Value>) -> Response {
    let mut resp = (status, axum::Json(Value::Object(doc))).into_response();
    no_store(&mut resp);
    resp
}

/// The bearer token of the `Authorization` header, if any; more than one header, or
/// another scheme, is a bad request.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, OAuthError> {
    let mut all = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "more than one Authorization header",
        ));
    }
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty());
    Ok(token)
}

fn invalid_token(description: &str) -> OAuthError {
    OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_token").with_description(description)
}

/// An error as RFC 7591 §3.2.2 JSON; a 401 carries a Bearer challenge (RFC 6750 §3).
fn refusal(e: &OAuthError) -> Response {
    if e.status != StatusCode::UNAUTHORIZED {
        return error_response(e);
    }
    let mut resp = (
        e.status,
        axum::Json(json!({"error": e.error, "error_description": e.error_description})),
    )
        .into_response();
    let challenge = Challenge::new("Bearer")
        .and_then(|c| c.with_param("error", &e.error))
        .ok()
        .and_then(|c| c.to_header_value().ok());
    if let Some(v) = challenge {
        resp.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    no_store(&mut resp);
    resp
}
