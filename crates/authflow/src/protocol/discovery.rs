//! Authorization server metadata (RFC 8414) and OpenID Connect Discovery 1.0.
//!
//! Build the request with [`metadata_request`] on [`oauth_metadata_url`] (or
//! [`openid_configuration_url`]), send it, then check the answer with [`parse_metadata`],
//! which refuses a document whose `issuer` is not the one asked for (mix-up defence).
//! [`read_metadata_lenient`] reads a document that fails those checks, for reports on the
//! server such as [`audit`](super::audit), never for talking to it.
//!
//! ```
//! use authflow::protocol::discovery::{metadata_request, oauth_metadata_url};
//! use authflow::types::IssuerUrl;
//! let issuer = IssuerUrl::new("https://as.example/tenant").unwrap();
//! let url = oauth_metadata_url(&issuer);
//! assert_eq!(url.as_str(), "https://as.example/.well-known/oauth-authorization-server/tenant");
//! let req = metadata_request(&url).unwrap();
//! assert_eq!(req.method(), http::Method::GET);
//! ```

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use super::BuildError;
use super::body::{Formats, read_fields};
use super::error::ResponseError;
use super::form::get_json;
use crate::types::{EndpointUrl, InvalidValue, IssuerUrl};

/// An authorization server's metadata, checked: the issuer matched the one asked for, the
/// token endpoint is present, and every endpoint is `https` (or `http` on loopback).
///
/// Lists are `None` when the server left them out, which differs from an empty list:
/// RFC 8414 gives defaults for some (see [`supports_grant`](Self::supports_grant) and
/// [`supports_auth_method`](Self::supports_auth_method)). Fields authflow does not model
/// are kept in [`extra`](Self::extra), and so is a value of the wrong shape in a field
/// authflow only reports on (PAR, request objects, JWT and mTLS client authentication):
/// such a field never makes a document unusable.
///
/// Serializes to and deserializes from the RFC 8414 JSON form, e.g. for a cache; only
/// [`parse_metadata`] checks the issuer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServerMetadata {
    /// `issuer`, exactly as the document sent it.
    pub issuer: String,
    /// `authorization_endpoint`; absent on servers that only offer e.g. client credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<EndpointUrl>,
    /// `token_endpoint`.
    pub token_endpoint: EndpointUrl,
    /// `jwks_uri`: the server's signing keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<EndpointUrl>,
    /// `registration_endpoint` (RFC 7591).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<EndpointUrl>,
    /// `scopes_supported`; often incomplete, never a reason to refuse a scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// `response_types_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types_supported: Option<Vec<String>>,
    /// `response_modes_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_modes_supported: Option<Vec<String>>,
    /// `grant_types_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types_supported: Option<Vec<String>>,
    /// `token_endpoint_auth_methods_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// `code_challenge_methods_supported` (RFC 7636).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// `revocation_endpoint` (RFC 7009).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<EndpointUrl>,
    /// `introspection_endpoint` (RFC 7662).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<EndpointUrl>,
    /// `userinfo_endpoint` (OpenID Connect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<EndpointUrl>,
    /// `device_authorization_endpoint` (RFC 8628).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<EndpointUrl>,
    /// `pushed_authorization_request_endpoint` (RFC 9126).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<EndpointUrl>,
    /// `end_session_endpoint` (OpenID Connect RP-Initiated Logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<EndpointUrl>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207): when true, every
    /// authorization response must carry `iss`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authorization_response_iss_parameter_supported: bool,
    /// `id_token_signing_alg_values_supported` (OpenID Connect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    /// `dpop_signing_alg_values_supported` (RFC 9449).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// `subject_types_supported` (OpenID Connect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_types_supported: Option<Vec<String>>,
    /// `require_pushed_authorization_requests` (RFC 9126 §5): authorization requests only
    /// through PAR.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    /// `request_parameter_supported` (RFC 9101 §10.1): request objects by value. `None`
    /// when absent, which OpenID Connect Discovery reads as `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_parameter_supported: Option<bool>,
    /// `request_object_signing_alg_values_supported` (RFC 9101 §10.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg_values_supported: Option<Vec<String>>,
    /// `require_signed_request_object` (RFC 9101 §10.5): parameters only in a signed
    /// request object.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_signed_request_object: bool,
    /// `token_endpoint_auth_signing_alg_values_supported` (RFC 8414 §2): algorithms for
    /// `private_key_jwt` and `client_secret_jwt` assertions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.3).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ServerMetadata {
    /// Whether the server accepts authorization requests only through PAR
    /// (`require_pushed_authorization_requests`, RFC 9126 §5).
    pub fn requires_pushed_authorization(&self) -> bool {
        self.require_pushed_authorization_requests
    }

    /// Metadata for a server configured by hand rather than discovered: only the issuer and
    /// the token endpoint; set other fields as needed.
    pub fn new(issuer: &IssuerUrl, token_endpoint: EndpointUrl) -> Self {
        Self {
            issuer: issuer.as_issuer_str().to_owned(),
            authorization_endpoint: None,
            token_endpoint,
            jwks_uri: None,
            registration_endpoint: None,
            scopes_supported: None,
            response_types_supported: None,
            response_modes_supported: None,
            grant_types_supported: None,
            token_endpoint_auth_methods_supported: None,
            code_challenge_methods_supported: None,
            revocation_endpoint: None,
            introspection_endpoint: None,
            userinfo_endpoint: None,
            device_authorization_endpoint: None,
            pushed_authorization_request_endpoint: None,
            end_session_endpoint: None,
            authorization_response_iss_parameter_supported: false,
            id_token_signing_alg_values_supported: None,
            dpop_signing_alg_values_supported: None,
            subject_types_supported: None,
            require_pushed_authorization_requests: false,
            request_parameter_supported: None,
            request_object_signing_alg_values_supported: None,
            require_signed_request_object: false,
            token_endpoint_auth_signing_alg_values_supported: None,
            tls_client_certificate_bound_access_tokens: false,
            extra: Map::new(),
        }
    }

    /// Whether `S256` PKCE is advertised. Absent means "not advertised", not "refused":
    /// authflow sends PKCE anyway.
    pub fn supports_pkce_s256(&self) -> bool {
        listed(&self.code_challenge_methods_supported, "S256")
    }

    /// Whether the token endpoint accepts client authentication `method`
    /// (e.g. `client_secret_post`). RFC 8414 §2: absent means `client_secret_basic` only.
    pub fn supports_auth_method(&self, method: &str) -> bool {
        match &self.token_endpoint_auth_methods_supported {
            Some(list) => list.iter().any(|m| m == method),
            None => method == "client_secret_basic",
        }
    }

    /// Whether grant type `grant` is advertised. RFC 8414 §2: absent means
    /// `authorization_code` and `implicit`.
    pub fn supports_grant(&self, grant: &str) -> bool {
        match &self.grant_types_supported {
            Some(list) => list.iter().any(|g| g == grant),
            None => matches!(grant, "authorization_code" | "implicit"),
        }
    }
}

