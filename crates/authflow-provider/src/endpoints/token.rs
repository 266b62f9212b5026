//! The token endpoint (RFC 6749 §3.2): authorization code with PKCE, refresh with
//! rotation and reuse detection, client credentials; the device code grant (RFC 8628,
//! in [`super::token_device`]) and token exchange (RFC 8693, in
//! [`super::token_exchange`]). Every grant honours `resource` (RFC 8707): the access
//! token's `aud` is the requested resource when it is registered for the client, else
//! the provider's own resource (the issuer).
//!
//! DPoP (RFC 9449): a request with a valid proof gets a DPoP-bound access token
//! (`token_type: DPoP`, `cnf.jkt`); a public client's refresh tokens are then bound to the
//! proof's key as well (§5), and a code requested with `dpop_jkt` (§10) needs a proof
//! made with that key. The JWT-bearer grant (RFC 7523 §2.1) is in
//! [`super::token_jwt_bearer`].

use authflow::protocol::OAuthError;
use authflow::types::{PkceVerifier, ResourceIndicator, Scope};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use subtle::ConstantTimeEq as _;

use super::form_body;
use crate::client_auth::authenticate;
use crate::errors::{
    error, invalid_grant, invalid_request, invalid_scope, no_store, render, unauthorized_client,
};
use crate::form::Params;
use crate::grant_store::RefreshUse;
use crate::hashing::{random_id, random_token, sha256};
use crate::jwt::{AccessClaims, Confirmation, IdClaims, at_hash};
use crate::provider::Shared;
use crate::registry::ClientKind;
use crate::registry::{Client, GrantType};
use crate::store::{CodeError, CodeRecord, Grant, RefreshError};
use crate::time::now;

pub(crate) async fn token(
    State(s): crate::provider::State,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut resp = match handle(&s, &headers, body).await {
        Ok(issued) => respond(&s, &issued),
        Err(e) => {
            tracing::debug!(error = %e.error, "token request refused");
            render(&e, s.settings.quirks)
        }
    };
    s.dpop.offer_nonce(&mut resp);
    resp
}

/// What a successful token request hands out.
pub(super) struct Issued {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub scope: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    /// RFC 8693 §2.2.1 `issued_token_type`, for token exchange.
    pub issued_token_type: Option<&'static str>,
    /// The access token is DPoP-bound (`token_type: DPoP`).
    pub dpop_bound: bool,
}

async fn handle(
    s: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Issued, OAuthError> {
    let params = form_body(headers, body)?;
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| invalid_request("grant_type is missing"))?;
    // The proof before client authentication: a nonce challenge then costs the client
    // no client assertion.
    let proof = s.dpop.check(headers, &s.token_url)?;
    let token_url = s.url("/token");
    let (authenticated, method) = authenticate(s, headers, &params, &token_url).await?;
    let client = &*authenticated;
    s.dpop.remember(&s.store, proof.as_ref()).await?;
    if client.dpop_bound_access_tokens && proof.is_none() {
        return Err(crate::dpop::refusal(
            &authflow::protocol::dpop::DpopError::Missing,
        ));
    }
    let jkt = proof.as_ref().map(|p| p.jkt.as_str());
    match grant_type {
        "authorization_code" => authorization_code(s, client, &params, jkt).await,
        "refresh_token" => refresh(s, client, &params, jkt).await,
        "client_credentials" => client_credentials(s, client, &params, jkt),
        authflow::protocol::device::DEVICE_CODE_GRANT => {
            super::token_device::device_code(s, client, &params, jkt).await
        }
        crate::registry::TOKEN_EXCHANGE_GRANT => {
            super::token_exchange::token_exchange(s, client, method, &params, jkt).await
        }
        authflow::protocol::client_assertion::JWT_BEARER_GRANT => {
            super::token_jwt_bearer::jwt_bearer(s, client, &params, jkt).await
        }
        other => Err(error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!(
                "grant_type `{}` is not supported",
                other.chars().take(64).collect::<String>()
            ),
        )),
    }
}

pub(super) fn require_grant(client: &Client, grant: GrantType) -> Result<(), OAuthError> {
    if client.allows(grant) {
        Ok(())
    } else {
        Err(unauthorized_client(format!(
            "client `{}` may not use the {} grant",
            client.id,
            grant.as_str()
        )))
    }
}

