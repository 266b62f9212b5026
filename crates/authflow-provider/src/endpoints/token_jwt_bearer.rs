//! The JWT-bearer grant at the token endpoint (RFC 7523 §2.1, §3): a client registered
//! for the grant presents an assertion signed with one of its registered keys, `iss` its
//! client id, `sub` a known user, `aud` the issuer or the token endpoint, `exp` at most
//! five minutes ahead, and a `jti` used once. The answer is an access token for that user
//! (no refresh token, no ID token: there was no sign-in).

use authflow::jose::CompactJws;
use authflow::protocol::OAuthError;
use http::StatusCode;

use super::token::{AccessFor, Issued, audience, requested_scope, require_grant, sign_access};
use crate::client_auth::MAX_ASSERTION_LIFETIME;
use crate::client_keys::{LEEWAY, audience_ok, check_lifetime, verify_with};
use crate::errors::{error, invalid_grant, invalid_request, invalid_scope};
use crate::form::Params;
use crate::grant_store::ReplayKind;
use crate::provider::Shared;
use crate::registry::{Client, GrantType};
use crate::replay::Use;
use crate::time::now;

pub(super) async fn jwt_bearer(
    s: &Shared,
    client: &Client,
    p: &Params,
    jkt: Option<&str>,
) -> Result<Issued, OAuthError> {
    require_grant(client, GrantType::JwtBearer)?;
    let raw = p
        .get("assertion")
        .ok_or_else(|| invalid_request("assertion is missing"))?;
    let jws = CompactJws::parse(raw)
        .map_err(|e| invalid_grant(format!("the assertion is not a signed JWT: {e}")))?;
    if !verify_with(&jws, &client.keys) {
        return Err(invalid_grant(
            "the assertion is not signed with one of the client's registered keys",
        ));
    }
    if jws.claim_str("iss") != Some(client.id.as_str()) {
        return Err(invalid_grant("the assertion's `iss` must be the client id"));
    }
    let user = jws
        .claim_str("sub")
        .and_then(|u| s.registry.users.get(u))
        .ok_or_else(|| invalid_grant("the assertion's `sub` names no user of this provider"))?;
    let token_endpoint = s.url("/token");
    if !audience_ok(&jws, &[s.issuer_str.as_str(), token_endpoint.as_str()]) {
        return Err(invalid_grant(
            "the assertion's `aud` must be the issuer or the token endpoint",
        ));
    }
    let now = now();
    let exp = check_lifetime(&jws, now, MAX_ASSERTION_LIFETIME)
        .map_err(|why| invalid_grant(format!("the assertion cannot be used: {why}")))?;
    let jti = jws
        .claim_str("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| invalid_grant("the assertion has no `jti`"))?;
    let scope = match requested_scope(p)? {
        Some(req) if !req.is_subset_of(&client.scope) => {
            return Err(invalid_scope("the client may not ask for this scope"));
        }
        Some(req) => req.to_string(),
        None => client.scope.to_string(),
    };
    let aud = audience(s, client, p)?;
    let parts = ["jwt-bearer", client.id.as_str(), jti];
    match s
        .store
        .first_use(ReplayKind::Assertion, &parts, exp + LEEWAY + 1, now)
        .await?
    {
        Use::First => {}
        Use::Replayed => return Err(invalid_grant("the assertion was already used (jti)")),
        Use::Full => {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many recent assertions to remember; try again in a minute",
            ));
        }
    }
    let t = AccessFor {
        sub: &user.username,
        client_id: client.id.as_str(),
        aud: &aud,
        scope: &scope,
        gid: None,
        auth_time: None,
        jkt,
    };
    let access_token = sign_access(s, &t, now)?;
    tracing::info!(client = %client.id, user = %user.username, "jwt-bearer assertion exchanged");
    Ok(Issued {
        access_token,
        expires_in: s.settings.access_ttl,
        scope,
        refresh_token: None,
        id_token: None,
        issued_token_type: None,
        dpop_bound: jkt.is_some(),
    })
}
