//! Token exchange at the token endpoint (RFC 8693), for confidential clients allowed the
//! grant: the subject token must be a live access token this provider issued
//! (`subject_token_type` access_token); the answer is a new access token for the
//! requested `resource` or `audience` (registered for the exchanging client, or the
//! provider's own resource), with a scope within the subject token's. No actor tokens
//! (delegation), no refresh token. The new token keeps the subject's `sub` and grant,
//! so revoking that grant revokes it too, and it never outlives the subject token.

use authflow::protocol::OAuthError;
use authflow::protocol::token_request::ACCESS_TOKEN_TYPE;
use authflow::types::{ResourceIndicator, Scope};

use super::token::{AccessFor, Issued, invalid_target, require_grant, sign_access_for, target};
use crate::errors::{invalid_client, invalid_request, invalid_scope};
use crate::form::Params;
use crate::provider::Shared;
use crate::registry::TokenEndpointAuthMethod as Method;
use crate::registry::{Client, GrantType};
use crate::time::now;

pub(super) async fn token_exchange(
    s: &Shared,
    client: &Client,
    method: Method,
    p: &Params,
    jkt: Option<&str>,
) -> Result<Issued, OAuthError> {
    require_grant(client, GrantType::TokenExchange)?;
    if method == Method::None {
        return Err(invalid_client(
            "token exchange needs an authenticated (confidential) client",
        ));
    }
    let subject = p
        .get("subject_token")
        .ok_or_else(|| invalid_request("subject_token is missing"))?;
    match p.get("subject_token_type") {
        None => return Err(invalid_request("subject_token_type is missing")),
        Some(ACCESS_TOKEN_TYPE) => {}
        Some(_) => {
            return Err(invalid_request(format!(
                "subject_token_type must be {ACCESS_TOKEN_TYPE}"
            )));
        }
    }
    if p.get("actor_token").is_some() || p.get("actor_token_type").is_some() {
        return Err(invalid_request(
            "actor tokens (delegation) are not supported",
        ));
    }
    if p.get("requested_token_type")
        .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
    {
        return Err(invalid_request(format!(
            "only access tokens can be issued (requested_token_type {ACCESS_TOKEN_TYPE})"
        )));
    }
    let now = now();
    let invalid = || invalid_request("the subject_token is invalid, expired or revoked");
    let claims = s
        .verify_own_token(subject, false)
        .filter(|c| c.exp > now)
        .ok_or_else(invalid)?;
    if s.store
        .is_revoked(&claims.jti, claims.gid.as_deref(), now)
        .await?
    {
        return Err(invalid());
    }
    let resource = p
        .get("resource")
        .map(|r| {
            ResourceIndicator::new(r).map_err(|_| {
                invalid_target("resource must be an absolute URI without a fragment (RFC 8707)")
            })
        })
        .transpose()?;
    let aud = match (resource.as_ref().map(|r| r.as_str()), p.get("audience")) {
        (Some(r), Some(a)) if r != a => {
            return Err(invalid_target(
                "resource and audience name different targets; ask for one",
            ));
        }
        (Some(t), _) | (None, Some(t)) => target(s, client, t)?,
        (None, None) => s.resource().to_owned(),
    };
    let held = if claims.scope.is_empty() {
        Scope::empty()
    } else {
        Scope::parse(&claims.scope)
            .map_err(|_| invalid_request("the subject_token's scope cannot be read"))?
    };
    let scope = match super::token::requested_scope(p)? {
        Some(req) if !req.is_subset_of(&held) => {
            return Err(invalid_scope("the scope exceeds the subject token's scope"));
        }
        Some(req) => req,
        None => held,
    };
    let scope = scope.to_string();
    let ttl = s.settings.access_ttl.min(claims.exp.saturating_sub(now));
    let t = AccessFor {
        sub: &claims.sub,
        client_id: client.id.as_str(),
        aud: &aud,
        scope: &scope,
        gid: claims.gid.as_deref(),
        auth_time: claims.auth_time,
        jkt,
    };
    let access_token = sign_access_for(s, &t, ttl, now)?;
    tracing::info!(client = %client.id, subject_client = %claims.client_id, "token exchanged");
    Ok(Issued {
        access_token,
        expires_in: ttl,
        scope,
        refresh_token: None,
        id_token: None,
        issued_token_type: Some(ACCESS_TOKEN_TYPE),
        dpop_bound: jkt.is_some(),
    })
}
