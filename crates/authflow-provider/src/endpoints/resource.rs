//! The protected resource: `/api/me`, `/api/data`, with RFC 6750 bearer challenges, and
//! DPoP-bound tokens with their proofs (RFC 9449).

use authflow::protocol::www_authenticate::Challenge;
use authflow::resource::{DpopConfig, Principal, Rejection, ResourceServer, Scheme};
use authflow::types::IssuerUrl;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, Method, StatusCode, Uri};
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
    if let Some(v) = bearer_challenge(s, error, scope) {
        resp.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    resp
}

/// This provider's `Bearer` challenge (with the lowercase quirk) as a header value.
fn bearer_challenge(
    s: &Shared,
    error: Option<(&str, &str)>,
    scope: Option<&str>,
) -> Option<http::HeaderValue> {
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
    c.ok().and_then(|c| c.to_header_value().ok())
}

/// The validator behind `/api/*` and `/userinfo`: the library's RFC 9068 resource server,
/// given this provider's access token key (no fetching), `EdDSA` only, and the issuer as
/// the one audience (tokens for other resources are refused here). Both also take
/// DPoP-bound tokens with proofs for the issuer's URL, with the token endpoint's `nonces`
/// when the provider requires them. Proofs are remembered in `shared` when the provider's
/// store is shared, else in the library's in-memory cache.
pub(crate) fn resource_server(
    issuer: &IssuerUrl,
    key: &SigningKey,
    nonces: Option<authflow::protocol::dpop::DpopNonces>,
    shared: Option<crate::grant_store::SharedProofCache>,
) -> ResourceServer {
    let keys: Option<JwkSet> = serde_json::from_value(json!({ "keys": [key.public_jwk()] })).ok();
    let iss = issuer.as_issuer_str();
    let mut b = ResourceServer::builder(issuer.clone(), iss)
        .algorithms(["EdDSA"])
        .realm(REALM)
        .resource_metadata(format!("{iss}/.well-known/oauth-protected-resource"));
    if let Some(keys) = keys {
        b = b.jwks(keys);
    }
    // The issuer is a valid http(s) URL, so this always holds.
    if let Ok(mut dpop) = DpopConfig::new(iss) {
        if let Some(n) = nonces {
            dpop = dpop.nonces(n);
        }
        if let Some(cache) = shared {
            dpop = dpop.replay_cache(cache);
        }
        b = b.dpop(dpop);
    }
    b.build()
}

/// The verified, unrevoked access token of a request to `/api/*` or `/userinfo`: a bearer
/// token (RFC 6750 §3.1: no header or another scheme is a 401 with a bare challenge; a
/// malformed header or two headers is `invalid_request`), or a
/// DPoP-bound token (`Authorization: DPoP`) with a valid, unused proof for this method
/// and URL whose key is the token's `cnf.jkt`. A bound token presented as a bearer token
/// is refused (RFC 9449 §7.2). With `scope`, the token must carry it.
#[allow(clippy::result_large_err)]
pub(crate) async fn authorize(
    s: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    scope: Option<&str>,
) -> Result<Principal, Response> {
    let principal = s
        .resource_server
        .authenticate_request(method, uri, headers)
        .await
        .map_err(|r| refusal(s, r.rejection(), r.scheme()))?;
    let scheme = Some(principal.scheme());
    if revoked_or_expired(s, &principal)
        .await
        .map_err(|e| unavailable(&e))?
    {
        return Err(refusal(s, &revoked(), scheme));
    }
    if let Some(scope) = scope {
        principal
            .require(scope)
            .map_err(|r| refusal(s, &r, scheme))?;
    }
    Ok(principal)
}

fn revoked() -> Rejection {
    Rejection::InvalidToken("the access token is invalid, expired or revoked".into())
}

