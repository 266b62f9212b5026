//! OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
//! "CIMD"): a client whose `client_id` is an `https` URL serving its metadata, so that it
//! needs no registration.
//!
//! For clients: [`ClientIdUrl`] checks the URL rules, [`ClientIdMetadataDocument`] builds
//! the document to publish at it, and [`supports_client_id_metadata_documents`] says
//! whether a server takes such client IDs. For servers:
//! [`client_id_metadata_request`] fetches the document and
//! [`parse_client_id_metadata_document`] checks it (status 200, at most
//! [`MAX_DOCUMENT_BYTES`], `client_id` equal to the URL fetched, no shared secret).
//!
//! ```
//! use authflow::protocol::client_id_metadata::{ClientIdMetadataDocument, ClientIdUrl};
//! use authflow::types::RedirectUri;
//! let id = ClientIdUrl::new("https://app.example/oauth/client.json")?;
//! let doc = ClientIdMetadataDocument::public(
//!     id,
//!     "Example App",
//!     [RedirectUri::new("http://127.0.0.1/callback")?],
//! );
//! let json: serde_json::Value = serde_json::from_slice(&doc.to_json()?)?;
//! assert_eq!(json["client_id"], "https://app.example/oauth/client.json");
//! assert_eq!(json["token_endpoint_auth_method"], "none");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use url::Url;

use super::BuildError;
use super::body::{media_type, parse_json};
use super::discovery::ServerMetadata;
use super::error::{OAuthError, ResponseError};
use super::form::get_json;
use super::registration::ClientMetadata;
use crate::jose::{JwkError, PublicJwk};
use crate::types::{ClientId, EndpointUrl, RedirectUri, is_loopback_url};

/// The most a server reads of a document: the draft recommends 5 kilobytes.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;

/// The AS metadata field announcing support (draft §6).
pub const SUPPORTED_FIELD: &str = "client_id_metadata_document_supported";

/// Whether the server's metadata says it accepts client ID URLs: the field must be the
/// JSON boolean `true`.
pub fn supports_client_id_metadata_documents(metadata: &ServerMetadata) -> bool {
    metadata.extra.get(SUPPORTED_FIELD) == Some(&Value::Bool(true))
}

/// Which URLs [`ClientIdUrl::with_rules`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientIdUrlRules {
    /// The draft's rules: `https` only.
    Strict,
    /// Also `http` on a loopback host: for a development server and tests, never in
    /// production (a client ID URL is fetched by the server).
    AllowLoopbackHttp,
}

/// A client identifier URL (draft §3): `https`, a host, a path without `.` or `..`
/// segments (percent-encoded ones included), no fragment, no user info; a port and a
/// query are allowed.
///
/// The string is kept exactly as given: client ID URLs are compared by simple string
/// comparison (RFC 3986 §6.2.1), so `https://app.example:443/c` is not
/// `https://app.example/c`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientIdUrl {
    raw: String,
    url: Url,
    id: ClientId,
}

impl ClientIdUrl {
    /// Checks `s` against the draft's rules.
    pub fn new(s: &str) -> Result<Self, ClientIdMetadataError> {
        Self::with_rules(s, ClientIdUrlRules::Strict)
    }

    /// Checks `s` against `rules`.
    pub fn with_rules(s: &str, rules: ClientIdUrlRules) -> Result<Self, ClientIdMetadataError> {
        let bad = |reason: &str| {
            Err(ClientIdMetadataError::InvalidUrl {
                reason: reason.to_owned(),
            })
        };
        let Ok(id) = ClientId::new(s) else {
            return bad("must be printable ASCII");
        };
        if s.contains(' ') {
            return bad("must not contain spaces");
        }
        let url = match Url::parse(s) {
            Ok(u) => u,
            Err(e) => return bad(&format!("is not an absolute URL ({e})")),
        };
        match url.scheme() {
            "https" => {}
            "http" if rules == ClientIdUrlRules::AllowLoopbackHttp && is_loopback_url(&url) => {}
            _ => return bad("must use https"),
        }
        if url.host().is_none() {
            return bad("must have a host");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return bad("must not contain user:password@");
        }
        if s.contains('#') {
            return bad("must not have a #fragment");
        }
        // The parser removes dot segments, so the rules apply to the string as given.
        let path = raw_path(s);
        if path.is_empty() {
            return bad("must have a path, such as /client.json");
        }
        if path.split('/').any(is_dot_segment) {
            return bad("must not contain `.` or `..` path segments");
        }
        Ok(Self {
            raw: s.to_owned(),
            url,
            id,
        })
    }

