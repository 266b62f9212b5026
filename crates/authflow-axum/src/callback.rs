//! `GET /callback`: the redirect back from the authorization server. Only the browser
//! that started the sign-in can finish it (flow cookie), only once (the record is
//! deleted before the code is used), and only with the right `state` and `iss`.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::header::CACHE_CONTROL;
use http::{HeaderMap, HeaderValue};
use tower_sessions::{Session, SessionStore};

use crate::auth::Auth;
use crate::error::AuthError;
use crate::flow_cookie;
use crate::session::{LOGIN_KEY, LoginRecord, User, end_login};
use crate::store::load_pending;

pub(crate) async fn finish(
    State(auth): State<Auth>,
    session: Session,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let secure = auth.inner.secure;
    let mut resp = match run(&auth, &session, &headers, query.as_deref().unwrap_or("")).await {
        Ok(to) => Redirect::to(&to).into_response(),
        Err((e, consumed)) => {
            let mut r = e.into_response();
            if !consumed {
                return r;
            }
            flow_cookie::append(r.headers_mut(), flow_cookie::clear(secure));
            return r;
        }
    };
    flow_cookie::append(resp.headers_mut(), flow_cookie::clear(secure));
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Returns where to send the browser, or the error and whether the sign-in in progress
/// was used up.
async fn run(
    auth: &Auth,
    session: &Session,
    headers: &HeaderMap,
    query: &str,
) -> Result<String, (AuthError, bool)> {
    let i = &auth.inner;
    let Some(flow_id) = flow_cookie::read(headers) else {
        return Err((AuthError::NoLoginInProgress, false));
    };
    let login = load_pending(&i.store, &flow_id)
        .await
        .map_err(|e| (e.into(), false))?
        .ok_or((AuthError::NoLoginInProgress, true))?;
    let code = match login.pending.validate_query(query) {
        Ok(code) => code,
        // Not the answer to this sign-in (forged or foreign `state`): refuse it, but leave
        // the real sign-in able to finish.
        Err(e) if e.is_unrelated() => return Err((e.into(), false)),
        Err(e) => {
            let _ = i.store.delete(&flow_id).await;
            return Err((e.into(), true));
        }
    };
    // Single use: gone before the code is sent anywhere.
    i.store
        .delete(&flow_id)
        .await
        .map_err(|e| (e.into(), false))?;
    let fail = |e: AuthError| (e, true);

    // The library's one rule set: code exchange, ID token verified (required: the scope
    // always holds `openid`, see `AuthBuilder::scope`).
    let done = i
        .client
        .complete_login_code(&login.pending, code)
        .await
        .map_err(|e| fail(e.into()))?;
    let claims = done
        .claims
        .as_ref()
        .ok_or_else(|| fail(AuthError::Client(authflow::client::Error::MissingIdToken)))?;
    let user = User::from_claims(claims);

    // A previous login in this browser ends here; then the session id changes, so a
    // session id known before sign-in (fixation) is worth nothing after it.
    if let Ok(Some(old)) = session.get::<LoginRecord>(LOGIN_KEY).await {
        end_login(auth, &old, false).await;
    }
    session.cycle_id().await.map_err(|e| fail(e.into()))?;
    let tokens_id = i
        .tokens
        .create_login(&i.store, &done.tokens, i.session_ttl)
        .await
        .map_err(|e| fail(e.into()))?;
    let record = LoginRecord::new(tokens_id, user);
    session
        .insert(LOGIN_KEY, &record)
        .await
        .map_err(|e| fail(e.into()))?;
    tracing::info!(sub = %record.user.subject, "signed in");
    Ok(login.return_to)
}