/// Checks only the issuer can make: revocation (of the token or of its grant), and `exp`
/// without leeway (issuer and resource share one clock here).
async fn revoked_or_expired(
    s: &Shared,
    principal: &Principal,
) -> Result<bool, crate::grant_store::StoreError> {
    let claim = |k: &str| principal.claims.get(k);
    let jti = claim("jti").and_then(Value::as_str).unwrap_or_default();
    let gid = claim("gid").and_then(Value::as_str);
    let now = now();
    let expired = claim("exp")
        .and_then(Value::as_u64)
        .is_none_or(|exp| exp <= now);
    Ok(expired || s.store.is_revoked(jti, gid, now).await?)
}

/// `503` when revocation cannot be checked: the token is not accepted unchecked.
fn unavailable(e: &crate::grant_store::StoreError) -> Response {
    tracing::error!(error = %e, "store unavailable at the protected resource");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({
            "error": "temporarily_unavailable",
            "error_description": "the access token cannot be checked right now; try again shortly",
        })),
    )
        .into_response()
}

/// A refusal at `/api/*`: this provider's Bearer challenge (realm, quirks, JSON body),
/// then the library's DPoP challenge (`algs`). The error goes on the challenge of the
/// scheme the request used; the other stays bare.
fn refusal(s: &Shared, r: &Rejection, scheme: Option<Scheme>) -> Response {
    let dpop_error = scheme == Some(Scheme::Dpop) || matches!(r, Rejection::Dpop(_));
    let dpop: Vec<Challenge> = s
        .resource_server
        .challenges(r, scheme)
        .into_iter()
        .filter(|c| c.is_scheme("DPoP"))
        .collect();
    let mut resp = if dpop_error {
        let (code, description) = match r.error_code() {
            Some(code) => (
                code,
                dpop.iter()
                    .find_map(Challenge::error_description)
                    .unwrap_or("the DPoP request was refused"),
            ),
            // The replay cache could not answer: the proof is not accepted unchecked.
            None => (
                "temporarily_unavailable",
                "the DPoP proof cannot be checked right now",
            ),
        };
        let mut body = json!({"error": code, "error_description": description});
        if let Rejection::InsufficientScope(scope) = r {
            body["scope"] = json!(scope.to_string());
        }
        let mut resp = (r.status(), axum::Json(body)).into_response();
        if let Some(v) = bearer_challenge(s, None, None) {
            resp.headers_mut().insert(WWW_AUTHENTICATE, v);
        }
        resp
    } else {
        rejection(s, r)
    };
    for v in dpop.iter().filter_map(|c| c.to_header_value().ok()) {
        resp.headers_mut().append(WWW_AUTHENTICATE, v);
    }
    if let Some(nonce) = s.resource_server.fresh_dpop_nonce() {
        resp.headers_mut()
            .insert(authflow::protocol::dpop::DPOP_NONCE_HEADER, nonce);
    }
    resp
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

pub(crate) async fn me(
    State(s): crate::provider::State,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match authorize(&s, &method, &uri, &headers, None).await {
        Ok(p) => axum::Json(json!({
            "sub": p.subject,
            "client_id": p.client_id,
            "scope": p.scope.to_string(),
            "exp": p.claims.get("exp"),
            "token_type": if p.is_dpop_bound() { "DPoP" } else { "Bearer" },
        }))
        .into_response(),
        Err(r) => r,
    }
}

pub(crate) async fn read(
    State(s): crate::provider::State,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match authorize(&s, &method, &uri, &headers, Some("api:read")).await {
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

/// `GET /api/admin`: needs `api:admin`, which no client gets unless it asks for it, so
/// a client with an ordinary token meets `403 insufficient_scope` and must step up.
pub(crate) async fn admin(
    State(s): crate::provider::State,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match authorize(&s, &method, &uri, &headers, Some("api:admin")).await {
        Ok(p) => {
            axum::Json(json!({"admin": p.subject, "scope": p.scope.to_string()})).into_response()
        }
        Err(r) => r,
    }
}

pub(crate) async fn write(
    State(s): crate::provider::State,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let principal = match authorize(&s, &method, &uri, &headers, Some("api:write")).await {
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

#[cfg(test)]
#[path = "resource_tests.rs"]
mod tests;
