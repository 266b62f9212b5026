//! The authorization endpoint (RFC 6749 §4.1.1) with login and consent pages.
//!
//! Until client and redirect URI are known to be good, every error is a page at the
//! provider; after that, errors go back to the client as `error=...` with `state` and
//! `iss` (RFC 9207). PKCE `S256` is required for public clients; `plain` is refused.
//!
//! `state` and `nonce` are stored with the login and the code, so they are limited to
//! [`MAX_ECHO_BYTES`]. A `nonce` that is too long is an `invalid_request` redirect (with
//! `state`). A `state` that is too long is an error page: it cannot be echoed (that is
//! what the limit prevents), and a redirect without it would look to the client like a
//! forged response.

use authflow::types::Scope;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use subtle::ConstantTimeEq as _;

use crate::device_store::DeviceState;
use crate::endpoints::device_page;
use crate::form::{self, Params};
use crate::hashing::{PasswordHash, random_token, sha256};
use crate::pages::{self, error_page};
use crate::provider::Shared;
use crate::redirect;
use crate::registry::{ClientKind, GrantType};
use crate::store::{CodeRecord, Pending};
use crate::time::now;

/// How long a login may take, in seconds.
pub(crate) const LOGIN_TTL: u64 = 600;
/// The longest `state` or `nonce` accepted, in bytes.
pub(crate) const MAX_ECHO_BYTES: usize = 512;

/// Where to send the answer: the validated redirect URI and the client's `state`.
struct Reply<'a> {
    s: &'a Shared,
    redirect_uri: &'a str,
    state: Option<&'a str>,
    status: StatusCode,
}

impl Reply<'_> {
    fn send(&self, params: &[(&str, &str)]) -> Response {
        let Ok(mut url) = url::Url::parse(self.redirect_uri) else {
            return error_page(StatusCode::BAD_REQUEST, "The redirect URI is invalid.");
        };
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
            if let Some(state) = self.state {
                q.append_pair("state", state);
            }
            if !self.s.settings.quirks.no_iss_on_redirect {
                q.append_pair("iss", &self.s.issuer_str);
            }
        }
        match HeaderValue::try_from(url.as_str()) {
            Ok(v) => {
                let mut resp = self.status.into_response();
                resp.headers_mut().insert(LOCATION, v);
                resp.headers_mut().insert(
                    http::header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                );
                resp
            }
            Err(_) => error_page(StatusCode::BAD_REQUEST, "The redirect URI is invalid."),
        }
    }

    fn error(&self, code: &str, description: &str) -> Response {
        self.send(&[("error", code), ("error_description", description)])
    }
}

/// Everything a valid authorization request carries.
struct Request {
    client_id: String,
    redirect_uri: String,
    redirect_uri_given: bool,
    state: Option<String>,
    scope: Scope,
    challenge: Option<String>,
    nonce: Option<String>,
    login_hint: Option<String>,
}

fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /authorize`: the parameters in the query.
pub(crate) async fn start(State(s): crate::provider::State, RawQuery(q): RawQuery) -> Response {
    match Params::parse(q.unwrap_or_default().as_bytes()) {
        Ok(params) => authorize(&s, &params),
        Err(r) => error_page(
            StatusCode::BAD_REQUEST,
            &format!("The request cannot be used: {r}."),
        ),
    }
}

/// `POST /authorize` (OpenID Connect Core §3.1.2.1: servers MUST support it): the same
/// parameters, form-encoded in the body. A query as well is refused rather than merged.
pub(crate) async fn start_post(
    State(s): crate::provider::State,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The request body could not be read.",
        );
    };
    if !form::is_form(&headers) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Expected the parameters as a form (application/x-www-form-urlencoded).",
        );
    }
    if q.is_some_and(|q| !q.is_empty()) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Send the parameters either in the query (GET) or in the body (POST), not both.",
        );
    }
    match Params::parse(&body) {
        Ok(params) => authorize(&s, &params),
        Err(r) => error_page(
            StatusCode::BAD_REQUEST,
            &format!("The request cannot be used: {r}."),
        ),
    }
}

fn authorize(s: &Shared, params: &Params) -> Response {
    let Some(client) = params
        .get("client_id")
        .and_then(|id| s.registry.clients.get(id))
    else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The application is not known here (missing or unknown client_id).",
        );
    };
    if !client.allows(GrantType::AuthorizationCode) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This application may not use sign-in (authorization_code is not allowed).",
        );
    }
    let given = params.get("redirect_uri");
    let any_port = client.kind == ClientKind::Public;
    let Some(redirect_uri) = redirect::resolve(&client.redirect_uris, given, any_port) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The redirect URI is missing or not registered for this application.",
        );
    };
    let redirect_uri = redirect_uri.to_string();
    if params
        .get("state")
        .is_some_and(|st| st.len() > MAX_ECHO_BYTES)
    {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("The state parameter is longer than {MAX_ECHO_BYTES} bytes."),
        );
    }
    let reply = Reply {
        s,
        redirect_uri: &redirect_uri,
        state: params.get("state"),
        status: StatusCode::FOUND,
    };
    match params.get("response_type") {
        Some("code") => {}
        None => return reply.error("invalid_request", "response_type is missing"),
        Some(_) => {
            return reply.error(
                "unsupported_response_type",
                "only response_type=code is supported",
            );
        }
    }
    let scope = match params.get("scope").map(Scope::parse).transpose() {
        Ok(Some(scope)) if scope.is_subset_of(&client.scope) => scope,
        Ok(Some(_)) => {
            return reply.error(
                "invalid_scope",
                "the application may not ask for this scope",
            );
        }
        Ok(None) => client.scope.clone(),
        Err(_) => return reply.error("invalid_scope", "the scope is malformed"),
    };
    let challenge = params.get("code_challenge");
    match (challenge, params.get("code_challenge_method")) {
        (None, None) if client.kind == ClientKind::Public => {
            return reply.error(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            );
        }
        (None, None) => {}
        (None, Some(_)) => return reply.error("invalid_request", "code_challenge is missing"),
        (Some(_), Some("S256")) => {}
        (Some(_), _) => {
            return reply.error(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not supported)",
            );
        }
    }
    if challenge.is_some_and(|c| !is_s256_challenge(c)) {
        return reply.error(
            "invalid_request",
            "code_challenge must be a base64url SHA-256 value (43 characters)",
        );
    }
    let nonce = params.get("nonce");
    if nonce.is_some_and(|n| n.len() > MAX_ECHO_BYTES) {
        return reply.error(
            "invalid_request",
            &format!("nonce is longer than {MAX_ECHO_BYTES} bytes"),
        );
    }
    let req = Request {
        client_id: client.id.as_str().to_owned(),
        redirect_uri_given: given.is_some(),
        redirect_uri: redirect_uri.clone(),
        state: reply.state.map(str::to_owned),
        scope,
        challenge: challenge.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        login_hint: params.get("login_hint").map(str::to_owned),
    };
    let now = now();
    if let Some(auto) = &s.settings.auto_approve {
        let user = req
            .login_hint
            .as_deref()
            .filter(|h| s.registry.users.contains_key(*h))
            .unwrap_or(auto);
        let Some(code) = issue_code(s, &req, user, now, now) else {
            return too_many_codes(&reply);
        };
        tracing::info!(client = %req.client_id, user, "auto-approved");
        return reply.send(&[("code", &code)]);
    }
    let csrf = random_token();
    let pending = Pending {
        client_id: req.client_id.clone(),
        redirect_uri: req.redirect_uri,
        redirect_uri_given: req.redirect_uri_given,
        state: req.state,
        scope: req.scope,
        challenge: req.challenge,
        nonce: req.nonce,
        csrf: csrf.clone(),
        user: None,
        auth_time: 0,
        expires: now + LOGIN_TTL,
        attempts: 0,
        device: None,
    };
    let Some(id) = s.store.insert_pending(pending, now) else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many sign-ins are in progress; try again in a few minutes.",
        );
    };
    login_page(&id, &csrf, &req.client_id)
}

/// The login page of a new pending sign-in, with its CSRF cookie.
pub(crate) fn login_page(id: &str, csrf: &str, client_id: &str) -> Response {
    let mut resp = pages::page(
        StatusCode::OK,
        "Sign in",
        &pages::login(id, csrf, client_id, None),
    );
    let cookie = format!(
        "{}={csrf}; Path=/authorize; HttpOnly; SameSite=Lax; Max-Age={LOGIN_TTL}",
        cookie_name(id)
    );
    if let Ok(v) = HeaderValue::try_from(cookie) {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    resp
}

fn cookie_name(pending: &str) -> String {
    format!("authflow_csrf_{pending}")
}

/// The answer when the store holds as many codes as it may.
fn too_many_codes(reply: &Reply<'_>) -> Response {
    reply.error(
        "temporarily_unavailable",
        "too many authorization codes are outstanding; try again in a minute",
    )
}

/// A fresh code for `req`; `None` when too many codes are outstanding.
fn issue_code(s: &Shared, req: &Request, user: &str, auth_time: u64, now: u64) -> Option<String> {
    let code = random_token();
    let stored = s.store.insert_code(
        sha256(code.as_bytes()),
        CodeRecord {
            client_id: req.client_id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            redirect_uri_given: req.redirect_uri_given,
            challenge: req.challenge.clone(),
            scope: req.scope.clone(),
            user: user.to_owned(),
            nonce: req.nonce.clone(),
            auth_time,
            expires: now + s.settings.code_ttl,
        },
        now,
    );
    stored.then_some(code)
}

/// The pending login a form post belongs to, after the CSRF checks: the token in the
/// form must equal the one stored with the login and the one in the cookie.
// The error is the page to show; boxing it would only move the allocation.
#[allow(clippy::result_large_err)]
fn checked_pending(
    s: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Params, String, Pending), Response> {
    let body = body.map_err(|r| error_page(r.status(), "The form could not be read."))?;
    if !form::is_form(headers) {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "Expected a form submission.",
        ));
    }
    let params = Params::parse(&body).map_err(|r| {
        error_page(
            StatusCode::BAD_REQUEST,
            &format!("The form cannot be used: {r}."),
        )
    })?;
    let expired = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired or was already finished. Start again from the application.",
        )
    };
    let id = params.get("pending").ok_or_else(expired)?.to_owned();
    let pending = s.store.pending(&id, now()).ok_or_else(expired)?;
    let form_csrf = params.get("csrf").unwrap_or_default();
    let cookie_csrf = cookie(headers, &cookie_name(&id)).unwrap_or_default();
    let ok = form_csrf.as_bytes().ct_eq(pending.csrf.as_bytes())
        & cookie_csrf.as_bytes().ct_eq(pending.csrf.as_bytes());
    if !bool::from(ok) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "The form did not come from this sign-in (CSRF check failed). Start again from the application.",
        ));
    }
    Ok((params, id, pending))
}

pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

fn reply_for<'a>(s: &'a Shared, p: &'a Pending) -> Reply<'a> {
    Reply {
        s,
        redirect_uri: &p.redirect_uri,
        state: p.state.as_deref(),
        status: StatusCode::SEE_OTHER,
    }
}

fn clear_cookie(mut resp: Response, id: &str) -> Response {
    let v = format!(
        "{}=; Path=/authorize; HttpOnly; SameSite=Lax; Max-Age=0",
        cookie_name(id)
    );
    if let Ok(v) = HeaderValue::try_from(v) {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    resp
}

pub(crate) async fn login(
    State(s): crate::provider::State,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (params, id, pending) = match checked_pending(&s, &headers, body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let now = now();
    if params.get("action") == Some("cancel") {
        s.store.remove_pending(&id, now);
        let resp = match &pending.device {
            Some(d) => device_page::finish(&s, d, DeviceState::Denied, now),
            None => {
                reply_for(&s, &pending).error("access_denied", "the user cancelled the sign-in")
            }
        };
        return clear_cookie(resp, &id);
    }
    let too_many = || {
        tracing::info!(client = %pending.client_id, "sign-in ended after too many failed attempts");
        s.store.remove_pending(&id, now);
        let resp = match &pending.device {
            Some(d) => device_page::finish(&s, d, DeviceState::Denied, now),
            None => reply_for(&s, &pending).error(
                "access_denied",
                "too many failed sign-in attempts; start again from the application",
            ),
        };
        clear_cookie(resp, &id)
    };
    // Reserve an attempt before checking, so parallel posts cannot exceed the limit.
    if !s.store.begin_login_attempt(&id, now) {
        return too_many();
    }
    let username = params.get("username").unwrap_or_default().to_owned();
    let password = zeroize::Zeroizing::new(params.get("password").unwrap_or_default().to_owned());
    drop(params);
    let checker = s.clone();
    // PBKDF2 takes tens of milliseconds: off the async workers.
    let good = tokio::task::spawn_blocking(move || {
        // The same work whether or not the user exists, so timing says nothing.
        let user = checker.registry.users.get(&username);
        let hash = user.map_or(PasswordHash::unknown_user(), |u| &u.password_hash);
        hash.matches(&password).then_some(username)
    })
    .await
    .ok()
    .flatten();
    let Some(user) = good.and_then(|name| s.registry.users.get(&name)) else {
        tracing::info!(client = %pending.client_id, "failed login");
        if s.store.login_failed(&id, now) {
            return too_many();
        }
        return pages::page(
            StatusCode::UNAUTHORIZED,
            "Sign in",
            &pages::login(
                &id,
                &pending.csrf,
                &pending.client_id,
                Some("Wrong user name or password."),
            ),
        );
    };
    s.store.set_pending_user(&id, &user.username, now);
    let scopes: Vec<&str> = pending.scope.iter().map(|t| t.as_str()).collect();
    pages::page(
        StatusCode::OK,
        "Allow access?",
        &pages::consent(
            &id,
            &pending.csrf,
            &pending.client_id,
            &user.username,
            &scopes,
        ),
    )
}

pub(crate) async fn consent(
    State(s): crate::provider::State,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (params, id, _) = match checked_pending(&s, &headers, body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let now = now();
    let Some(pending) = s.store.remove_pending(&id, now) else {
        return error_page(StatusCode::BAD_REQUEST, "This sign-in has expired.");
    };
    let Some(user) = pending.user.clone() else {
        return error_page(StatusCode::BAD_REQUEST, "Sign in before giving consent.");
    };
    if let Some(device) = &pending.device {
        let decision = match params.get("decision") {
            Some("allow") => DeviceState::Approved {
                user,
                auth_time: pending.auth_time,
            },
            _ => DeviceState::Denied,
        };
        return clear_cookie(device_page::finish(&s, device, decision, now), &id);
    }
    let reply = reply_for(&s, &pending);
    let resp = match params.get("decision") {
        Some("allow") => {
            let req = Request {
                client_id: pending.client_id.clone(),
                redirect_uri: pending.redirect_uri.clone(),
                redirect_uri_given: pending.redirect_uri_given,
                state: pending.state.clone(),
                scope: pending.scope.clone(),
                challenge: pending.challenge.clone(),
                nonce: pending.nonce.clone(),
                login_hint: None,
            };
            match issue_code(&s, &req, &user, pending.auth_time, now) {
                Some(code) => {
                    tracing::info!(client = %pending.client_id, user, "consent given");
                    reply.send(&[("code", &code)])
                }
                None => too_many_codes(&reply),
            }
        }
        _ => reply.error("access_denied", "the user denied access"),
    };
    clear_cookie(resp, &id)
}