fn listed(list: &Option<Vec<String>>, value: &str) -> bool {
    list.as_ref().is_some_and(|l| l.iter().any(|v| v == value))
}

/// What was wrong with a metadata document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The response itself was unusable (status, content type, size, JSON).
    #[error(transparent)]
    Response(#[from] ResponseError),
    /// The document names another issuer: it may come from another server (mix-up), or
    /// the configured issuer is spelled differently.
    #[error(
        "the metadata names issuer {found:?} but {expected:?} was asked for; configure the issuer exactly as the server names it (path and trailing slash included)"
    )]
    IssuerMismatch {
        /// The issuer asked for.
        expected: String,
        /// The issuer in the document (shortened if very long).
        found: String,
    },
    /// A required field is missing.
    #[error("the metadata has no `{0}`; check the issuer URL, or configure the endpoints by hand")]
    MissingField(&'static str),
    /// An endpoint is not an `https` URL (or `http` on loopback).
    #[error("the metadata's `{field}` cannot be used: {source}")]
    InvalidEndpoint {
        /// The metadata field.
        field: &'static str,
        /// What is wrong with the URL.
        source: InvalidValue,
    },
    /// A field has the wrong JSON type.
    #[error("the metadata's `{field}` field is invalid: {reason}")]
    InvalidField {
        /// The metadata field.
        field: &'static str,
        /// What was expected.
        reason: &'static str,
    },
}

impl DiscoveryError {
    /// Whether the server answered 404: try the other well-known URL (RFC 8414 versus
    /// OpenID Connect) before giving up.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::Response(ResponseError::Status {
                status: StatusCode::NOT_FOUND,
                ..
            })
        )
    }
}

