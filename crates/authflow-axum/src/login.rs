//! `GET /login`: starts a sign-in. `state`, the PKCE verifier, the nonce and the return
//! URL go into a server-side record; the browser gets its id in a short-lived cookie and
//! is sent to the authorization server.

use authflow::random::OsRandom;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::HeaderValue;
use http::header::CACHE_CONTROL;

use crate::auth::Auth;
use crate::error::AuthError;
use crate::flow_cookie;
use crate::return_to::same_origin_path;
use crate::store::{PendingLogin, create_pending};

pub(crate) async fn start(
    State(auth): State<Auth>,
    RawQuery(query): RawQuery,
) -> Result<Response, AuthError> {
    let i = &auth.inner;
    let asked = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "return_to")
            .map(|(_, v)| v.into_owned())
    });
    let return_to = match asked.as_deref() {
        Some(raw) => same_origin_path(raw, &i.origin).unwrap_or_else(|| {
            tracing::info!("refusing an off-site return_to; going home after sign-in");
            "/".to_owned()
        }),
        None => "/".to_owned(),
    };
    let (url, pending) = i
        .client
        .authorization_request(i.redirect_uri.clone())?
        .scope(i.scope.clone())
        .build(&mut OsRandom)
        .map_err(authflow::client::Error::from)?;
    let id = create_pending(&i.store, &PendingLogin { pending, return_to }, i.flow_ttl).await?;
    let mut resp = Redirect::to(url.as_str()).into_response();
    flow_cookie::append(
        resp.headers_mut(),
        flow_cookie::set(id, i.flow_ttl, i.secure),
    );
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