    /// The URL exactly as given: the `client_id`.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parsed URL, for fetching.
    pub fn as_url(&self) -> &Url {
        &self.url
    }

    /// As a client ID for requests.
    pub fn client_id(&self) -> &ClientId {
        &self.id
    }
}

impl fmt::Debug for ClientIdUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientIdUrl({:?})", self.raw)
    }
}

impl fmt::Display for ClientIdUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Serialize for ClientIdUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

/// Whether `s` is a valid client identifier URL under the draft's rules: a server can use
/// this to tell a CIMD `client_id` from one it issued.
pub fn is_client_id_url(s: &str) -> bool {
    ClientIdUrl::new(s).is_ok()
}

/// The path of a URL string as written: after the authority, before `?` or `#`.
fn raw_path(s: &str) -> &str {
    let after_scheme = s.split_once("://").map_or("", |(_, rest)| rest);
    let Some(start) = after_scheme.find(['/', '?', '#']) else {
        return "";
    };
    let rest = &after_scheme[start..];
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.replace("%2e", ".").replace("%2E", ".");
    decoded == "." || decoded == ".."
}

/// The keys a private-key-JWT client publishes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientKeys {
    /// Public JWKs by value (`jwks`).
    Jwks(Vec<Map<String, Value>>),
    /// A URL serving the JWK Set (`jwks_uri`).
    JwksUri(EndpointUrl),
}

/// A client ID metadata document (draft §4): the client's RFC 7591 metadata with the
/// `client_id` it is published at.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ClientIdMetadataDocument {
    /// `client_id`: the URL the document is served at.
    pub client_id: ClientIdUrl,
    /// The rest of the metadata.
    #[serde(flatten)]
    pub metadata: ClientMetadata,
}

impl ClientIdMetadataDocument {
    /// A public client (`token_endpoint_auth_method=none`) using the code flow with
    /// refresh tokens.
    pub fn public(
        client_id: ClientIdUrl,
        client_name: impl Into<String>,
        redirect_uris: impl IntoIterator<Item = RedirectUri>,
    ) -> Self {
        Self {
            client_id,
            metadata: ClientMetadata::native_app(redirect_uris).client_name(client_name),
        }
    }

    /// A confidential client authenticating with `private_key_jwt` (RFC 7523) and these
    /// public keys.
    pub fn private_key_jwt(
        client_id: ClientIdUrl,
        client_name: impl Into<String>,
        redirect_uris: impl IntoIterator<Item = RedirectUri>,
        keys: ClientKeys,
    ) -> Self {
        let metadata = ClientMetadata::native_app(redirect_uris)
            .client_name(client_name)
            .token_endpoint_auth_method("private_key_jwt");
        let metadata = match keys {
            ClientKeys::Jwks(keys) => metadata.jwks(keys),
            ClientKeys::JwksUri(uri) => metadata.jwks_uri(&uri),
        };
        Self {
            client_id,
            metadata,
        }
    }

    /// The effective `token_endpoint_auth_method`: absent means `none` for these clients,
    /// since the RFC 7591 default (`client_secret_basic`) is forbidden to them.
    pub fn auth_method(&self) -> &str {
        self.metadata
            .token_endpoint_auth_method
            .as_deref()
            .unwrap_or("none")
    }

