//! Client authentication wherever clients authenticate (token, PAR, revocation,
//! introspection, device authorization): `client_secret_basic` (RFC 6749 §2.3.1, decoded
//! by the library), `client_secret_post`, `private_key_jwt` and `client_secret_jwt`
//! (RFC 7523 §2.2, checked by the library), and `none` for public clients. A client uses
//! the one method it is registered for.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authflow::jose::{CompactJws, JwsAlgorithm};
use authflow::protocol::OAuthError;
use authflow::protocol::client_assertion::{
    AssertionCheck, ClientKeys, JWT_BEARER_ASSERTION_TYPE, verify_client_assertion,
};
use authflow::protocol::client_auth::decode_basic_authorization;
use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use zeroize::Zeroize as _;

use crate::client_keys::{LEEWAY, candidates};
use crate::errors::{error, invalid_client, invalid_request};
use crate::form::Params;
use crate::grant_store::ReplayKind;
use crate::hashing;
use crate::provider::Shared;
use crate::registry::{Client, ClientKind, TokenEndpointAuthMethod as Method};
use crate::replay::Use;
use crate::time::now;

/// How far ahead a client assertion's `exp` may lie: bounds how long its `jti` is kept.
pub(crate) const MAX_ASSERTION_LIFETIME: u64 = 300;

/// Authenticates the caller of the endpoint at `endpoint` (its URL, one of the audiences
/// an assertion may name). Errors never repeat the secret or assertion that was sent.
pub(crate) async fn authenticate(
    s: &Shared,
    headers: &HeaderMap,
    params: &Params,
    endpoint: &str,
) -> Result<(Arc<Client>, Method), OAuthError> {
    let mut authorization = headers.get_all(AUTHORIZATION).iter();
    let header = authorization.next();
    if authorization.next().is_some() {
        return Err(invalid_request("more than one Authorization header"));
    }
    let jwt =
        params.get("client_assertion").is_some() || params.get("client_assertion_type").is_some();
    let methods = [header.is_some(), params.get("client_secret").is_some(), jwt];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(invalid_request(
            "the client used more than one authentication method (RFC 6749 §2.3)",
        ));
    }
    if let Some(value) = header {
        let (id, mut secret) = value
            .to_str()
            .ok()
            .and_then(decode_basic_authorization)
            .ok_or_else(|| {
                invalid_client("the Authorization header is not valid HTTP Basic credentials")
            })?;
        if params.get("client_id").is_some_and(|form_id| form_id != id) {
            secret.zeroize();
            return Err(invalid_request(
                "client_id in the body differs from the one in the Authorization header",
            ));
        }
        let client = s.client(&id).await;
        let result = client.and_then(|c| check_secret(c, &secret, Method::ClientSecretBasic));
        secret.zeroize();
        return result.map(|c| (c, Method::ClientSecretBasic));
    }
    if jwt {
        return assertion(s, params, endpoint).await;
    }
    let id = params
        .get("client_id")
        .ok_or_else(|| invalid_client("no client authentication and no client_id"))?;
    let client = s.client(id).await?;
    match params.get("client_secret") {
        Some(secret) => check_secret(client, secret, Method::ClientSecretPost)
            .map(|c| (c, Method::ClientSecretPost)),
        None => {
            let client = client.ok_or_else(|| invalid_client("unknown client"))?;
            if client.kind != ClientKind::Public || !client.accepts(Method::None) {
                return Err(invalid_client(format!(
                    "this confidential client must authenticate ({})",
                    client.auth_method_name()
                )));
            }
            Ok((client, Method::None))
        }
    }
}

fn check_secret(
    client: Option<Arc<Client>>,
    secret: &str,
    method: Method,
) -> Result<Arc<Client>, OAuthError> {
    // The same work whether or not the client exists, so timing says nothing.
    let unknown = [0u8; 32];
    let stored = client
        .as_ref()
        .and_then(|c| c.secret_hash.as_ref())
        .unwrap_or(&unknown);
    let ok = hashing::matches(secret, stored);
    match client {
        Some(c) if ok && c.secret_hash.is_some() => {
            if c.accepts(method) {
                Ok(c)
            } else {
                Err(invalid_client(format!(
                    "this client is registered for {}, not {method}",
                    c.auth_method_name()
                )))
            }
        }
        // A client registered for a JWT method keeps no secret hash: any secret fails.
        _ => Err(invalid_client("client authentication failed")),
    }
}

/// `private_key_jwt` or `client_secret_jwt`: `client_assertion_type` and
/// `client_assertion` (RFC 7523 §2.2), each `jti` accepted once until `exp`.
async fn assertion(
    s: &Shared,
    params: &Params,
    endpoint: &str,
) -> Result<(Arc<Client>, Method), OAuthError> {
    match params.get("client_assertion_type") {
        Some(JWT_BEARER_ASSERTION_TYPE) => {}
        Some(_) => {
            return Err(invalid_request(format!(
                "client_assertion_type must be {JWT_BEARER_ASSERTION_TYPE}"
            )));
        }
        None => return Err(invalid_request("client_assertion_type is missing")),
    }
    let raw = params
        .get("client_assertion")
        .ok_or_else(|| invalid_request("client_assertion is missing"))?;
    let jws = CompactJws::parse(raw)
        .map_err(|e| invalid_client(format!("the client assertion is not a signed JWT: {e}")))?;
    // RFC 7523 §3: `sub` is the client id; `client_id` in the form, when sent, must agree
    // (the library checks the assertion against the id chosen here).
    let id = params
        .get("client_id")
        .or_else(|| jws.claim_str("sub"))
        .ok_or_else(|| invalid_client("the client assertion has no `sub`"))?;
    let client = s
        .client(id)
        .await?
        .ok_or_else(|| invalid_client("client authentication failed"))?;
    let method = if jws.algorithm() == JwsAlgorithm::HS256 {
        Method::ClientSecretJwt
    } else {
        Method::PrivateKeyJwt
    };
    if !client.accepts(method) {
        return Err(invalid_client(format!(
            "this client is registered for {}, not {method}",
            client.auth_method_name()
        )));
    }
    let public: Vec<_>;
    let keys = match (&client.hmac_secret, method) {
        (Some(secret), Method::ClientSecretJwt) => ClientKeys::Secret(secret.bytes()),
        _ => {
            public = candidates(&client.keys, jws.algorithm(), jws.key_id())
                .map(|k| (k.kid.clone(), k.jwk.clone()))
                .collect();
            ClientKeys::Public(&public)
        }
    };
    let token_endpoint = s.url("/token");
    let audiences = [s.issuer_str.as_str(), token_endpoint.as_str(), endpoint];
    let now = now();
    let check = AssertionCheck {
        client_id: client.id.as_str(),
        audiences: &audiences,
        now: SystemTime::UNIX_EPOCH + Duration::from_secs(now),
        max_lifetime: Duration::from_secs(MAX_ASSERTION_LIFETIME),
        leeway: Duration::from_secs(LEEWAY),
    };
    let verified =
        verify_client_assertion(raw, keys, &check).map_err(|e| invalid_client(e.to_string()))?;
    let exp = verified
        .expires_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let parts = ["client_assertion", client.id.as_str(), &verified.jti];
    match s
        .store
        .first_use(ReplayKind::Assertion, &parts, exp + LEEWAY + 1, now)
        .await?
    {
        Use::First => Ok((client, method)),
        Use::Replayed => Err(invalid_client(
            "the client assertion was already used (its jti is not new)",
        )),
        Use::Full => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many recent client assertions to remember; try again in a minute",
        )),
    }
}
