//! The quirk switches and the answers they shape: client authentication as odd servers
//! do it, token responses in every dialect, and broken token endpoints.

use std::collections::HashMap;
use std::convert::Infallible;

use authflow::protocol::client_auth::decode_basic_authorization;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::server::{Client, ERROR_URI, LEAKY_TOKEN, LIFETIME, Shared, find_client, params};

/// Behaviours of real providers, each off by default. Each switch mirrors a line of
/// provider-quirks.md.
#[derive(Debug, Clone, Default)]
pub struct Quirks {
    // Discovery.
    /// The metadata names another issuer.
    pub wrong_issuer: bool,
    /// `/.well-known/oauth-authorization-server` answers 404 (OIDC-only server).
    pub no_oauth_metadata: bool,
    /// The metadata lists a plain-http, non-loopback `revocation_endpoint`.
    pub insecure_endpoint_in_metadata: bool,

    // Authorization endpoint.
    /// Every authorization is declined: `error=access_denied`.
    pub deny: bool,
    /// Neither announces nor sends `iss` (many providers).
    pub no_iss: bool,
    /// Announces `iss` support but leaves it off the redirect.
    pub omit_iss_on_redirect: bool,
    /// Sends another server's `iss` on the redirect (mix-up).
    pub wrong_iss_on_redirect: bool,

    // Token endpoint answers.
    /// Errors come with `200 OK`.
    pub error_in_200: bool,
    /// Token responses as `application/x-www-form-urlencoded`.
    pub form_encoded_token: bool,
    /// Token responses as form data labelled `text/plain`.
    pub text_plain_token: bool,
    /// `"expires_in": "3600"`.
    pub expires_in_string: bool,
    /// `expires` instead of `expires_in`.
    pub expires_instead_of_expires_in: bool,
    /// No lifetime at all.
    pub no_expires_in: bool,
    /// `"token_type": "bearer"`.
    pub token_type_lowercase: bool,
    /// No `token_type`.
    pub token_type_missing: bool,
    /// `"scope": "a,b"`.
    pub comma_scope: bool,
    /// No `scope` (meaning: as requested).
    pub no_scope: bool,
    /// A refresh keeps the old refresh token valid and sends no new one.
    pub no_refresh_rotation: bool,

    // Client authentication.
    /// Only `client_secret_post`: Basic gets `401 invalid_client` + `WWW-Authenticate`,
    /// and the metadata lists only post.
    pub post_only: bool,
    /// Decodes Basic credentials with `+` as a plus sign instead of a space (a wrong
    /// server: RFC 6749 §2.3.1 says form-urldecode).
    pub basic_plus_as_plus: bool,

    // Broken token endpoints.
    /// `/token` answers 302 to another path.
    pub token_redirects: bool,
    /// `/token` answers more than 1 MiB, with a `Content-Length`.
    pub oversized_body: bool,
    /// `/token` answers more than 1 MiB, chunked (no length known up front).
    pub oversized_chunked: bool,
    /// `/token` sleeps for [`SLOW_ANSWER`] before answering.
    pub slow: bool,
    /// `/token` answers a proxy's HTML `502 Bad Gateway` page.
    pub html_502: bool,
    /// `/token` answers truncated JSON that holds [`LEAKY_TOKEN`].
    pub invalid_json: bool,
}

/// How long the `slow` quirk sleeps; tests use a much shorter client timeout.
pub const SLOW_ANSWER: std::time::Duration = std::time::Duration::from_secs(5);

/// An RFC 6749 §5.2 error; `401` for `invalid_client` comes with `WWW-Authenticate`.
fn oauth_error(q: &Quirks, status: StatusCode, code: &str, desc: &str) -> Response {
    let body = json!({
        "error": code,
        "error_description": desc,
        "error_uri": format!("{ERROR_URI}#{code}"),
    });
    if q.error_in_200 {
        return axum::Json(body).into_response();
    }
    let mut resp = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"test\""),
        );
    }
    resp
}

pub(super) fn invalid_client(q: &Quirks, desc: &str) -> Response {
    oauth_error(q, StatusCode::UNAUTHORIZED, "invalid_client", desc)
}

pub(super) fn bad_request(q: &Quirks, code: &str, desc: &str) -> Response {
    oauth_error(q, StatusCode::BAD_REQUEST, code, desc)
}

