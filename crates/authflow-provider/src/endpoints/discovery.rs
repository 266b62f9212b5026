//! Discovery (RFC 8414, OpenID Connect Discovery), protected resource metadata
//! (RFC 9728) and the JWK set; all precomputed at build time.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use serde_json::{Value, json};

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
    all.sort();
    all.dedup();
    all
}

pub(crate) fn documents(
    issuer: &IssuerUrl,
    registry: &Registry,
    key: &SigningKey,
    id_key: &IdTokenKey,
    settings: &Settings,
) -> Documents {
    let iss = issuer.as_issuer_str();
    let scopes = scopes(registry);
    let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
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
        ],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": !settings.quirks.no_iss_on_redirect,
        "protected_resources": [iss],
        // OIDC Discovery §3: RS256 must be listed; ID tokens are signed with it.
        "id_token_signing_alg_values_supported": ["RS256", "EdDSA"],
    });
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
