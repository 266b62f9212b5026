//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592).
//!
//! [`RegistrationRequest`] builds the `POST` to the server's `registration_endpoint`;
//! [`parse_registration_response`] reads the answer into a [`RegisteredClient`], which
//! serializes to the RFC 7591 JSON form (secrets included, explicitly) so that a CLI can
//! keep it. With the `registration_access_token` and `registration_client_uri` it holds,
//! [`read_request`] and [`delete_request`] read and delete the registration (RFC 7592).
//!
//! ```
//! use authflow::protocol::registration::{ClientMetadata, RegistrationRequest};
//! use authflow::types::{EndpointUrl, RedirectUri};
//!
//! let metadata = ClientMetadata::native_app([RedirectUri::new("http://127.0.0.1/callback")?])
//!     .client_name("My CLI");
//! let endpoint = EndpointUrl::new("https://as.example/register")?;
//! let req = RegistrationRequest::new(metadata).build(&endpoint)?;
//! assert_eq!(req.method(), http::Method::POST);
//! assert_eq!(req.headers()["content-type"], "application/json");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::BuildError;
use super::body::{Formats, read_fields};
use super::client_auth::Credentials;
use super::error::{OAuthError, ResponseError};
use super::form::{get_json, request_uri};
use super::www_authenticate::bearer_error;
use crate::types::{
    AccessToken, ClientId, ClientSecret, EndpointUrl, InvalidValue, RedirectUri, is_vschar,
};

/// `invalid_redirect_uri` (RFC 7591 §3.2.2): a redirect URI was refused.
pub const INVALID_REDIRECT_URI: &str = "invalid_redirect_uri";
/// `invalid_client_metadata` (RFC 7591 §3.2.2): a metadata value was refused.
pub const INVALID_CLIENT_METADATA: &str = "invalid_client_metadata";
/// `invalid_software_statement` (RFC 7591 §3.2.2).
pub const INVALID_SOFTWARE_STATEMENT: &str = "invalid_software_statement";
/// `unapproved_software_statement` (RFC 7591 §3.2.2).
pub const UNAPPROVED_SOFTWARE_STATEMENT: &str = "unapproved_software_statement";

/// What the user can do about an RFC 7591 §3.2.2 error code, for the four it defines.
pub fn registration_error_hint(error: &OAuthError) -> Option<&'static str> {
    Some(match error.error.as_str() {
        INVALID_REDIRECT_URI => {
            "the server refused a redirect URI: use one its policy allows (often https, or http on 127.0.0.1 for a native app)"
        }
        INVALID_CLIENT_METADATA => {
            "the server refused a metadata value (the description says which): drop or change it"
        }
        INVALID_SOFTWARE_STATEMENT => {
            "the software statement is invalid (signature, expiry or claims): get a fresh one"
        }
        UNAPPROVED_SOFTWARE_STATEMENT => {
            "the server does not accept this software statement: ask its operator which it accepts"
        }
        _ => return None,
    })
}

/// A registration access token (RFC 7592 §3): the bearer credential for reading and
/// deleting one registration. Redacted in `Debug` and `Display`, compared in constant
/// time, wiped on drop; serializes to its value, for stores.
#[derive(Clone)]
pub struct RegistrationAccessToken(String);

impl RegistrationAccessToken {
    /// Wraps a token: non-empty printable ASCII.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let mut value = value.into();
        if value.is_empty() || !is_vschar(&value) {
            value.zeroize();
            return Err(InvalidValue::new(
                "registration access token",
                "must be non-empty printable ASCII (RFC 6749 Appendix A)",
            ));
        }
        Ok(Self(value))
    }

    /// The token. Call this only where it goes on the wire or into a store.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RegistrationAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RegistrationAccessToken(<redacted>)")
    }
}