/// Like RFC 6749 §2.3.1 decoding, but with `+` kept as a plus sign: a wrong server.
fn decode_basic_plus_literal(value: &str) -> Option<(String, String)> {
    let raw = value.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let dec = |s: &str| params(format!("x={}", s.replace('+', "%2B")).as_bytes())["x"].clone();
    Some((dec(id), dec(secret)))
}

/// Client authentication (RFC 6749 §2.3): Basic, post, or a public client's `client_id`.
/// The error is the answer to send, hence its size.
#[allow(clippy::result_large_err)]
pub(super) fn authenticate(
    q: &Quirks,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<&'static Client, Response> {
    if let Some(h) = headers.get(header::AUTHORIZATION) {
        if q.post_only {
            return Err(invalid_client(q, "client_secret_basic is not accepted"));
        }
        let h = h.to_str().unwrap_or("");
        let decoded = if q.basic_plus_as_plus {
            decode_basic_plus_literal(h)
        } else {
            decode_basic_authorization(h)
        };
        let Some((id, secret)) = decoded else {
            return Err(invalid_client(q, "malformed Basic credentials"));
        };
        if form.contains_key("client_secret") {
            return Err(bad_request(
                q,
                "invalid_request",
                "more than one client authentication method",
            ));
        }
        return match find_client(&id) {
            Some(c) if c.secret == Some(secret.as_str()) => Ok(c),
            _ => Err(invalid_client(q, "client authentication failed")),
        };
    }
    let id = form.get("client_id").map(String::as_str).unwrap_or("");
    match (find_client(id), form.get("client_secret")) {
        (Some(c), Some(s)) if c.secret == Some(s.as_str()) => Ok(c),
        (Some(c), None) if c.secret.is_none() => Ok(c),
        _ => Err(invalid_client(q, "client authentication failed")),
    }
}

/// A successful token response, shaped by the quirks.
pub(super) fn token_response(
    q: &Quirks,
    access: &str,
    refresh: Option<&str>,
    scope: &str,
) -> Response {
    let mut f: Vec<(&str, Value)> = vec![("access_token", json!(access))];
    if !q.token_type_missing {
        let tt = if q.token_type_lowercase {
            "bearer"
        } else {
            "Bearer"
        };
        f.push(("token_type", json!(tt)));
    }
    if !q.no_expires_in {
        let key = if q.expires_instead_of_expires_in {
            "expires"
        } else {
            "expires_in"
        };
        let v = if q.expires_in_string {
            json!(LIFETIME.to_string())
        } else {
            json!(LIFETIME)
        };
        f.push((key, v));
    }
    if let Some(r) = refresh {
        f.push(("refresh_token", json!(r)));
    }
    if !q.no_scope {
        let sc = if q.comma_scope {
            scope.replace(' ', ",")
        } else {
            scope.to_owned()
        };
        f.push(("scope", json!(sc)));
    }
    let no_store = [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ];
    if q.form_encoded_token || q.text_plain_token {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &f {
            match v {
                Value::String(s) => ser.append_pair(k, s),
                other => ser.append_pair(k, &other.to_string()),
            };
        }
        let ct = if q.text_plain_token {
            "text/plain; charset=utf-8"
        } else {
            "application/x-www-form-urlencoded"
        };
        return (no_store, [(header::CONTENT_TYPE, ct)], ser.finish()).into_response();
    }
    let m: Map<String, Value> = f.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    (no_store, axum::Json(m)).into_response()
}

/// Answers of a broken token endpoint, before any OAuth processing.
pub(super) async fn broken_answer(s: &Shared, q: &Quirks) -> Option<Response> {
    if q.slow {
        tokio::time::sleep(SLOW_ANSWER).await;
    }
    let big = || "x".repeat((1 << 20) + 1024);
    if q.token_redirects {
        let to = format!("{}/elsewhere", s.base_url);
        return Some((StatusCode::FOUND, [(header::LOCATION, to)]).into_response());
    }
    if q.html_502 {
        let page = "<html><body><h1>502 Bad Gateway</h1></body></html>";
        return Some(
            (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html")],
                page,
            )
                .into_response(),
        );
    }
    if q.oversized_body {
        let body = format!("{{\"access_token\":\"{}\"}}", big());
        return Some(([(header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    if q.oversized_chunked {
        let chunks = (0..20).map(|_| Ok::<_, Infallible>(Bytes::from("x".repeat(64 * 1024))));
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        return Some(([(header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    if q.invalid_json {
        let body = format!("{{\"access_token\":\"{LEAKY_TOKEN}\",\"token_type\":");
        return Some(([(header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    None
}