    /// Checks the document against the rules a server applies (draft §4, §4.1, §4.2).
    pub fn validate(&self) -> Result<(), ClientIdMetadataError> {
        let m = &self.metadata;
        if let Some(field) = ["client_secret", "client_secret_expires_at"]
            .into_iter()
            .find(|f| m.extra.contains_key(*f))
        {
            return Err(ClientIdMetadataError::SharedSecret { field });
        }
        let method = self.auth_method();
        if method.starts_with("client_secret") {
            return Err(ClientIdMetadataError::SharedSecretMethod {
                method: method.chars().take(100).collect(),
            });
        }
        match (&m.jwks, &m.jwks_uri) {
            (Some(_), Some(_)) => {
                return Err(invalid("jwks", "`jwks` and `jwks_uri` exclude each other"));
            }
            (Some(jwks), None) => check_jwks(jwks)?,
            (None, Some(uri)) => {
                EndpointUrl::new(uri).map_err(|e| invalid("jwks_uri", &e.reason))?;
            }
            (None, None) if method == "private_key_jwt" => {
                return Err(invalid(
                    "token_endpoint_auth_method",
                    "`private_key_jwt` needs `jwks` or `jwks_uri`",
                ));
            }
            (None, None) => {}
        }
        let redirects = m
            .effective_grant_types()
            .iter()
            .any(|g| matches!(*g, "authorization_code" | "implicit"));
        if redirects && m.redirect_uris.is_empty() {
            return Err(ClientIdMetadataError::MissingField("redirect_uris"));
        }
        if let Some(bad) = m
            .redirect_uris
            .iter()
            .find_map(|r| RedirectUri::new(r).err())
        {
            return Err(invalid("redirect_uris", &bad.reason));
        }
        Ok(())
    }

    /// The document as JSON, to serve at the client ID URL; refuses one that breaks the
    /// rules ([`validate`](Self::validate)).
    pub fn to_json(&self) -> Result<Vec<u8>, ClientIdMetadataError> {
        self.validate()?;
        if self.metadata.extra.contains_key("client_id") {
            return Err(invalid("client_id", "set twice (also in `extra`)"));
        }
        serde_json::to_vec(self)
            .map_err(|e| invalid("client_id", &format!("cannot serialize ({e})")))
    }
}

/// Refuses a JWK Set with private members; keys of types authflow does not verify are
/// left for the server to judge.
fn check_jwks(jwks: &Value) -> Result<(), ClientIdMetadataError> {
    let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
        return Err(invalid("jwks", "must be a JWK Set with a `keys` array"));
    };
    for key in keys {
        let Value::Object(key) = key else {
            return Err(invalid("jwks", "every key must be a JSON object"));
        };
        if let Err(JwkError::Private) = PublicJwk::from_object(key) {
            return Err(ClientIdMetadataError::PrivateKeyMaterial);
        }
    }
    Ok(())
}

/// `GET {client_id}` with `Accept: application/json`, for a server. Send it with a body
/// cap of [`MAX_DOCUMENT_BYTES`], without following redirects (draft §5), and never to a
/// special-use address (draft §8.6: resolve and check before connecting).
pub fn client_id_metadata_request(client_id: &ClientIdUrl) -> Result<Request<Vec<u8>>, BuildError> {
    get_json(client_id.as_url())
}

