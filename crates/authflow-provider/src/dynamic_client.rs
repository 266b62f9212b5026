//! Dynamically registered clients (RFC 7591): the checks a registration must pass, the
//! record the store keeps, and the [`Client`] the endpoints use, rebuilt from the record
//! on each lookup so that a deletion at one instance counts at every other at once.

use authflow::protocol::OAuthError;
use authflow::protocol::registration::{
    ClientMetadata, INVALID_CLIENT_METADATA, INVALID_REDIRECT_URI,
};
use authflow::types::{ClientId, RedirectUri, Scope};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::client_keys::parse_jwks;
use crate::grant_store::StoreError;
use crate::hashing::{Digest, b64, unb64};
use crate::registry::{Client, ClientKind, GrantType, TokenEndpointAuthMethod as Method};

/// Every registered client id starts with this, so that a lookup of any other id never
/// reaches the store.
pub(crate) const ID_PREFIX: &str = "dyn.";

/// The default cap on registered clients.
pub(crate) const DEFAULT_MAX_CLIENTS: usize = 1000;

/// The largest registration request body, in bytes.
pub(crate) const MAX_REGISTRATION_BYTES: usize = 16 * 1024;

/// What the store keeps of a registration: no secret, only digests.
#[derive(Serialize, Deserialize)]
pub(crate) struct Record {
    /// The metadata as accepted, defaults filled in (what a read returns).
    pub metadata: ClientMetadata,
    /// Digest of the client secret, for `client_secret_basic` and `client_secret_post`.
    pub secret_hash: Option<String>,
    /// Digest of the registration access token (RFC 7592).
    pub token_hash: String,
    pub issued_at: u64,
}

impl Record {
    /// The registration access token's digest.
    pub(crate) fn token_digest(&self) -> Option<Digest> {
        digest(&self.token_hash)
    }

    /// The client the endpoints use; a record that no longer passes the checks is
    /// corrupt.
    pub(crate) fn client(&self, id: &str) -> Result<Client, StoreError> {
        let corrupt = || StoreError::Corrupt("registered client");
        let id = ClientId::new(id).map_err(|_| corrupt())?;
        let secret_hash = match &self.secret_hash {
            Some(h) => Some(digest(h).ok_or_else(corrupt)?),
            None => None,
        };
        let checked = check(&self.metadata).map_err(|_| corrupt())?;
        Ok(checked.into_client(id, secret_hash))
    }
}

fn digest(text: &str) -> Option<Digest> {
    unb64(text).and_then(|v| Digest::try_from(v.as_slice()).ok())
}

/// A digest as the record keeps it.
pub(crate) fn encode(d: &Digest) -> String {
    b64(d)
}

/// Metadata that passed the checks, with the provider's reading of it.
pub(crate) struct Checked {
    /// The metadata with defaults filled in and unknown fields dropped.
    pub metadata: ClientMetadata,
    pub kind: ClientKind,
    pub method: Method,
    redirect_uris: Vec<RedirectUri>,
    grants: Vec<GrantType>,
    scope: Scope,
    jwks: Option<serde_json::Value>,
}

impl Checked {
    pub(crate) fn into_client(self, id: ClientId, secret_hash: Option<Digest>) -> Client {
        let keys = self
            .jwks
            .as_ref()
            .and_then(|j| parse_jwks(j).ok())
            .unwrap_or_default();
        Client {
            id,
            kind: self.kind,
            secret_hash,
            redirect_uris: self.redirect_uris,
            grants: self.grants,
            scope: self.scope,
            introspect_any: false,
            resources: Vec::new(),
            auth_method: Some(self.method),
            hmac_secret: None,
            keys,
            require_par: false,
            require_signed_request_object: false,
            dpop_bound_access_tokens: false,
        }
    }

    /// Whether the client gets a secret: the two methods that send one.
    pub(crate) fn needs_secret(&self) -> bool {
        matches!(
            self.method,
            Method::ClientSecretBasic | Method::ClientSecretPost
        )
    }
}

/// The fields [`ClientMetadata`] types.
const TYPED_FIELDS: [&str; 16] = [
    "redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "client_name",
    "client_uri",
    "logo_uri",
    "scope",
    "contacts",
    "tos_uri",
    "policy_uri",
    "jwks_uri",
    "jwks",
    "software_id",
    "software_version",
    "software_statement",
];