/// The RFC 8414 metadata URL: `https://host/.well-known/oauth-authorization-server{path}`.
pub fn oauth_metadata_url(issuer: &IssuerUrl) -> Url {
    issuer.well_known("oauth-authorization-server")
}

/// The OpenID Connect discovery URL: `{issuer}/.well-known/openid-configuration`.
pub fn openid_configuration_url(issuer: &IssuerUrl) -> Url {
    issuer.openid_configuration()
}

/// `GET url` with `Accept: application/json`. Refuses plain `http` except on loopback:
/// metadata names the endpoints that receive secrets.
pub fn metadata_request(url: &Url) -> Result<Request<Vec<u8>>, BuildError> {
    EndpointUrl::from_url(url.clone()).map_err(|e| BuildError::Url {
        url: url.to_string(),
        reason: e.reason,
    })?;
    get_json(url)
}

/// Reads and checks a metadata response: JSON only, `issuer` equal to `expected_issuer`,
/// `token_endpoint` present, every endpoint `https` (or loopback `http`).
pub fn parse_metadata(
    resp: &Response<Bytes>,
    expected_issuer: &IssuerUrl,
) -> Result<ServerMetadata, DiscoveryError> {
    let mut f = read_fields(resp, Formats::Json)?;
    let issuer = match f.get("issuer") {
        None | Some(Value::Null) => return Err(DiscoveryError::MissingField("issuer")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(invalid("issuer", "must be a string")),
    };
    // Before anything else: a document from the wrong issuer must not be read further.
    if !expected_issuer.matches(issuer) {
        return Err(DiscoveryError::IssuerMismatch {
            expected: expected_issuer.as_issuer_str().to_owned(),
            found: issuer.chars().take(200).collect(),
        });
    }
    read_document(&mut f, Strictness::Checked)
}

/// Reads a metadata document without refusing it for what [`parse_metadata`] refuses, for a
/// report on the server (as [`audit`](super::audit::audit) makes), never for talking to it:
/// the issuer is not compared with anything, and a field whose value cannot be used (a
/// plain-`http` endpoint, a number where a list belongs) stays in
/// [`extra`](ServerMetadata::extra) as sent, its typed field empty.
///
/// Only a document without a string `issuer` or a usable `token_endpoint` is an error:
/// [`ServerMetadata`] cannot be made without them.
///
/// ```
/// use authflow::protocol::discovery::read_metadata_lenient;
/// let doc = serde_json::json!({
///     "issuer": "https://as.example",
///     "token_endpoint": "https://as.example/token",
///     "revocation_endpoint": "http://as.example/revoke",
/// });
/// let serde_json::Value::Object(doc) = doc else { unreachable!() };
/// let meta = read_metadata_lenient(doc).unwrap();
/// assert!(meta.revocation_endpoint.is_none());
/// assert_eq!(meta.extra["revocation_endpoint"], "http://as.example/revoke");
/// ```
pub fn read_metadata_lenient(
    mut document: Map<String, Value>,
) -> Result<ServerMetadata, DiscoveryError> {
    read_document(&mut document, Strictness::Lenient)
}

/// What to do with a value of a typed field that cannot be used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strictness {
    /// Refuse the document ([`parse_metadata`]), except for the fields authflow only
    /// reports on.
    Checked,
    /// Leave the value in `extra` ([`read_metadata_lenient`]).
    Lenient,
}

