//! Discovery (RFC 8414, OpenID Connect Discovery), protected resource metadata
//! (RFC 9728) and the JWK set; all precomputed at build time.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use serde_json::{Value, json};

use authflow::protocol::client_assertion::JWT_BEARER_GRANT;
use authflow::protocol::dpop::DEFAULT_PROOF_ALGORITHMS;

use crate::client_keys::CLIENT_KEY_ALGORITHMS;
use crate::jwt::{IdTokenKey, SigningKey};
use crate::provider::{Documents, Settings};
use crate::registry::Registry;
use authflow::types::IssuerUrl;

fn serve(doc: &Bytes) -> Response {
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "public, max-age=60"),
        ],
        doc.clone(),
    )
        .into_response()
}

pub(crate) async fn oauth_metadata(State(s): crate::provider::State) -> Response {
    serve(&s.docs.oauth)
}

pub(crate) async fn openid_configuration(State(s): crate::provider::State) -> Response {
    serve(&s.docs.openid)
}

pub(crate) async fn resource_metadata(State(s): crate::provider::State) -> Response {
    serve(&s.docs.resource)
}

pub(crate) async fn jwks(State(s): crate::provider::State) -> Response {
    serve(&s.docs.jwks)
}

fn scopes(registry: &Registry) -> Vec<String> {
    let mut all: Vec<String> = registry
        .clients
        .values()
        .flat_map(|c| c.scope.iter().map(|t| t.as_str().to_owned()))
        .collect();
    // The provider's own resource's scopes, `api:admin` (step-up) included, even when no
    // client is allowed it by default.
    all.extend(RESOURCE_SCOPES.iter().map(|s| (*s).to_owned()));
    all.sort();
    all.dedup();
    all
}

/// The scopes `/api/*` checks.
pub(crate) const RESOURCE_SCOPES: [&str; 3] = ["api:read", "api:write", "api:admin"];

pub(crate) fn documents(
    issuer: &IssuerUrl,
    registry: &Registry,
    key: &SigningKey,
    id_key: &IdTokenKey,
    settings: &Settings,
) -> Documents {
    let iss = issuer.as_issuer_str();
    let scopes = scopes(registry);
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
        "none",
    ];
    // Introspection needs an authenticated client.
    let introspection_methods = &auth_methods[..4];
    let mut auth_algs: Vec<&str> = CLIENT_KEY_ALGORITHMS.iter().map(|a| a.as_str()).collect();
    let object_algs = auth_algs.clone();
    auth_algs.push("HS256");
    let dpop_algs: Vec<&str> = DEFAULT_PROOF_ALGORITHMS
        .iter()
        .map(|a| a.as_str())
        .collect();
    let oauth = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "jwks_uri": format!("{iss}/jwks"),
        "revocation_endpoint": format!("{iss}/revoke"),
        "introspection_endpoint": format!("{iss}/introspect"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "device_authorization_endpoint": format!("{iss}/device_authorization"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            authflow::protocol::device::DEVICE_CODE_GRANT,
            crate::registry::TOKEN_EXCHANGE_GRANT,
            JWT_BEARER_GRANT,
        ],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": auth_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": auth_algs,
        "introspection_endpoint_auth_methods_supported": introspection_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": auth_algs,
        "pushed_authorization_request_endpoint": format!("{iss}/par"),
        "require_pushed_authorization_requests": settings.require_par,
        "request_parameter_supported": true,
        // Only PAR's own request_uri values; OIDC's default (true) would promise fetching
        // request objects from client URLs.
        "request_uri_parameter_supported": false,
        "request_object_signing_alg_values_supported": object_algs,
        "dpop_signing_alg_values_supported": dpop_algs,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": !settings.quirks.no_iss_on_redirect,
        "protected_resources": [iss],
        // OIDC Discovery §3: RS256 must be listed; ID tokens are signed with it.
        "id_token_signing_alg_values_supported": ["RS256", "EdDSA"],
    });
    let mut oauth = oauth;
    if let Value::Object(m) = &mut oauth {
        if settings.cimd.is_some() {
            m.insert(
                authflow::protocol::client_id_metadata::SUPPORTED_FIELD.into(),
                json!(true),
            );
        }
        if settings.registration.is_some() {
            m.insert(
                "registration_endpoint".into(),
                json!(format!("{iss}/register")),
            );
        }
    }
    let mut openid = oauth.clone();
    if let Value::Object(m) = &mut openid {
        m.insert("subject_types_supported".into(), json!(["public"]));
        m.insert(
            "claims_supported".into(),
            json!([
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "name",
                "email",
                "preferred_username"
            ]),
        );
    }
    let resource = json!({
        "resource": iss,
        "authorization_servers": [iss],
        "jwks_uri": format!("{iss}/jwks"),
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
        "resource_signing_alg_values_supported": ["EdDSA"],
    });
    let jwks = json!({ "keys": [key.public_jwk(), id_key.public_jwk()] });
    let bytes = |v: &Value| Bytes::from(v.to_string());
    Documents {
        oauth: bytes(&oauth),
        openid: bytes(&openid),
        resource: bytes(&resource),
        jwks: bytes(&jwks),
    }
}