/// The fields RFC 7591 §2 makes arrays of strings; the other typed ones are strings,
/// except `jwks`, an object.
const LIST_FIELDS: [&str; 4] = ["redirect_uris", "grant_types", "response_types", "contacts"];

/// Refuses a registration whose typed fields have the wrong JSON shape (the library's
/// reader is lenient: it reads a string as a space-separated list, for one).
pub(crate) fn check_shapes(
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), OAuthError> {
    use serde_json::Value;
    for name in TYPED_FIELDS {
        let Some(v) = fields.get(name) else { continue };
        let ok = if LIST_FIELDS.contains(&name) {
            v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
        } else if name == "jwks" {
            v.is_object()
        } else {
            v.is_string()
        };
        if !ok {
            return Err(bad_metadata(format!("`{name}` has the wrong JSON type")));
        }
    }
    Ok(())
}

fn bad_metadata(what: impl Into<String>) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, INVALID_CLIENT_METADATA).with_description(what)
}

fn bad_redirect(what: impl Into<String>) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, INVALID_REDIRECT_URI).with_description(what)
}

/// Checks registration metadata (RFC 7591 §2): redirect URIs `https` or loopback `http`
/// (matched exactly, the loopback port aside), only the code flow's response type, the
/// grants this provider has, one of the methods `none`, `client_secret_basic`,
/// `client_secret_post` or `private_key_jwt` (with `jwks`). `default_scope` is what a
/// client that names no scope may ask for.
pub(crate) fn check(m: &ClientMetadata) -> Result<Checked, OAuthError> {
    check_with(m, None)
}