/// The typed fields out of `f`; what is left becomes `extra`.
fn read_document(
    f: &mut Map<String, Value>,
    strictness: Strictness,
) -> Result<ServerMetadata, DiscoveryError> {
    let issuer = match f.remove("issuer") {
        None | Some(Value::Null) => return Err(DiscoveryError::MissingField("issuer")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(invalid("issuer", "must be a string")),
    };
    let token_endpoint = take(f, "token_endpoint", Strictness::Checked, endpoint)?
        .ok_or(DiscoveryError::MissingField("token_endpoint"))?;
    let s = strictness;
    // Fields authflow only reports on: a wrong shape never refuses the document.
    let l = Strictness::Lenient;
    Ok(ServerMetadata {
        issuer,
        authorization_endpoint: take(f, "authorization_endpoint", s, endpoint)?,
        token_endpoint,
        jwks_uri: take(f, "jwks_uri", s, endpoint)?,
        registration_endpoint: take(f, "registration_endpoint", s, endpoint)?,
        scopes_supported: take(f, "scopes_supported", s, list)?,
        response_types_supported: take(f, "response_types_supported", s, list)?,
        response_modes_supported: take(f, "response_modes_supported", s, list)?,
        grant_types_supported: take(f, "grant_types_supported", s, list)?,
        token_endpoint_auth_methods_supported: take(
            f,
            "token_endpoint_auth_methods_supported",
            s,
            list,
        )?,
        code_challenge_methods_supported: take(f, "code_challenge_methods_supported", s, list)?,
        revocation_endpoint: take(f, "revocation_endpoint", s, endpoint)?,
        introspection_endpoint: take(f, "introspection_endpoint", s, endpoint)?,
        userinfo_endpoint: take(f, "userinfo_endpoint", s, endpoint)?,
        device_authorization_endpoint: take(f, "device_authorization_endpoint", s, endpoint)?,
        pushed_authorization_request_endpoint: take(
            f,
            "pushed_authorization_request_endpoint",
            s,
            endpoint,
        )?,
        end_session_endpoint: take(f, "end_session_endpoint", s, endpoint)?,
        authorization_response_iss_parameter_supported: take(
            f,
            "authorization_response_iss_parameter_supported",
            s,
            flag,
        )?
        .unwrap_or(false),
        id_token_signing_alg_values_supported: take(
            f,
            "id_token_signing_alg_values_supported",
            s,
            list,
        )?,
        dpop_signing_alg_values_supported: take(f, "dpop_signing_alg_values_supported", s, list)?,
        subject_types_supported: take(f, "subject_types_supported", s, list)?,
        require_pushed_authorization_requests: take(
            f,
            "require_pushed_authorization_requests",
            l,
            flag,
        )?
        .unwrap_or(false),
        request_parameter_supported: take(f, "request_parameter_supported", l, flag)?,
        request_object_signing_alg_values_supported: take(
            f,
            "request_object_signing_alg_values_supported",
            l,
            list,
        )?,
        require_signed_request_object: take(f, "require_signed_request_object", l, flag)?
            .unwrap_or(false),
        token_endpoint_auth_signing_alg_values_supported: take(
            f,
            "token_endpoint_auth_signing_alg_values_supported",
            l,
            list,
        )?,
        tls_client_certificate_bound_access_tokens: take(
            f,
            "tls_client_certificate_bound_access_tokens",
            l,
            flag,
        )?
        .unwrap_or(false),
        extra: std::mem::take(f),
    })
}

fn invalid(field: &'static str, reason: &'static str) -> DiscoveryError {
    DiscoveryError::InvalidField { field, reason }
}

/// Takes `field` out of `f` and reads it; `null` counts as absent. A value `read` refuses
/// is an error, or, when lenient, goes back into `f` (so into `extra`) as sent.
fn take<T>(
    f: &mut Map<String, Value>,
    field: &'static str,
    strictness: Strictness,
    read: fn(&'static str, &Value) -> Result<Option<T>, DiscoveryError>,
) -> Result<Option<T>, DiscoveryError> {
    let Some(value) = f.remove(field) else {
        return Ok(None);
    };
    match read(field, &value) {
        Ok(v) => Ok(v),
        Err(_) if strictness == Strictness::Lenient => {
            f.insert(field.to_owned(), value);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// An endpoint field; `null` and `""` count as absent (some servers send them).
fn endpoint(field: &'static str, v: &Value) -> Result<Option<EndpointUrl>, DiscoveryError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => EndpointUrl::new(s)
            .map(Some)
            .map_err(|source| DiscoveryError::InvalidEndpoint { field, source }),
        _ => Err(invalid(field, "must be a URL string")),
    }
}

/// A list of strings; a lone space-separated string is read as its parts.
fn list(field: &'static str, v: &Value) -> Result<Option<Vec<String>>, DiscoveryError> {
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(invalid(field, "must be an array of strings")),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Value::String(s) => Ok(Some(s.split_whitespace().map(str::to_owned).collect())),
        _ => Err(invalid(field, "must be an array of strings")),
    }
}

/// A boolean, or leniently `"true"` / `"false"`.
fn flag(field: &'static str, v: &Value) -> Result<Option<bool>, DiscoveryError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        _ => Err(invalid(field, "must be true or false")),
    }
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
mod tests;
