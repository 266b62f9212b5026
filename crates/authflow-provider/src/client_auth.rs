//! Client authentication at the token, revocation and introspection endpoints:
//! `client_secret_basic` (RFC 6749 §2.3.1, decoded by the library), `client_secret_post`
//! and `none` for public clients.

use authflow::protocol::OAuthError;
use authflow::protocol::client_auth::decode_basic_authorization;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use zeroize::Zeroize as _;

use crate::errors::{invalid_client, invalid_request};
use crate::form::Params;
use crate::hashing;
use crate::registry::{Client, ClientKind, Registry};

/// How the client authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// `client_secret_basic`.
    Basic,
    /// `client_secret_post`.
    Post,
    /// `none`: a public client that only named itself.
    None,
}

/// Authenticates the caller. Errors never repeat the secret that was sent.
pub(crate) fn authenticate<'r>(
    registry: &'r Registry,
    headers: &HeaderMap,
    params: &Params,
) -> Result<(&'r Client, Method), OAuthError> {
    let mut authorization = headers.get_all(AUTHORIZATION).iter();
    let header = authorization.next();
    if authorization.next().is_some() {
        return Err(invalid_request("more than one Authorization header"));
    }
    if let Some(value) = header {
        if params.get("client_secret").is_some() {
            return Err(invalid_request(
                "the client used more than one authentication method (Basic and client_secret)",
            ));
        }
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
        let result = check_secret(registry, &id, &secret).map(|c| (c, Method::Basic));
        secret.zeroize();
        return result;
    }
    let id = params
        .get("client_id")
        .ok_or_else(|| invalid_client("no client authentication and no client_id"))?;
    match params.get("client_secret") {
        Some(secret) => check_secret(registry, id, secret).map(|c| (c, Method::Post)),
        None => {
            let client = registry
                .clients
                .get(id)
                .ok_or_else(|| invalid_client("unknown client"))?;
            if client.kind != ClientKind::Public {
                return Err(invalid_client(
                    "this confidential client must authenticate (client_secret_basic or client_secret_post)",
                ));
            }
            Ok((client, Method::None))
        }
    }
}

fn check_secret<'r>(
    registry: &'r Registry,
    id: &str,
    secret: &str,
) -> Result<&'r Client, OAuthError> {
    // The same work whether or not the client exists, so timing says nothing.
    let unknown = [0u8; 32];
    let client = registry.clients.get(id);
    let stored = client
        .and_then(|c| c.secret_hash.as_ref())
        .unwrap_or(&unknown);
    let ok = hashing::matches(secret, stored);
    match client {
        Some(c) if ok && c.secret_hash.is_some() => Ok(c),
        _ => Err(invalid_client("client authentication failed")),
    }
}