/// [`check`], filling in `default_scope` when the metadata names none.
pub(crate) fn check_with(
    m: &ClientMetadata,
    default_scope: Option<&str>,
) -> Result<Checked, OAuthError> {
    // The library's reader keeps a typed field of the wrong shape in `extra`; a server
    // must refuse it rather than register without it.
    if let Some(name) = TYPED_FIELDS.iter().find(|f| m.extra.contains_key(**f)) {
        return Err(bad_metadata(format!("`{name}` has the wrong JSON type")));
    }
    let mut redirect_uris = Vec::with_capacity(m.redirect_uris.len());
    for raw in &m.redirect_uris {
        let uri = RedirectUri::new(raw)
            .map_err(|e| bad_redirect(format!("redirect URI `{raw}` is not valid: {e}")))?;
        let url = uri.as_url();
        let ok = url.scheme() == "https" || uri.is_loopback();
        if !ok {
            return Err(bad_redirect(format!(
                "redirect URI `{raw}` must use https, or http on a loopback address (native apps)"
            )));
        }
        redirect_uris.push(uri);
    }
    let response_types: Vec<&str> = m.response_types.iter().map(String::as_str).collect();
    if !(response_types.is_empty() || response_types == ["code"]) {
        return Err(bad_metadata(
            "only response_types [\"code\"] is supported (no implicit flow)",
        ));
    }
    let mut grants = Vec::new();
    for g in m.effective_grant_types() {
        let grant = match g {
            "authorization_code" => GrantType::AuthorizationCode,
            "refresh_token" => GrantType::RefreshToken,
            "client_credentials" => GrantType::ClientCredentials,
            authflow::protocol::device::DEVICE_CODE_GRANT => GrantType::DeviceCode,
            "implicit" | "password" => {
                return Err(bad_metadata(format!(
                    "the {g} grant is not offered (RFC 9700 §2.1.2, §2.4)"
                )));
            }
            other => {
                return Err(bad_metadata(format!(
                    "grant type `{other}` is not supported"
                )));
            }
        };
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    if grants.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(bad_redirect(
            "the authorization_code grant needs at least one redirect URI",
        ));
    }
    // RFC 7591 §2: no method named means client_secret_basic.
    let method = match m
        .token_endpoint_auth_method
        .as_deref()
        .unwrap_or("client_secret_basic")
    {
        "none" => Method::None,
        "client_secret_basic" => Method::ClientSecretBasic,
        "client_secret_post" => Method::ClientSecretPost,
        "private_key_jwt" => Method::PrivateKeyJwt,
        other => {
            return Err(bad_metadata(format!(
                "token_endpoint_auth_method `{other}` is not supported; use none, client_secret_basic, client_secret_post or private_key_jwt"
            )));
        }
    };
    if m.jwks_uri.is_some() {
        return Err(bad_metadata(
            "jwks_uri is not supported; send the keys by value in jwks",
        ));
    }
    let jwks = match (&m.jwks, method) {
        (Some(set), _) => {
            parse_jwks(set).map_err(|why| bad_metadata(format!("the jwks {why}")))?;
            Some(set.clone())
        }
        (None, Method::PrivateKeyJwt) => {
            return Err(bad_metadata(
                "private_key_jwt needs the client's keys in jwks",
            ));
        }
        (None, _) => None,
    };
    let kind = if method == Method::None {
        ClientKind::Public
    } else {
        ClientKind::Confidential
    };
    if kind == ClientKind::Public && grants.contains(&GrantType::ClientCredentials) {
        return Err(bad_metadata(
            "client_credentials needs a client that authenticates (not method none)",
        ));
    }
    let scope_text = m.scope.as_deref().or(default_scope).unwrap_or_default();
    let scope = Scope::parse(scope_text)
        .map_err(|e| bad_metadata(format!("the scope is not valid: {e}")))?;
    let grant_names = grants.iter().map(|g| g.as_str().to_owned()).collect();
    let metadata = {
        let mut out = ClientMetadata::default();
        out.redirect_uris = m.redirect_uris.clone();
        out.token_endpoint_auth_method = Some(method.as_str().to_owned());
        out.grant_types = grant_names;
        out.response_types = if grants.contains(&GrantType::AuthorizationCode) {
            vec!["code".to_owned()]
        } else {
            Vec::new()
        };
        out.client_name = m.client_name.clone();
        out.client_uri = m.client_uri.clone();
        out.logo_uri = m.logo_uri.clone();
        out.scope = (!scope.is_empty()).then(|| scope.to_string());
        out.contacts = m.contacts.clone();
        out.tos_uri = m.tos_uri.clone();
        out.policy_uri = m.policy_uri.clone();
        out.jwks = jwks.clone();
        out.software_id = m.software_id.clone();
        out.software_version = m.software_version.clone();
        out
    };
    Ok(Checked {
        metadata,
        kind,
        method,
        redirect_uris,
        grants,
        scope,
        jwks,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn meta(json: serde_json::Value) -> ClientMetadata {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_native_app_is_public_and_unknown_fields_are_dropped() {
        let c = check(&meta(serde_json::json!({
            "redirect_uris": ["http://127.0.0.1/cb"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "something_new": 1
        })))
        .unwrap();
        assert_eq!(c.kind, ClientKind::Public);
        assert!(!c.needs_secret());
        assert!(c.metadata.extra.is_empty());
        assert_eq!(c.metadata.response_types, ["code"]);
    }

    #[test]
    fn no_method_means_client_secret_basic() {
        let c = check(&meta(serde_json::json!({
            "redirect_uris": ["https://app.example/cb"]
        })))
        .unwrap();
        assert_eq!(c.method, Method::ClientSecretBasic);
        assert!(c.needs_secret());
    }

    #[test]
    fn refusals_name_the_rfc_error() {
        let cases = [
            (
                serde_json::json!({"redirect_uris": ["http://app.example/cb"]}),
                INVALID_REDIRECT_URI,
            ),
            (
                serde_json::json!({"redirect_uris": ["https://app.example/cb#f"]}),
                INVALID_REDIRECT_URI,
            ),
            (serde_json::json!({}), INVALID_REDIRECT_URI),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
                INVALID_CLIENT_METADATA,
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
                INVALID_CLIENT_METADATA,
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
                INVALID_CLIENT_METADATA,
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "tls_client_auth"}),
                INVALID_CLIENT_METADATA,
            ),
            (
                serde_json::json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
                INVALID_CLIENT_METADATA,
            ),
        ];
        for (json, code) in cases {
            let err = check(&meta(json.clone())).err().unwrap();
            assert_eq!(err.error, code, "{json}");
        }
    }
}