pub(super) fn requested_scope(params: &Params) -> Result<Option<Scope>, OAuthError> {
    params
        .get("scope")
        .map(Scope::parse)
        .transpose()
        .map_err(|e| invalid_scope(e.to_string()))
}

/// The `error` of RFC 8707 §2 and RFC 8693 §2.2.2 for a resource or audience the server
/// will not issue a token for.
pub(super) fn invalid_target(description: impl Into<String>) -> OAuthError {
    error(StatusCode::BAD_REQUEST, "invalid_target", description)
}

/// The audience of the access token: the normalised `resource` (RFC 8707) when the client
/// may ask for it, the issuer (this provider's own resource) when none is asked.
pub(super) fn audience(s: &Shared, client: &Client, p: &Params) -> Result<String, OAuthError> {
    let Some(requested) = p.get("resource") else {
        return Ok(s.resource().to_owned());
    };
    let resource = ResourceIndicator::new(requested).map_err(|_| {
        invalid_target("resource must be an absolute URI without a fragment (RFC 8707)")
    })?;
    target(s, client, resource.as_str())
}

/// `target` (a normalised resource or a logical audience) if the client may have tokens
/// for it; the issuer itself is always allowed.
pub(super) fn target(s: &Shared, client: &Client, target: &str) -> Result<String, OAuthError> {
    let own = s.resource();
    if target == own || target.strip_suffix('/') == Some(own) {
        return Ok(own.to_owned());
    }
    if client.may_target(target) {
        return Ok(target.to_owned());
    }
    Err(invalid_target(format!(
        "client `{}` may not ask for tokens for this resource",
        client.id
    )))
}

/// What an access token says, besides issuer, times and `jti`.
pub(super) struct AccessFor<'a> {
    pub sub: &'a str,
    pub client_id: &'a str,
    pub aud: &'a str,
    pub scope: &'a str,
    pub gid: Option<&'a str>,
    pub auth_time: Option<u64>,
    /// The DPoP key to bind the token to.
    pub jkt: Option<&'a str>,
}

/// Signs an access token living `ttl` seconds.
pub(super) fn sign_access_for(
    s: &Shared,
    t: &AccessFor<'_>,
    ttl: u64,
    now: u64,
) -> Result<String, OAuthError> {
    let jti = random_id();
    let claims = AccessClaims {
        iss: &s.issuer_str,
        sub: t.sub,
        aud: t.aud,
        client_id: t.client_id,
        scope: t.scope,
        exp: now + ttl,
        iat: now,
        jti: &jti,
        gid: t.gid,
        auth_time: t.auth_time,
        cnf: t.jkt.map(|jkt| Confirmation { jkt }),
    };
    s.key.sign_access_token(&claims).map_err(|_| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "cannot sign the token",
        )
    })
}

/// Signs an access token with the provider's access token lifetime.
pub(super) fn sign_access(s: &Shared, t: &AccessFor<'_>, now: u64) -> Result<String, OAuthError> {
    sign_access_for(s, t, s.settings.access_ttl, now)
}

/// The key a new grant's refresh tokens are bound to: the proof's, for public clients
/// only (RFC 9449 §5: confidential clients' refresh tokens are bound to their
/// authentication already).
pub(super) fn refresh_binding(client: &Client, jkt: Option<&str>) -> Option<String> {
    jkt.filter(|_| client.kind == ClientKind::Public)
        .map(str::to_owned)
}

