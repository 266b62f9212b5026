//! The device code grant at the token endpoint (RFC 8628 §3.4, §3.5): each poll is
//! `authorization_pending`, `slow_down` (polled sooner than the interval; the interval
//! grows by 5 s), `access_denied`, `expired_token`, or the tokens, once.

use std::time::Instant;

use authflow::protocol::OAuthError;
use http::StatusCode;

use super::token::{
    AccessFor, Issued, audience, id_token, refresh_binding, require_grant, sign_access,
};
use crate::device_store::Poll;
use crate::errors::{error, invalid_grant, invalid_request};
use crate::form::Params;
use crate::hashing::{random_id, random_token, sha256};
use crate::provider::Shared;
use crate::registry::{Client, GrantType};
use crate::store::Grant;
use crate::time::now;

pub(super) async fn device_code(
    s: &Shared,
    client: &Client,
    p: &Params,
    jkt: Option<&str>,
) -> Result<Issued, OAuthError> {
    require_grant(client, GrantType::DeviceCode)?;
    let code = p
        .get("device_code")
        .ok_or_else(|| invalid_request("device_code is missing"))?;
    let aud = audience(s, client, p)?;
    let now = now();
    let poll = s
        .store
        .poll_device(
            &sha256(code.as_bytes()),
            client.id.as_str(),
            Instant::now(),
            now,
        )
        .await?;
    let (user, scope, auth_time) = match poll {
        Poll::Approved {
            user,
            scope,
            auth_time,
        } => (user, scope, auth_time),
        Poll::Pending => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "authorization_pending",
                "the user has not finished yet",
            ));
        }
        Poll::SlowDown => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "slow_down",
                "polled sooner than the interval; wait 5 s longer from now on",
            ));
        }
        Poll::Denied => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "access_denied",
                "the user denied access",
            ));
        }
        Poll::Expired => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "expired_token",
                "the device code has expired; start again",
            ));
        }
        Poll::Invalid => {
            return Err(invalid_grant(
                "the device code is invalid, already used or another client's",
            ));
        }
    };
    let gid = random_id();
    let refresh_token = client.allows(GrantType::RefreshToken).then(random_token);
    let refresh = refresh_token
        .as_ref()
        .map(|t| (sha256(t.as_bytes()), now + s.settings.refresh_ttl));
    let grant = Grant::new(
        client.id.as_str().to_owned(),
        user.clone(),
        scope.clone(),
        auth_time,
    )
    .bound_to(refresh_binding(client, jkt));
    if !s.store.create_grant(&gid, grant, refresh, now).await? {
        return Err(invalid_grant("the grant was revoked"));
    }
    let scope_text = scope.to_string();
    let t = AccessFor {
        sub: &user,
        client_id: client.id.as_str(),
        aud: &aud,
        scope: &scope_text,
        gid: Some(&gid),
        auth_time: Some(auth_time),
        jkt,
    };
    let access_token = sign_access(s, &t, now)?;
    let id_token = id_token(
        s,
        &user,
        client.id.as_str(),
        &scope,
        auth_time,
        None,
        &access_token,
        now,
    );
    tracing::info!(client = %client.id, user, "device code exchanged");
    Ok(Issued {
        access_token,
        expires_in: s.settings.access_ttl,
        scope: scope_text,
        refresh_token,
        id_token,
        issued_token_type: None,
        dpop_bound: jkt.is_some(),
    })
}
