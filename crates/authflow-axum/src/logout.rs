//! `POST /logout`: CSRF-protected (this session's token in the form, and no request from
//! another origin); revokes at the provider, deletes the tokens and the session.

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::response::{IntoResponse, Redirect, Response};
use http::HeaderMap;
use http::header::ORIGIN;
use serde::Deserialize;
use tower_sessions::Session;

use crate::auth::Auth;
use crate::csrf::tokens_match;
use crate::error::AuthError;
use crate::session::{LOGIN_KEY, LoginRecord, end_login};

#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn end(
    State(auth): State<Auth>,
    session: Session,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Result<Response, AuthError> {
    if !same_origin(&auth, &headers) {
        return Err(AuthError::CrossOrigin);
    }
    let Some(login) = session.get::<LoginRecord>(LOGIN_KEY).await? else {
        // Nobody to sign out; nothing to protect.
        return Ok(Redirect::to(&auth.inner.after_logout).into_response());
    };
    let given = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if !tokens_match(&given, &login.csrf) {
        return Err(AuthError::Csrf);
    }
    end_login(&auth, &login, true).await;
    session.flush().await?;
    tracing::info!(sub = %login.user.subject, "signed out");
    Ok(Redirect::to(&auth.inner.after_logout).into_response())
}

/// `Origin`, when the browser sends it, must be this site; `Sec-Fetch-Site`, when sent,
/// must not say `cross-site`.
fn same_origin(auth: &Auth, headers: &HeaderMap) -> bool {
    let origin_ok = headers.get(ORIGIN).is_none_or(|o| {
        o.to_str()
            .is_ok_and(|o| o == auth.inner.origin.origin().ascii_serialization())
    });
    let site_ok = headers
        .get("sec-fetch-site")
        .is_none_or(|v| v.as_bytes() != b"cross-site");
    origin_ok && site_ok
}