impl fmt::Display for RegistrationAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl PartialEq for RegistrationAccessToken {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for RegistrationAccessToken {}

impl Drop for RegistrationAccessToken {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Serialize for RegistrationAccessToken {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RegistrationAccessToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Client metadata (RFC 7591 §2), as a client sends it and a server echoes it.
///
/// Values are kept as sent: build them from typed values with the constructors and
/// setters. Lists left empty are not sent. Fields with a language tag
/// (`client_name#fr`) and every other field are in [`extra`](Self::extra).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ClientMetadata {
    /// `redirect_uris`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// `token_endpoint_auth_method`; RFC 7591 reads absence as `client_secret_basic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// `grant_types`; RFC 7591 reads an empty list as `authorization_code`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types: Vec<String>,
    /// `response_types`; RFC 7591 reads an empty list as `code`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_types: Vec<String>,
    /// `client_name`, shown to the user at consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// `client_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// `logo_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// `scope`: space-separated scope values the client may ask for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `contacts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    /// `tos_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// `policy_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// `jwks_uri`: where the client's public keys are; never together with `jwks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `jwks`: the client's public keys by value (a JWK Set object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// `software_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// `software_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// `software_statement` (RFC 7591 §2.3): a signed JWT vouching for the metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_statement: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The field names [`ClientMetadata`] types, plus the ones the server issues: none of
/// them may be set through [`ClientMetadata::extra`].
const RESERVED_FIELDS: [&str; 22] = [
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
    "client_id",
    "client_secret",
    "client_id_issued_at",
    "client_secret_expires_at",
    "registration_access_token",
    "registration_client_uri",
];

impl ClientMetadata {
    /// Metadata for a public native app (RFC 8252) using the code flow with refresh:
    /// `token_endpoint_auth_method=none`, `grant_types=[authorization_code, refresh_token]`,
    /// `response_types=[code]`.
    pub fn native_app(redirect_uris: impl IntoIterator<Item = RedirectUri>) -> Self {
        Self {
            redirect_uris: redirect_uris
                .into_iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            token_endpoint_auth_method: Some("none".into()),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            ..Self::default()
        }
    }

    /// Sets `client_name`.
    #[must_use]
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }

    /// Sets `token_endpoint_auth_method` (e.g. `client_secret_basic`, `private_key_jwt`).
    #[must_use]
    pub fn token_endpoint_auth_method(mut self, method: impl Into<String>) -> Self {
        self.token_endpoint_auth_method = Some(method.into());
        self
    }

    /// Sets `grant_types`.
    #[must_use]
    pub fn grant_types<I, S>(mut self, grants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.grant_types = grants.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `scope`.
    #[must_use]
    pub fn scope(mut self, scope: &crate::types::Scope) -> Self {
        self.scope = Some(scope.to_string());
        self
    }

    /// Sets `jwks_uri` and clears `jwks` (RFC 7591 §2: never both).
    #[must_use]
    pub fn jwks_uri(mut self, uri: &EndpointUrl) -> Self {
        self.jwks_uri = Some(uri.as_str().to_owned());
        self.jwks = None;
        self
    }

    /// Sets `jwks` to a JWK Set of these public keys and clears `jwks_uri`.
    #[must_use]
    pub fn jwks(mut self, keys: impl IntoIterator<Item = Map<String, Value>>) -> Self {
        let keys: Vec<Value> = keys.into_iter().map(Value::Object).collect();
        self.jwks = Some(serde_json::json!({ "keys": keys }));
        self.jwks_uri = None;
        self
    }

    /// Sets `software_statement`.
    #[must_use]
    pub fn software_statement(mut self, jwt: impl Into<String>) -> Self {
        self.software_statement = Some(jwt.into());
        self
    }

    /// Adds a field authflow does not type (a vendor extension, a `client_name#fr`).
    /// Fails for a field typed here or issued by the server.
    pub fn with_extra(mut self, name: &str, value: Value) -> Result<Self, BuildError> {
        check_extra_field(name)?;
        self.extra.insert(name.to_owned(), value);
        Ok(self)
    }

    /// The effective `grant_types` (RFC 7591 §2: empty means `authorization_code`).
    pub fn effective_grant_types(&self) -> Vec<&str> {
        if self.grant_types.is_empty() {
            vec!["authorization_code"]
        } else {
            self.grant_types.iter().map(String::as_str).collect()
        }
    }

    /// Reads metadata out of `f` (what it does not type stays in `extra`). Strict: a
    /// typed field of the wrong shape is an error; lenient: it stays in `extra` as sent.
    pub(super) fn take_from(
        f: &mut Map<String, Value>,
        lenient: bool,
    ) -> Result<Self, (&'static str, &'static str)> {
        use fields::{list, string, take};
        let mut m = Self {
            redirect_uris: take(f, "redirect_uris", list, lenient)?.unwrap_or_default(),
            token_endpoint_auth_method: take(f, "token_endpoint_auth_method", string, lenient)?,
            grant_types: take(f, "grant_types", list, lenient)?.unwrap_or_default(),
            response_types: take(f, "response_types", list, lenient)?.unwrap_or_default(),
            client_name: take(f, "client_name", string, lenient)?,
            client_uri: take(f, "client_uri", string, lenient)?,
            logo_uri: take(f, "logo_uri", string, lenient)?,
            scope: take(f, "scope", string, lenient)?,
            contacts: take(f, "contacts", list, lenient)?.unwrap_or_default(),
            tos_uri: take(f, "tos_uri", string, lenient)?,
            policy_uri: take(f, "policy_uri", string, lenient)?,
            jwks_uri: take(f, "jwks_uri", string, lenient)?,
            jwks: take(f, "jwks", fields::object, lenient)?,
            software_id: take(f, "software_id", string, lenient)?,
            software_version: take(f, "software_version", string, lenient)?,
            software_statement: take(f, "software_statement", string, lenient)?,
            extra: Map::new(),
        };
        m.extra = std::mem::take(f);
        Ok(m)
    }

    fn check_extra(&self) -> Result<(), BuildError> {
        self.extra.keys().try_for_each(|k| check_extra_field(k))
    }
}

fn check_extra_field(name: &str) -> Result<(), BuildError> {
    if name.is_empty() || RESERVED_FIELDS.contains(&name) {
        return Err(BuildError::Parameter(name.to_owned()));
    }
    Ok(())
}

/// A client registration request (RFC 7591 §3.1).
#[derive(Debug, Clone)]
#[must_use]
pub struct RegistrationRequest {
    metadata: ClientMetadata,
    initial_access_token: Option<AccessToken>,
}

impl RegistrationRequest {
    /// A request to register a client with this metadata.
    pub fn new(metadata: ClientMetadata) -> Self {
        Self {
            metadata,
            initial_access_token: None,
        }
    }

