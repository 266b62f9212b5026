//! The authorization endpoint (RFC 6749 §4.1.1) with login and consent pages.
//!
//! The parameters come in the query (or a form body), in a signed request object
//! (`request`, RFC 9101, see [`crate::request_object`]), or from a pushed request
//! (`request_uri`, RFC 9126, see [`super::par`]); they are checked by
//! [`crate::authz_request::validate`], the same checks `/par` makes. Until client and
//! redirect URI are known to be good, every error is a page at the provider; after that,
//! errors go back to the client as `error=...` with `state` and `iss` (RFC 9207). A
//! request object that does not verify is an error page too: its redirect URI is not
//! trusted, and the outer one is ignored (RFC 9101 §6.3).

use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use subtle::ConstantTimeEq as _;

use crate::authz_request::{Origin, Refusal, Request, validate};
use crate::device_store::DeviceState;
use crate::endpoints::device_page;
use crate::form::{self, Params};
use crate::grant_store::StoreError;
use crate::hashing::{PasswordHash, is_random_id, random_token, sha256};
use crate::pages::{self, error_page};
use crate::provider::Shared;
use crate::store::{CodeRecord, Pending};
use crate::time::now;

/// How long a login may take, in seconds.
pub(crate) const LOGIN_TTL: u64 = 600;
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

/// `GET /authorize`: the parameters in the query.
pub(crate) async fn start(State(s): crate::provider::State, RawQuery(q): RawQuery) -> Response {
    match Params::parse(q.unwrap_or_default().as_bytes()) {
        Ok(params) => authorize(&s, &params).await,
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
        Ok(params) => authorize(&s, &params).await,
        Err(r) => error_page(
            StatusCode::BAD_REQUEST,
            &format!("The request cannot be used: {r}."),
        ),
    }
}

async fn authorize(s: &Shared, params: &Params) -> Response {
    let found = match params.get("client_id") {
        Some(id) => match s.client(id).await {
            Ok(c) => c,
            // Nothing about the client is verified: an error page, never a redirect.
            Err(e) => {
                return error_page(
                    e.status,
                    &format!(
                        "The application cannot be used ({}): {}.",
                        e.error,
                        e.error_description.as_deref().unwrap_or("no details")
                    ),
                );
            }
        },
        None => None,
    };
    let Some(client) = found.as_deref() else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The application is not known here (missing or unknown client_id).",
        );
    };
    let now = now();
    let req = if let Some(uri) = params.get("request_uri") {
        if params.get("request").is_some() {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Send either request or request_uri, not both.",
            );
        }
        // RFC 9126 §4: only the pushed parameters count; the rest of the query is ignored.
        match s.store.take_request(uri, client.id.as_str(), now).await {
            Ok(Some(req)) => req,
            Err(e) => return store_down(&e),
            Ok(None) => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "The request_uri is unknown, expired, already used, or was pushed by another application (invalid_request_uri).",
                );
            }
        }
    } else {
        let object;
        let (params, signed) = match params.get("request") {
            Some(jwt) => match crate::request_object::verify(s, client, jwt) {
                Ok(p) => {
                    object = p;
                    (&object, true)
                }
                Err(why) => {
                    return error_page(
                        StatusCode::BAD_REQUEST,
                        &format!(
                            "The request object cannot be used (invalid_request_object): {why}."
                        ),
                    );
                }
            },
            None => (params, false),
        };
        let origin = Origin {
            pushed: false,
            signed,
        };
        match validate(s, client, params, origin) {
            Ok(req) => req,
            Err(refusal) => return refuse(s, refusal),
        }
    };
    let reply = Reply {
        s,
        redirect_uri: &req.redirect_uri,
        state: req.state.as_deref(),
        status: StatusCode::FOUND,
    };
    if let Some(auto) = &s.settings.auto_approve {
        let user = req
            .login_hint
            .as_deref()
            .filter(|h| s.registry.users.contains_key(*h))
            .unwrap_or(auto);
        let code = match issue_code(s, &req, user, now, now).await {
            Ok(Some(code)) => code,
            Ok(None) => return too_many_codes(&reply),
            Err(e) => return store_down_redirect(&reply, &e),
        };
        tracing::info!(client = %req.client_id, user, "auto-approved");
        return reply.send(&[("code", &code)]);
    }
    let csrf = random_token();
    let client_id = req.client_id.clone();
    let pending = Pending {
        client_id: req.client_id,
        redirect_uri: req.redirect_uri,
        redirect_uri_given: req.redirect_uri_given,
        state: req.state,
        scope: req.scope,
        challenge: req.challenge,
        nonce: req.nonce,
        dpop_jkt: req.dpop_jkt,
        csrf: csrf.clone(),
        user: None,
        auth_time: 0,
        expires: now + LOGIN_TTL,
        attempts: 0,
        device: None,
    };
    let id = match s.store.insert_pending(pending, now).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many sign-ins are in progress; try again in a few minutes.",
            );
        }
        Err(e) => return store_down(&e),
    };
    login_page(&id, &csrf, &client_id)
}