async fn authorization_code(
    s: &Shared,
    client: &Client,
    p: &Params,
    jkt: Option<&str>,
) -> Result<Issued, OAuthError> {
    require_grant(client, GrantType::AuthorizationCode)?;
    let code = p
        .get("code")
        .ok_or_else(|| invalid_request("code is missing"))?;
    let aud = audience(s, client, p)?;
    let redirect = p.get("redirect_uri");
    // The verifier's challenge is computed before the store's lock is taken; `Some(None)`
    // is a verifier that is not a valid PKCE verifier at all.
    let verifier = p
        .get("code_verifier")
        .map(|v| PkceVerifier::new(v).ok().map(|v| v.s256_challenge()));
    // Checked under the store's lock before the code is consumed: a wrong client,
    // redirect URI or verifier leaves the code for the genuine exchange.
    let bindings = |rec: &CodeRecord| -> Result<(), &'static str> {
        if rec.client_id != client.id.as_str() {
            return Err("the code was issued to another client");
        }
        if (rec.redirect_uri_given || redirect.is_some())
            && redirect != Some(rec.redirect_uri.as_str())
        {
            return Err("redirect_uri differs from the one in the authorization request");
        }
        match (&rec.challenge, &verifier) {
            (Some(challenge), Some(computed)) => {
                let ok = computed
                    .as_ref()
                    .is_some_and(|c| bool::from(c.as_bytes().ct_eq(challenge.as_bytes())));
                if ok {
                    Ok(())
                } else {
                    Err("the code_verifier does not match the code_challenge")
                }
            }
            (Some(_), None) => Err("code_verifier is missing"),
            (None, Some(_)) => {
                Err("code_verifier sent, but the authorization request had no code_challenge")
            }
            (None, None) => Ok(()),
        }?;
        match (&rec.dpop_jkt, jkt) {
            (None, _) => Ok(()),
            (Some(bound), Some(k)) if bool::from(bound.as_bytes().ct_eq(k.as_bytes())) => Ok(()),
            (Some(_), Some(_)) => Err("the DPoP proof is not made with the key named by dpop_jkt"),
            (Some(_), None) => Err("the code is bound to a DPoP key (dpop_jkt): send a proof"),
        }
    };
    let now = now();
    let (rec, gid) = s
        .store
        .take_code(&sha256(code.as_bytes()), now, bindings)
        .await?
        .map_err(|e| match e {
            CodeError::Invalid => invalid_grant("the code is invalid, expired or already used"),
            CodeError::Replayed => {
                invalid_grant("the code was already used; the tokens it issued have been revoked")
            }
            CodeError::Binding(why) => invalid_grant(why),
        })?;
    let refresh_token = client.allows(GrantType::RefreshToken).then(random_token);
    let refresh = refresh_token
        .as_ref()
        .map(|t| (sha256(t.as_bytes()), now + s.settings.refresh_ttl));
    let grant = Grant::new(
        rec.client_id.clone(),
        rec.user.clone(),
        rec.scope.clone(),
        rec.auth_time,
    )
    .bound_to(refresh_binding(client, jkt));
    if !s.store.create_grant(&gid, grant, refresh, now).await? {
        return Err(invalid_grant(
            "the code was already used; the grant is revoked",
        ));
    }
    let scope = rec.scope.to_string();
    let t = AccessFor {
        sub: &rec.user,
        client_id: &rec.client_id,
        aud: &aud,
        scope: &scope,
        gid: Some(&gid),
        auth_time: Some(rec.auth_time),
        jkt,
    };
    let access_token = sign_access(s, &t, now)?;
    let id_token = id_token(
        s,
        &rec.user,
        &rec.client_id,
        &rec.scope,
        rec.auth_time,
        rec.nonce.as_deref(),
        &access_token,
        now,
    );
    tracing::info!(client = %client.id, user = %rec.user, "authorization code exchanged");
    Ok(Issued {
        access_token,
        expires_in: s.settings.access_ttl,
        scope,
        refresh_token,
        id_token,
        issued_token_type: None,
        dpop_bound: jkt.is_some(),
    })
}

/// An OpenID Connect ID token when `scope` has `openid` (RS256, with `at_hash`).
#[allow(clippy::too_many_arguments)]
pub(super) fn id_token(
    s: &Shared,
    user: &str,
    client_id: &str,
    scope: &Scope,
    auth_time: u64,
    nonce: Option<&str>,
    access_token: &str,
    now: u64,
) -> Option<String> {
    if !scope.contains("openid") {
        return None;
    }
    let known = s.registry.users.get(user);
    let claims = IdClaims {
        iss: &s.issuer_str,
        sub: user,
        aud: client_id,
        azp: client_id,
        exp: now + s.settings.access_ttl,
        iat: now,
        auth_time,
        nonce,
        at_hash: at_hash(access_token),
        name: known
            .filter(|_| scope.contains("profile"))
            .and_then(|u| u.name.as_deref()),
        email: known
            .filter(|_| scope.contains("email"))
            .and_then(|u| u.email.as_deref()),
    };
    s.id_key.sign_id_token(&claims).ok()
}