    /// Sends `Authorization: Bearer <token>`: the initial access token (RFC 7591 §3) for
    /// servers whose registration is not open.
    pub fn initial_access_token(mut self, token: AccessToken) -> Self {
        self.initial_access_token = Some(token);
        self
    }

    /// The metadata sent.
    pub fn metadata(&self) -> &ClientMetadata {
        &self.metadata
    }

    /// `POST {endpoint}` with the metadata as a JSON object.
    pub fn build(&self, endpoint: &EndpointUrl) -> Result<Request<Vec<u8>>, BuildError> {
        self.metadata.check_extra()?;
        let body = serde_json::to_vec(&self.metadata).map_err(|e| BuildError::Url {
            url: endpoint.to_string(),
            reason: format!("the metadata cannot be serialized: {e}"),
        })?;
        let mut req = Request::new(body);
        *req.method_mut() = Method::POST;
        *req.uri_mut() = request_uri(endpoint.as_url())?;
        let h = req.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(token) = &self.initial_access_token {
            h.insert(header::AUTHORIZATION, bearer(token.secret())?);
        }
        Ok(req)
    }
}

fn bearer(token: &str) -> Result<HeaderValue, BuildError> {
    let mut v = HeaderValue::try_from(format!("Bearer {token}"))
        .map_err(|_| BuildError::Header("authorization"))?;
    v.set_sensitive(true);
    Ok(v)
}

/// A registered client (RFC 7591 §3.2.1, RFC 7592 §3): what the server issued and the
/// metadata it registered (which may differ from what was asked).
///
/// Serializes to the RFC 7591 response form, secrets included: serializing is how a
/// registration is kept, so keep the result where tokens are kept. `Debug` redacts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RegisteredClient {
    /// `client_id`.
    pub client_id: ClientId,
    /// `client_secret`, for a confidential client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    /// `client_id_issued_at`, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_issued_at: Option<u64>,
    /// `client_secret_expires_at`, seconds since the Unix epoch; `0` means never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<u64>,
    /// `registration_access_token` (RFC 7592).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<RegistrationAccessToken>,
    /// `registration_client_uri` (RFC 7592): where the registration is read and deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<EndpointUrl>,
    /// The registered metadata.
    #[serde(flatten)]
    pub metadata: ClientMetadata,
}

impl RegisteredClient {
    /// When the client secret expires; `None` when it never does or is not known.
    pub fn secret_expires_at(&self) -> Option<SystemTime> {
        match self.client_secret_expires_at {
            None | Some(0) => None,
            Some(s) => UNIX_EPOCH.checked_add(Duration::from_secs(s)),
        }
    }