/// The page when the store cannot answer.
pub(crate) fn store_down(e: &StoreError) -> Response {
    tracing::error!(error = %e, "store unavailable");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The sign-in service is unavailable right now; try again in a minute.",
    )
}

/// The store cannot answer once the redirect URI is known: the client hears of it.
fn store_down_redirect(reply: &Reply<'_>, e: &StoreError) -> Response {
    tracing::error!(error = %e, "store unavailable");
    reply.error(
        "temporarily_unavailable",
        "the authorization server's store is unavailable; try again shortly",
    )
}

/// A refused request: a page, or an error sent to the validated redirect URI.
fn refuse(s: &Shared, refusal: Refusal) -> Response {
    match refusal {
        Refusal::Page { message, .. } => error_page(StatusCode::BAD_REQUEST, &message),
        Refusal::Redirect {
            redirect_uri,
            state,
            error,
            description,
        } => Reply {
            s,
            redirect_uri: &redirect_uri,
            state: state.as_deref(),
            status: StatusCode::FOUND,
        }
        .error(error, &description),
    }
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
async fn issue_code(
    s: &Shared,
    req: &Request,
    user: &str,
    auth_time: u64,
    now: u64,
) -> Result<Option<String>, StoreError> {
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
            dpop_jkt: req.dpop_jkt.clone(),
        },
        now,
    );
    Ok(stored.await?.then_some(code))
}

/// The pending login a form post belongs to, after the CSRF checks: the token in the
/// form must equal the one stored with the login and the one in the cookie.
// The error is the page to show; boxing it would only move the allocation.
#[allow(clippy::result_large_err)]
async fn checked_pending(
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
    let id = params
        .get("pending")
        .filter(|id| is_random_id(id))
        .ok_or_else(expired)?
        .to_owned();
    let pending = s
        .store
        .pending(&id, now())
        .await
        .map_err(|e| store_down(&e))?
        .ok_or_else(expired)?;
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
    let (params, id, pending) = match checked_pending(&s, &headers, body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let now = now();
    if params.get("action") == Some("cancel") {
        if let Err(e) = s.store.remove_pending(&id, now).await {
            return store_down(&e);
        }
        let resp = match &pending.device {
            Some(d) => device_page::finish(&s, d, DeviceState::Denied, now).await,
            None => {
                reply_for(&s, &pending).error("access_denied", "the user cancelled the sign-in")
            }
        };
        return clear_cookie(resp, &id);
    }
    // Reserve an attempt before checking, so parallel posts cannot exceed the limit.
    match s.store.begin_login_attempt(&id, now).await {
        Ok(true) => {}
        Ok(false) => return too_many(&s, &id, &pending, now).await,
        Err(e) => return store_down(&e),
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
        match s.store.login_failed(&id, now).await {
            Ok(true) => return too_many(&s, &id, &pending, now).await,
            Ok(false) => {}
            Err(e) => return store_down(&e),
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
    if let Err(e) = s.store.set_pending_user(&id, &user.username, now).await {
        return store_down(&e);
    }
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

/// Ends a login after too many wrong passwords.
async fn too_many(s: &Shared, id: &str, pending: &Pending, now: u64) -> Response {
    tracing::info!(client = %pending.client_id, "sign-in ended after too many failed attempts");
    if let Err(e) = s.store.remove_pending(id, now).await {
        return store_down(&e);
    }
    let resp = match &pending.device {
        Some(d) => device_page::finish(s, d, DeviceState::Denied, now).await,
        None => reply_for(s, pending).error(
            "access_denied",
            "too many failed sign-in attempts; start again from the application",
        ),
    };
    clear_cookie(resp, id)
}

pub(crate) async fn consent(
    State(s): crate::provider::State,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (params, id, _) = match checked_pending(&s, &headers, body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let now = now();
    let pending = match s.store.remove_pending(&id, now).await {
        Ok(Some(p)) => p,
        Ok(None) => return error_page(StatusCode::BAD_REQUEST, "This sign-in has expired."),
        Err(e) => return store_down(&e),
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
        return clear_cookie(device_page::finish(&s, device, decision, now).await, &id);
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
                dpop_jkt: pending.dpop_jkt.clone(),
            };
            match issue_code(&s, &req, &user, pending.auth_time, now).await {
                Ok(Some(code)) => {
                    tracing::info!(client = %pending.client_id, user, "consent given");
                    reply.send(&[("code", &code)])
                }
                Ok(None) => too_many_codes(&reply),
                Err(e) => store_down_redirect(&reply, &e),
            }
        }
        _ => reply.error("access_denied", "the user denied access"),
    };
    clear_cookie(resp, &id)
}
