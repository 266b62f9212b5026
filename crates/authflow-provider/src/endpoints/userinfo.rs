//! OpenID Connect UserInfo (Core §5.3): needs an access token with `openid` from a user
//! login.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::resource::{challenge, with_scope};

pub(crate) async fn userinfo(State(s): crate::provider::State, headers: HeaderMap) -> Response {
    let claims = match with_scope(&s, &headers, "openid") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let user = claims
        .gid
        .as_ref()
        .and_then(|_| s.registry.users.get(&claims.sub));
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
    if claims.has_scope("profile") {
        v["preferred_username"] = json!(user.username);
        if let Some(n) = &user.name {
            v["name"] = json!(n);
        }
    }
    if let Some(e) = user.email.as_ref().filter(|_| claims.has_scope("email")) {
        v["email"] = json!(e);
    }
    axum::Json(v).into_response()
}
