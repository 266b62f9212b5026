//! The token endpoint (RFC 6749 §3.2): authorization code with PKCE, refresh with
//! rotation and reuse detection, client credentials.

use authflow::protocol::OAuthError;
use authflow::types::{PkceVerifier, Scope};
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
use crate::hashing::{random_id, random_token, sha256};
use crate::jwt::{AccessClaims, IdClaims, at_hash};
use crate::provider::Shared;
use crate::registry::{Client, GrantType};
use crate::store::{CodeError, CodeRecord, Grant, RefreshError};
use crate::time::now;

pub(crate) async fn token(
    State(s): crate::provider::State,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&s, &headers, body) {
        Ok(issued) => respond(&s, &issued),
        Err(e) => {
            tracing::debug!(error = %e.error, "token request refused");
            render(&e, s.settings.quirks)
        }
    }
}

/// What a successful token request hands out.
struct Issued {
    access_token: String,
    scope: String,
    refresh_token: Option<String>,
    id_token: Option<String>,
}

fn handle(
    s: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Issued, OAuthError> {
    let params = form_body(headers, body)?;
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| invalid_request("grant_type is missing"))?;
    let (client, _) = authenticate(&s.registry, headers, &params)?;
    match grant_type {
        "authorization_code" => authorization_code(s, client, &params),
        "refresh_token" => refresh(s, client, &params),
        "client_credentials" => client_credentials(s, client, &params),
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

fn require_grant(client: &Client, grant: GrantType) -> Result<(), OAuthError> {
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

fn requested_scope(params: &Params) -> Result<Option<Scope>, OAuthError> {
    params
        .get("scope")
        .map(Scope::parse)
        .transpose()
        .map_err(|e| invalid_scope(e.to_string()))
}

fn sign_access(
    s: &Shared,
    sub: &str,
    client_id: &str,
    scope: &str,
    gid: Option<&str>,
    auth_time: Option<u64>,
    now: u64,
) -> Result<String, OAuthError> {
    let jti = random_id();
    let claims = AccessClaims {
        iss: &s.issuer_str,
        sub,
        aud: s.resource(),
        client_id,
        scope,
        exp: now + s.settings.access_ttl,
        iat: now,
        jti: &jti,
        gid,
        auth_time,
    };
    s.key.sign_access_token(&claims).map_err(|_| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "cannot sign the token",
        )
    })
}

fn authorization_code(s: &Shared, client: &Client, p: &Params) -> Result<Issued, OAuthError> {
    require_grant(client, GrantType::AuthorizationCode)?;
    let code = p
        .get("code")
        .ok_or_else(|| invalid_request("code is missing"))?;
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
        }
    };
    let now = now();
    let (rec, gid) = s
        .store
        .take_code(&sha256(code.as_bytes()), now, bindings)
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
    );
    if !s.store.create_grant(&gid, grant, refresh, now) {
        return Err(invalid_grant(
            "the code was already used; the grant is revoked",
        ));
    }
    let scope = rec.scope.to_string();
    let access_token = sign_access(
        s,
        &rec.user,
        &rec.client_id,
        &scope,
        Some(&gid),
        Some(rec.auth_time),
        now,
    )?;
    let id_token = if rec.scope.contains("openid") {
        let user = s.registry.users.get(&rec.user);
        let claims = IdClaims {
            iss: &s.issuer_str,
            sub: &rec.user,
            aud: &rec.client_id,
            azp: &rec.client_id,
            exp: now + s.settings.access_ttl,
            iat: now,
            auth_time: rec.auth_time,
            nonce: rec.nonce.as_deref(),
            at_hash: at_hash(&access_token),
            name: user
                .filter(|_| rec.scope.contains("profile"))
                .and_then(|u| u.name.as_deref()),
            email: user
                .filter(|_| rec.scope.contains("email"))
                .and_then(|u| u.email.as_deref()),
        };
        s.id_key.sign_id_token(&claims).ok()
    } else {
        None
    };
    tracing::info!(client = %client.id, user = %rec.user, "authorization code exchanged");
    Ok(Issued {
        access_token,
        scope,
        refresh_token,
        id_token,
    })
}

fn refresh(s: &Shared, client: &Client, p: &Params) -> Result<Issued, OAuthError> {
    require_grant(client, GrantType::RefreshToken)?;
    let token = p
        .get("refresh_token")
        .ok_or_else(|| invalid_request("refresh_token is missing"))?;
    let requested = requested_scope(p)?;
    let now = now();
    let refresh_token = (!s.settings.quirks.no_refresh_rotation).then(random_token);
    let next = refresh_token
        .as_ref()
        .map(|t| (sha256(t.as_bytes()), now + s.settings.refresh_ttl));
    let grant = s
        .store
        .refresh(
            &sha256(token.as_bytes()),
            client.id.as_str(),
            requested.as_ref(),
            next,
            now,
        )
        .map_err(|e| match e {
            RefreshError::Invalid => {
                invalid_grant("the refresh token is invalid, expired, revoked or another client's")
            }
            RefreshError::Reused => {
                tracing::warn!(client = %client.id, "rotated refresh token reused; grant revoked");
                invalid_grant("the refresh token was already used; the whole grant is revoked")
            }
            RefreshError::Scope => invalid_scope("the scope exceeds what was granted"),
        })?;
    let scope = grant.scope.to_string();
    let access_token = sign_access(
        s,
        &grant.user,
        client.id.as_str(),
        &scope,
        Some(&grant.gid),
        Some(grant.auth_time),
        now,
    )?;
    tracing::debug!(client = %client.id, "refreshed");
    Ok(Issued {
        access_token,
        scope,
        refresh_token,
        id_token: None,
    })
}

fn client_credentials(s: &Shared, client: &Client, p: &Params) -> Result<Issued, OAuthError> {
    require_grant(client, GrantType::ClientCredentials)?;
    let scope = match requested_scope(p)? {
        Some(req) if !req.is_subset_of(&client.scope) => {
            return Err(invalid_scope("the client may not ask for this scope"));
        }
        Some(req) => req.to_string(),
        None => client.scope.to_string(),
    };
    let id = client.id.as_str();
    let access_token = sign_access(s, id, id, &scope, None, None, now())?;
    Ok(Issued {
        access_token,
        scope,
        refresh_token: None,
        id_token: None,
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
}

fn respond(s: &Shared, issued: &Issued) -> Response {
    let q = s.settings.quirks;
    let ttl = s.settings.access_ttl;
    let token_type = if q.lowercase_token_type {
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
        };
        axum::Json(body).into_response()
    };
    no_store(&mut resp);
    resp
}