    /// Whether the client secret has expired at `now` (register again, or read the
    /// registration for a new one).
    pub fn is_secret_expired(&self, now: SystemTime) -> bool {
        self.client_secret.is_some() && self.secret_expires_at().is_some_and(|at| at <= now)
    }

    /// Where and with what the registration is managed (RFC 7592), when the server
    /// supports it.
    pub fn management(&self) -> Option<(&EndpointUrl, &RegistrationAccessToken)> {
        Some((
            self.registration_client_uri.as_ref()?,
            self.registration_access_token.as_ref()?,
        ))
    }

    /// The credentials for the token endpoint, by the registered
    /// `token_endpoint_auth_method`. `None` when that method needs what a registration
    /// cannot hold (`private_key_jwt`: use [`Credentials::private_key_jwt`] with the key)
    /// or names a secret the server did not issue. No method and no secret is a public
    /// client.
    pub fn credentials(&self) -> Option<Credentials> {
        let id = self.client_id.clone();
        let secret = self.client_secret.clone();
        match (self.metadata.token_endpoint_auth_method.as_deref(), secret) {
            (Some("none"), _) | (None, None) => Some(Credentials::public(id)),
            (Some("client_secret_basic") | None, Some(s)) => Some(Credentials::secret_basic(id, s)),
            (Some("client_secret_post"), Some(s)) => Some(Credentials::secret_post(id, s)),
            (Some("client_secret_jwt"), Some(s)) => Some(Credentials::secret_jwt(id, s)),
            _ => None,
        }
    }

    /// The answer to a read (RFC 7592 §2.1) completed with what it may leave out: the
    /// secret, the registration access token and URI are kept from `previous` when the
    /// server did not send new ones.
    #[must_use]
    pub fn keeping_credentials_of(mut self, previous: &RegisteredClient) -> Self {
        if self.client_secret.is_none() {
            self.client_secret = previous.client_secret.clone();
            self.client_secret_expires_at = self
                .client_secret_expires_at
                .or(previous.client_secret_expires_at);
        }
        if self.registration_access_token.is_none() {
            self.registration_access_token = previous.registration_access_token.clone();
        }
        if self.registration_client_uri.is_none() {
            self.registration_client_uri = previous.registration_client_uri.clone();
        }
        self
    }
}

/// Reads a registration response (RFC 7591 §3.2) or a read response (RFC 7592 §2.1).
///
/// An error answer becomes [`ResponseError::OAuth`] with its fields intact, whether it is
/// an RFC 7591 §3.2.2 body (`invalid_redirect_uri`, ...) or a Bearer challenge for a bad
/// registration access token. Metadata of an unexpected shape is kept in `extra`
/// rather than refused: the client exists on the server once it answered.
pub fn parse_registration_response(
    resp: &Response<Bytes>,
) -> Result<RegisteredClient, ResponseError> {
    if let Some(e) = challenge_error(resp) {
        return Err(e.into());
    }
    registered_from_fields(read_fields(resp, Formats::Json)?)
}

/// The one reader of a registration, for responses and stored copies alike.
fn registered_from_fields(mut f: Map<String, Value>) -> Result<RegisteredClient, ResponseError> {
    let client_id = match f.remove("client_id") {
        Some(Value::String(s)) => ClientId::new(s).map_err(|e| invalid("client_id", e))?,
        None | Some(Value::Null) => return Err(ResponseError::MissingField("client_id")),
        Some(_) => return Err(invalid_text("client_id", "must be a string")),
    };
    let client_secret = match take_string(&mut f, "client_secret")? {
        Some(s) => Some(ClientSecret::new(s).map_err(|e| invalid("client_secret", e))?),
        None => None,
    };
    let registration_access_token = match take_string(&mut f, "registration_access_token")? {
        Some(s) => Some(
            RegistrationAccessToken::new(s).map_err(|e| invalid("registration_access_token", e))?,
        ),
        None => None,
    };
    // The registration access token goes to this URL: https (or loopback) only.
    let registration_client_uri = match take_string(&mut f, "registration_client_uri")? {
        Some(s) => Some(EndpointUrl::new(&s).map_err(|e| invalid("registration_client_uri", e))?),
        None => None,
    };
    let client_id_issued_at =
        fields::take(&mut f, "client_id_issued_at", fields::seconds, true).map_err(invalid_pair)?;
    let client_secret_expires_at =
        fields::take(&mut f, "client_secret_expires_at", fields::seconds, true)
            .map_err(invalid_pair)?;
    let metadata = ClientMetadata::take_from(&mut f, true).map_err(invalid_pair)?;
    Ok(RegisteredClient {
        client_id,
        client_secret,
        client_id_issued_at,
        client_secret_expires_at,
        registration_access_token,
        registration_client_uri,
        metadata,
    })
}

// Reading goes through the lenient reader: whatever a server echoed and was stored
// reads back, where a derived reader would refuse a field of an odd shape.
impl<'de> Deserialize<'de> for ClientMetadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut f = Map::<String, Value>::deserialize(d)?;
        Self::take_from(&mut f, true)
            .map_err(|(field, reason)| serde::de::Error::custom(format!("`{field}` {reason}")))
    }
}

