//! The verification page of the device flow (RFC 8628 §3.3): `GET /device` shows a form
//! for the user code (prefilled from `verification_uri_complete`), `POST /device` checks
//! it and continues with the same login and consent pages as the code flow; the decision
//! is recorded for the device instead of being redirected anywhere.
//!
//! The form is protected like the login pages: a random token in a `SameSite`,
//! `HttpOnly` cookie that the form must repeat. With auto-approve, a valid code (in the
//! query or the form) is approved at once as the auto-approve user.

use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use bytes::Bytes;
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue, StatusCode};
use subtle::ConstantTimeEq as _;

use super::authorize::{LOGIN_TTL, cookie, login_page, store_down};
use crate::device_store::{DeviceInfo, DeviceState};
use crate::form::{self, Params};
use crate::grant_store::StoreError;
use crate::hashing::{Digest, random_token};
use crate::pages::{self, error_page};
use crate::provider::Shared;
use crate::store::Pending;
use crate::time::now;
use crate::user_code;

/// The cookie holding the form's CSRF token.
const CSRF_COOKIE: &str = "authflow_device_csrf";
/// The longest user code input echoed back into the form.
const MAX_ECHO: usize = 32;

/// `GET /device[?user_code=...]`.
pub(crate) async fn show(
    State(s): crate::provider::State,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let Ok(params) = Params::parse(q.unwrap_or_default().as_bytes()) else {
        return error_page(StatusCode::BAD_REQUEST, "The address cannot be used.");
    };
    let given = params.get("user_code").unwrap_or_default();
    if let Some(auto) = &s.settings.auto_approve
        && !given.is_empty()
    {
        return match lookup(&s, given).await {
            Ok(Some(info)) => approve_now(&s, &info, auto).await,
            Ok(None) => form(&headers, given, Some(WRONG_CODE), StatusCode::BAD_REQUEST),
            Err(e) => store_down(&e),
        };
    }
    form(&headers, given, None, StatusCode::OK)
}

/// `POST /device`: the code entered.
pub(crate) async fn submit(
    State(s): crate::provider::State,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return error_page(StatusCode::BAD_REQUEST, "The form could not be read.");
    };
    if !form::is_form(&headers) {
        return error_page(StatusCode::BAD_REQUEST, "Expected a form submission.");
    }
    let Ok(params) = Params::parse(&body) else {
        return error_page(StatusCode::BAD_REQUEST, "The form cannot be used.");
    };
    let form_csrf = params.get("csrf").unwrap_or_default();
    let cookie_csrf = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    if form_csrf.is_empty() || !bool::from(form_csrf.as_bytes().ct_eq(cookie_csrf.as_bytes())) {
        return error_page(
            StatusCode::FORBIDDEN,
            "The form did not come from this page (CSRF check failed). Open the page again.",
        );
    }
    let given = params.get("user_code").unwrap_or_default();
    let info = match lookup(&s, given).await {
        Ok(Some(info)) => info,
        Ok(None) => {
            tracing::info!("wrong or expired user code entered");
            return form(&headers, given, Some(WRONG_CODE), StatusCode::BAD_REQUEST);
        }
        Err(e) => return store_down(&e),
    };
    if let Some(auto) = &s.settings.auto_approve {
        return approve_now(&s, &info, auto).await;
    }
    let now = now();
    let csrf = random_token();
    let pending = Pending {
        client_id: info.client_id.clone(),
        redirect_uri: String::new(),
        redirect_uri_given: false,
        state: None,
        scope: info.scope,
        challenge: None,
        nonce: None,
        dpop_jkt: None,
        csrf: csrf.clone(),
        user: None,
        auth_time: 0,
        expires: now + LOGIN_TTL,
        attempts: 0,
        device: Some(info.device),
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
    login_page(&id, &csrf, &info.client_id)
}

const WRONG_CODE: &str = "That code is not valid or has expired. Check the code on your device.";

async fn lookup(s: &Shared, given: &str) -> Result<Option<DeviceInfo>, StoreError> {
    let Some(code) = user_code::normalize(given) else {
        return Ok(None);
    };
    s.store.device_by_user_code(&code, now()).await
}

async fn approve_now(s: &Shared, info: &DeviceInfo, user: &str) -> Response {
    let now = now();
    tracing::info!(client = %info.client_id, user, "device auto-approved");
    let decision = DeviceState::Approved {
        user: user.to_owned(),
        auth_time: now,
    };
    finish(s, &info.device, decision, now).await
}

/// Records the user's decision for a device and shows the outcome.
pub(crate) async fn finish(
    s: &Shared,
    device: &Digest,
    decision: DeviceState,
    now: u64,
) -> Response {
    let approved = matches!(decision, DeviceState::Approved { .. });
    match s.store.decide_device(device, decision, now).await {
        Ok(true) => {}
        Ok(false) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This code has expired or was already used. Start again on your device.",
            );
        }
        Err(e) => return store_down(&e),
    }
    let title = if approved {
        "Device connected"
    } else {
        "Access denied"
    };
    pages::page(StatusCode::OK, title, &pages::device_done(approved))
}

/// The code entry form, with its CSRF cookie (the one already set, if any, so that
/// several tabs work).
fn form(headers: &HeaderMap, given: &str, error: Option<&str>, status: StatusCode) -> Response {
    let csrf = cookie(headers, CSRF_COOKIE)
        .filter(|c| {
            c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(random_token, str::to_owned);
    let echo: String = given.chars().take(MAX_ECHO).collect();
    let mut resp = pages::page(
        status,
        "Connect a device",
        &pages::device_form(&csrf, &echo, error),
    );
    let cookie =
        format!("{CSRF_COOKIE}={csrf}; Path=/device; HttpOnly; SameSite=Lax; Max-Age={LOGIN_TTL}");
    if let Ok(v) = HeaderValue::try_from(cookie) {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    resp
}