/// Checks a fetched document for a server: status exactly 200, at most
/// [`MAX_DOCUMENT_BYTES`], a JSON object whose `client_id` equals `fetched` character
/// for character, no shared secret, no private key, redirect URIs present for
/// redirect-based grants.
pub fn parse_client_id_metadata_document(
    resp: &Response<Bytes>,
    fetched: &ClientIdUrl,
) -> Result<ClientIdMetadataDocument, ClientIdMetadataError> {
    if resp.status() != StatusCode::OK {
        return Err(ClientIdMetadataError::Status {
            status: resp.status(),
        });
    }
    if resp.body().len() > MAX_DOCUMENT_BYTES {
        return Err(ClientIdMetadataError::TooLarge {
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    if let Some(m) = media_type(resp)
        && m != "application/json"
        && !(m.starts_with("application/") && m.ends_with("+json"))
    {
        return Err(ResponseError::ContentType { content_type: m }.into());
    }
    let mut f = parse_json(resp.body())?;
    match f.remove("client_id") {
        Some(Value::String(id)) if id == fetched.as_str() => {}
        Some(Value::String(id)) => {
            return Err(ClientIdMetadataError::ClientIdMismatch {
                expected: fetched.as_str().to_owned(),
                found: id.chars().take(200).collect(),
            });
        }
        None | Some(Value::Null) => return Err(ClientIdMetadataError::MissingField("client_id")),
        Some(_) => return Err(invalid("client_id", "must be a string")),
    }
    let metadata = ClientMetadata::take_from(&mut f, false)
        .map_err(|(field, reason)| invalid(field, reason))?;
    let doc = ClientIdMetadataDocument {
        client_id: fetched.clone(),
        metadata,
    };
    doc.validate()?;
    Ok(doc)
}

/// Why a client ID URL or its document cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientIdMetadataError {
    /// The client ID is not a valid client identifier URL.
    #[error("the client ID URL is invalid: it {reason}")]
    InvalidUrl {
        /// The rule it broke.
        reason: String,
    },
    /// The document was not served with 200 (redirects included: they are not followed).
    #[error(
        "the client metadata document answered HTTP {status}, not 200; serve it at the client ID URL itself, without redirects"
    )]
    Status {
        /// The status.
        status: StatusCode,
    },
    /// The document is larger than [`MAX_DOCUMENT_BYTES`].
    #[error("the client metadata document is larger than {limit} bytes; keep it small")]
    TooLarge {
        /// The cap.
        limit: usize,
    },
    /// The body is not a JSON object.
    #[error("the client metadata document is unusable: {0}")]
    Response(#[from] ResponseError),
    /// The document's `client_id` is not the URL it was fetched from.
    #[error(
        "the client metadata document names client_id {found:?} but was fetched from {expected:?}; they must be the same string"
    )]
    ClientIdMismatch {
        /// The URL fetched.
        expected: String,
        /// The `client_id` in the document (shortened if very long).
        found: String,
    },
    /// A field the rules require is missing.
    #[error("the client metadata document has no `{0}`")]
    MissingField(&'static str),
    /// A field has a value the rules refuse.
    #[error("the client metadata document's `{field}` is invalid: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// `client_secret` or `client_secret_expires_at` is present (draft §4.1).
    #[error(
        "the client metadata document contains `{field}`; a published document can hold no shared secret: use `none` or `private_key_jwt`"
    )]
    SharedSecret {
        /// The field.
        field: &'static str,
    },
    /// A shared-secret authentication method (draft §4.1).
    #[error(
        "token_endpoint_auth_method `{method}` needs a shared secret, which a client ID metadata document cannot have: use `none` or `private_key_jwt`"
    )]
    SharedSecretMethod {
        /// The method named.
        method: String,
    },
    /// A JWK with private members (draft §4.1).
    #[error(
        "the client metadata document's `jwks` holds private key material; publish only public keys"
    )]
    PrivateKeyMaterial,
}

impl ClientIdMetadataError {
    /// The OAuth error a server answers with (never by redirect: the client is not
    /// identified): `invalid_request` for a bad URL or redirect URIs, `invalid_client`
    /// for the rest.
    pub fn to_oauth_error(&self) -> OAuthError {
        let code = match self {
            Self::InvalidUrl { .. }
            | Self::MissingField("redirect_uris")
            | Self::InvalidField {
                field: "redirect_uris",
                ..
            } => "invalid_request",
            _ => "invalid_client",
        };
        OAuthError::new(StatusCode::BAD_REQUEST, code).with_description(self.to_string())
    }
}

fn invalid(field: &'static str, reason: &str) -> ClientIdMetadataError {
    ClientIdMetadataError::InvalidField {
        field,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
#[path = "client_id_metadata_tests.rs"]
mod tests;