impl<'de> Deserialize<'de> for RegisteredClient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        registered_from_fields(Map::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// `GET {registration_client_uri}` with the registration access token (RFC 7592 §2.1).
/// Read the answer with [`parse_registration_response`].
pub fn read_request(
    registration_client_uri: &EndpointUrl,
    token: &RegistrationAccessToken,
) -> Result<Request<Vec<u8>>, BuildError> {
    let mut req = get_json(registration_client_uri.as_url())?;
    req.headers_mut()
        .insert(header::AUTHORIZATION, bearer(token.secret())?);
    Ok(req)
}

/// `DELETE {registration_client_uri}` with the registration access token (RFC 7592 §2.3).
/// Read the answer with [`parse_delete_response`].
pub fn delete_request(
    registration_client_uri: &EndpointUrl,
    token: &RegistrationAccessToken,
) -> Result<Request<Vec<u8>>, BuildError> {
    let mut req = read_request(registration_client_uri, token)?;
    *req.method_mut() = Method::DELETE;
    Ok(req)
}

/// Reads the answer to a delete: `204` (or another success) means deleted. A `401` means
/// the token is invalid or the client is already gone; `405` that the server does not
/// allow deletion (RFC 7592 §2.3).
pub fn parse_delete_response(resp: &Response<Bytes>) -> Result<(), ResponseError> {
    if resp.status().is_success() {
        return Ok(());
    }
    if let Some(e) = challenge_error(resp) {
        return Err(e.into());
    }
    match read_fields(resp, Formats::Json) {
        Err(e) => Err(e),
        // A success body on an error status: read_fields only passes 2xx.
        Ok(_) => Err(ResponseError::Status {
            status: resp.status(),
            content_type: None,
        }),
    }
}

/// The Bearer challenge's error on a refused management request (RFC 7592 §2 uses RFC
/// 6750 for a bad registration access token).
fn challenge_error(resp: &Response<Bytes>) -> Option<OAuthError> {
    let status = resp.status();
    if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
        return None;
    }
    bearer_error(resp.headers()).map(|c| c.to_oauth_error(status))
}

fn take_string(
    f: &mut Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, ResponseError> {
    fields::take(f, field, fields::string, false).map_err(invalid_pair)
}

/// The reason from a constructor's error; never the value, which may be a secret.
fn invalid(field: &'static str, e: InvalidValue) -> ResponseError {
    ResponseError::InvalidField {
        field,
        reason: e.reason,
    }
}

fn invalid_text(field: &'static str, reason: &str) -> ResponseError {
    ResponseError::InvalidField {
        field,
        reason: reason.to_owned(),
    }
}

fn invalid_pair((field, reason): (&'static str, &'static str)) -> ResponseError {
    invalid_text(field, reason)
}

// Shared with `client_id_metadata` and `resource_metadata`.
#[path = "metadata_fields.rs"]
pub(super) mod fields;

#[cfg(test)]
#[path = "registration_tests.rs"]
mod tests;