async fn refresh(
    s: &Shared,
    client: &Client,
    p: &Params,
    jkt: Option<&str>,
) -> Result<Issued, OAuthError> {
    require_grant(client, GrantType::RefreshToken)?;
    let token = p
        .get("refresh_token")
        .ok_or_else(|| invalid_request("refresh_token is missing"))?;
    let requested = requested_scope(p)?;
    let aud = audience(s, client, p)?;
    let now = now();
    let refresh_token = (!s.settings.quirks.no_refresh_rotation).then(random_token);
    let next = refresh_token
        .as_ref()
        .map(|t| (sha256(t.as_bytes()), now + s.settings.refresh_ttl));
    let hash = sha256(token.as_bytes());
    let grant = s
        .store
        .refresh(RefreshUse {
            hash: &hash,
            client_id: client.id.as_str(),
            dpop_jkt: jkt,
            requested: requested.as_ref(),
            next,
            now,
        })
        .await?
        .map_err(|e| match e {
            RefreshError::Invalid => {
                invalid_grant("the refresh token is invalid, expired, revoked or another client's")
            }
            RefreshError::Reused => {
                tracing::warn!(client = %client.id, "rotated refresh token reused; grant revoked");
                invalid_grant("the refresh token was already used; the whole grant is revoked")
            }
            RefreshError::Scope => invalid_scope("the scope exceeds what was granted"),
            RefreshError::DpopKey => invalid_grant(
                "the refresh token is bound to a DPoP key: send a proof made with that key",
            ),
        })?;
    let scope = grant.scope.to_string();
    let t = AccessFor {
        sub: &grant.user,
        client_id: client.id.as_str(),
        aud: &aud,
        scope: &scope,
        gid: Some(&grant.gid),
        auth_time: Some(grant.auth_time),
        jkt,
    };
    let access_token = sign_access(s, &t, now)?;
    tracing::debug!(client = %client.id, "refreshed");
    Ok(Issued {
        access_token,
        expires_in: s.settings.access_ttl,
        scope,
        refresh_token,
        id_token: None,
        issued_token_type: None,
        dpop_bound: jkt.is_some(),
    })
}

fn client_credentials(
    s: &Shared,
    client: &Client,
    p: &Params,
    jkt: Option<&str>,
) -> Result<Issued, OAuthError> {
    require_grant(client, GrantType::ClientCredentials)?;
    let scope = match requested_scope(p)? {
        Some(req) if !req.is_subset_of(&client.scope) => {
            return Err(invalid_scope("the client may not ask for this scope"));
        }
        Some(req) => req.to_string(),
        None => client.scope.to_string(),
    };
    let aud = audience(s, client, p)?;
    let id = client.id.as_str();
    let t = AccessFor {
        sub: id,
        client_id: id,
        aud: &aud,
        scope: &scope,
        gid: None,
        auth_time: None,
        jkt,
    };
    let access_token = sign_access(s, &t, now())?;
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

#[derive(Serialize)]
#[serde(untagged)]
enum ExpiresIn {
    Number(u64),
    Text(String),
}

#[derive(Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    token_type: &'a str,
    expires_in: ExpiresIn,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'a str>,
}

fn respond(s: &Shared, issued: &Issued) -> Response {
    let q = s.settings.quirks;
    let ttl = issued.expires_in;
    let token_type = if issued.dpop_bound {
        "DPoP"
    } else if q.lowercase_token_type {
        "bearer"
    } else {
        "Bearer"
    };
    let mut resp = if q.form_encoded_token_response {
        let mut f = url::form_urlencoded::Serializer::new(String::new());
        f.append_pair("access_token", &issued.access_token)
            .append_pair("token_type", token_type)
            .append_pair("expires_in", &ttl.to_string());
        if let Some(r) = &issued.refresh_token {
            f.append_pair("refresh_token", r);
        }
        if !issued.scope.is_empty() {
            f.append_pair("scope", &issued.scope);
        }
        if let Some(t) = &issued.id_token {
            f.append_pair("id_token", t);
        }
        if let Some(t) = issued.issued_token_type {
            f.append_pair("issued_token_type", t);
        }
        (
            [(CONTENT_TYPE, "application/x-www-form-urlencoded")],
            f.finish(),
        )
            .into_response()
    } else {
        let body = TokenBody {
            access_token: &issued.access_token,
            token_type,
            expires_in: if q.expires_in_as_string {
                ExpiresIn::Text(ttl.to_string())
            } else {
                ExpiresIn::Number(ttl)
            },
            refresh_token: issued.refresh_token.as_deref(),
            scope: &issued.scope,
            id_token: issued.id_token.as_deref(),
            issued_token_type: issued.issued_token_type,
        };
        axum::Json(body).into_response()
    };
    no_store(&mut resp);
    resp
}
