//! OpenID Connect UserInfo (Core §5.3): needs an access token with `openid` from a user
//! login.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::json;

use super::resource::{authorize, challenge};

/// Bearer or DPoP-bound tokens (with a proof), like `/api/*`.
pub(crate) async fn userinfo(
    State(s): crate::provider::State,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let principal = match authorize(&s, &method, &uri, &headers, Some("openid")).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    // Only tokens from a user's grant (`gid`) speak for a user; a client's own token has
    // the client as `sub`.
    let user = principal
        .claims
        .get("gid")
        .and(principal.subject.as_deref())
        .and_then(|sub| s.registry.users.get(sub));
    let Some(user) = user else {
        return challenge(
            &s,
            StatusCode::UNAUTHORIZED,
            Some((
                "invalid_token",
                "the access token does not belong to a user",
            )),
            None,
        );
    };
    let mut v = json!({"sub": user.username});
    if principal.scope.contains("profile") {
        v["preferred_username"] = json!(user.username);
        if let Some(n) = &user.name {
            v["name"] = json!(n);
        }
    }
    if let Some(e) = user
        .email
        .as_ref()
        .filter(|_| principal.scope.contains("email"))
    {
        v["email"] = json!(e);
    }
    axum::Json(v).into_response()
}
