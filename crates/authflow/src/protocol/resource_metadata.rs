//! OAuth 2.0 Protected Resource Metadata (RFC 9728): from a resource URL to the
//! authorization servers that issue tokens for it.
//!
//! A resource that refuses a request answers `401` with
//! `WWW-Authenticate: Bearer resource_metadata="…"`; [`resource_metadata_from_headers`]
//! reads that URL and [`challenge_location`] checks it is on the resource's origin.
//! Without one, [`well_known_locations`] gives the RFC 9728 §3.1 URLs to try, the
//! path-inserted one first, then the root one (the MCP authorization order). Build the
//! request with [`resource_metadata_request`] and check the answer with
//! [`parse_resource_metadata`], which refuses a document that names another resource
//! (RFC 9728 §3.3).
//!
//! ```
//! use authflow::protocol::resource_metadata::{MetadataSource, well_known_locations};
//! let resource = url::Url::parse("https://api.example/v1/mcp").unwrap();
//! let locations = well_known_locations(&resource).unwrap();
//! assert_eq!(
//!     locations[0].url().as_str(),
//!     "https://api.example/.well-known/oauth-protected-resource/v1/mcp"
//! );
//! assert_eq!(locations[1].source(), MetadataSource::Root);
//! assert_eq!(locations[1].url().as_str(), "https://api.example/.well-known/oauth-protected-resource");
//! ```

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use super::BuildError;
use super::body::{Formats, read_fields};
use super::error::ResponseError;
use super::form::get_json;
use super::registration::fields;
use super::www_authenticate::challenges_from_headers;
use crate::types::{
    EndpointUrl, InvalidValue, IssuerUrl, ResourceIndicator, Scope, is_loopback_url,
};

/// The well-known URI suffix (RFC 9728 §3).
pub const WELL_KNOWN_SUFFIX: &str = "oauth-protected-resource";

/// How a metadata URL was found, which decides the `resource` its document must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetadataSource {
    /// The `resource_metadata` parameter of the resource's `401`: the document must name
    /// the URL the client requested (RFC 9728 §3.3).
    Challenge,
    /// The well-known suffix inserted before the resource's path: the document must name
    /// the resource.
    PathInserted,
    /// The well-known URL at the root of the resource's origin: the document names the
    /// origin (RFC 9728 §3.3), or exactly the resource requested (as MCP servers that
    /// publish one document per host do).
    Root,
}

/// A URL to fetch protected-resource metadata from, with what its document must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataLocation {
    url: Url,
    source: MetadataSource,
    /// The `resource` values the document may name, compared after normalisation.
    expected: Vec<Url>,
}

impl MetadataLocation {
    /// The metadata URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// How the URL was found.
    pub fn source(&self) -> MetadataSource {
        self.source
    }

    /// The resource identifiers the document may name, the first being the one RFC 9728
    /// §3.3 names.
    pub fn expected_resources(&self) -> &[Url] {
        &self.expected
    }

    /// Whether `resource`, as a document states it, is one this location may describe.
    pub fn accepts(&self, resource: &str) -> bool {
        Url::parse(resource).is_ok_and(|r| self.expected.iter().any(|e| same_resource(e, &r)))
    }
}

/// Whether a cross-origin `resource_metadata` URL may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OriginPolicy {
    /// Only a URL on the resource's origin (the default).
    SameOrigin,
    /// Any `https` URL: for after the user said they trust it.
    AllowCrossOrigin,
}

/// What was wrong with a resource URL, a metadata URL or a metadata document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceMetadataError {
    /// The resource URL itself cannot be used.
    #[error(
        "the resource URL cannot be used: {reason}; give an https URL (http only on loopback) without #fragment or user:password@"
    )]
    InvalidResource {
        /// Why.
        reason: String,
    },
    /// The `resource_metadata` URL the resource sent cannot be used.
    #[error("the resource's metadata URL cannot be used: {reason}")]
    InvalidMetadataUrl {
        /// Why (names the URL, which is never secret).
        reason: String,
    },
    /// The `resource_metadata` URL is on another origin than the resource.
    #[error(
        "the resource at {resource_origin} points to metadata at {metadata_url}, on another origin; fetch it only if you trust that server to say which authorization server may issue tokens for this resource"
    )]
    CrossOrigin {
        /// The resource's origin.
        resource_origin: String,
        /// The metadata URL it named.
        metadata_url: String,
    },
    /// The response was unusable (status, content type, size, JSON).
    #[error(transparent)]
    Response(#[from] ResponseError),
    /// The document names another resource (RFC 9728 §3.3): it must not be used.
    #[error(
        "the metadata describes resource {found:?} but {expected:?} was asked for; use the resource URL exactly as the server names it"
    )]
    ResourceMismatch {
        /// The resource identifier expected.
        expected: String,
        /// The one in the document (shortened if very long).
        found: String,
    },
    /// A required field is missing.
    #[error("the resource metadata has no `{0}`; the server's RFC 9728 document is incomplete")]
    MissingField(&'static str),
    /// A field has a value of the wrong form.
    #[error("the resource metadata's `{field}` is invalid: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
}

impl ResourceMetadataError {
    /// Whether the server answered 404.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::Response(ResponseError::Status {
                status: StatusCode::NOT_FOUND,
                ..
            })
        )
    }

    /// Whether there is simply no document here (an error status, HTML, not JSON), as
    /// opposed to a document that is wrong.
    pub fn is_no_document(&self) -> bool {
        matches!(
            self,
            Self::Response(
                ResponseError::Status { .. }
                    | ResponseError::ContentType { .. }
                    | ResponseError::Malformed { .. }
            )
        )
    }
}

/// Checks that `resource` can be a protected resource's URL: `https` (or `http` on a
/// loopback host, for development), a host, no fragment, no credentials.
pub fn check_resource_url(resource: &Url) -> Result<(), ResourceMetadataError> {
    let bad = |reason: String| Err(ResourceMetadataError::InvalidResource { reason });
    match resource.scheme() {
        "https" => {}
        "http" if is_loopback_url(resource) => {}
        other => return bad(format!("{} uses scheme `{other}`", display(resource))),
    }
    if resource.host().is_none() {
        return bad(format!("{} has no host", display(resource)));
    }
    if !resource.username().is_empty() || resource.password().is_some() {
        return bad("it carries user:password@ credentials".into());
    }
    if resource.fragment().is_some() {
        return bad(format!("{} has a #fragment", display(resource)));
    }
    Ok(())
}

/// The RFC 9728 §3.1 metadata URLs for `resource`, in the order to try them: the
/// path-inserted one (when the resource has a path or query), then the root one.
pub fn well_known_locations(
    resource: &Url,
) -> Result<Vec<MetadataLocation>, ResourceMetadataError> {
    check_resource_url(resource)?;
    let origin = origin_url(resource);
    let mut out = Vec::with_capacity(2);
    // A lone `/` after the host is dropped before inserting (RFC 9728 §3.1).
    let path = match resource.path() {
        "/" => "",
        p => p,
    };
    if !path.is_empty() || resource.query().is_some() {
        let mut url = origin.clone();
        url.set_path(&format!("/.well-known/{WELL_KNOWN_SUFFIX}{path}"));
        url.set_query(resource.query());
        out.push(MetadataLocation {
            url,
            source: MetadataSource::PathInserted,
            expected: vec![resource.clone()],
        });
    }
    let mut root = origin.clone();
    root.set_path(&format!("/.well-known/{WELL_KNOWN_SUFFIX}"));
    let mut expected = vec![origin];
    if !path.is_empty() || resource.query().is_some() {
        expected.push(resource.clone());
    }
    out.push(MetadataLocation {
        url: root,
        source: MetadataSource::Root,
        expected,
    });
    Ok(out)
}

/// The location named by a `401`'s `resource_metadata` parameter, for `resource` (the
/// URL the client requested). A URL on another origin is [`ResourceMetadataError::CrossOrigin`]
/// unless `policy` allows it: ask the user before allowing it, since that document says
/// which authorization servers may issue tokens for the resource.
pub fn challenge_location(
    resource: &Url,
    metadata_url: &str,
    policy: OriginPolicy,
) -> Result<MetadataLocation, ResourceMetadataError> {
    check_resource_url(resource)?;
    let url = EndpointUrl::new(metadata_url)
        .map_err(|e| ResourceMetadataError::InvalidMetadataUrl { reason: e.reason })?
        .as_url()
        .clone();
    if policy == OriginPolicy::SameOrigin && url.origin() != resource.origin() {
        return Err(ResourceMetadataError::CrossOrigin {
            resource_origin: resource.origin().ascii_serialization(),
            metadata_url: display(&url),
        });
    }
    // RFC 9728 §3.3: the document names the resource identifier its well-known URL was
    // made from; accepted when the requested URL is that resource or under it (so never
    // across origins). The requested URL itself stays accepted, as MCP servers name
    // their endpoint.
    let mut expected = vec![resource.clone()];
    if let Some(id) = identifier_of(&url).filter(|id| covers(id, resource)) {
        expected.push(id);
    }
    Ok(MetadataLocation {
        url,
        source: MetadataSource::Challenge,
        expected,
    })
}

/// The resource identifier a well-known metadata URL was made from (RFC 9728 §3.1): the
/// origin with the path after the suffix, and the query; `None` for any other URL.
fn identifier_of(metadata_url: &Url) -> Option<Url> {
    let prefix = format!("/.well-known/{WELL_KNOWN_SUFFIX}");
    let rest = metadata_url.path().strip_prefix(&prefix)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let mut id = origin_url(metadata_url);
    id.set_path(rest);
    id.set_query(metadata_url.query());
    Some(id)
}

/// Whether `requested` is the resource `id` or a URL under it (same origin, path prefix
/// at a segment boundary).
fn covers(id: &Url, requested: &Url) -> bool {
    if id.origin() != requested.origin() {
        return false;
    }
    let base = id.path().trim_end_matches('/');
    base.is_empty()
        || requested.path() == base
        || requested
            .path()
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The `resource_metadata` parameter of the first challenge that carries one, a
/// `Bearer` challenge before any other (RFC 9728 §5.1), from every `WWW-Authenticate`
/// header of a response.
///
/// ```
/// use authflow::protocol::resource_metadata::resource_metadata_from_headers;
/// let mut h = http::HeaderMap::new();
/// h.insert(
///     "www-authenticate",
///     r#"Bearer resource_metadata="https://api.example/.well-known/oauth-protected-resource""#
///         .parse()
///         .unwrap(),
/// );
/// assert_eq!(
///     resource_metadata_from_headers(&h).as_deref(),
///     Some("https://api.example/.well-known/oauth-protected-resource")
/// );
/// ```
pub fn resource_metadata_from_headers(headers: &HeaderMap) -> Option<String> {
    let challenges = challenges_from_headers(headers);
    let with_metadata = |bearer: bool| {
        challenges
            .iter()
            .filter(|c| c.is_bearer() == bearer)
            .find_map(|c| c.resource_metadata().map(str::to_owned))
    };
    with_metadata(true).or_else(|| with_metadata(false))
}

/// The scope to ask for when logging in to a resource (the MCP scope selection
/// strategy): the `scope` of the `401`'s Bearer challenge when it names one, else every
/// scope in `scopes_supported`, else none (let the server choose).
pub fn scope_to_request(
    challenge: Option<&HeaderMap>,
    metadata: &ProtectedResourceMetadata,
) -> Option<Scope> {
    let from_challenge = challenge.and_then(|h| {
        challenges_from_headers(h)
            .iter()
            .filter(|c| c.is_bearer())
            .find_map(|c| c.scope())
    });
    from_challenge
        .or_else(|| {
            let supported = metadata.scopes_supported.as_ref()?;
            Scope::from_tokens(supported.iter().cloned()).ok()
        })
        .filter(|s| !s.is_empty())
}

/// `GET {location}` with `Accept: application/json`; `https` (or loopback `http`) only.
pub fn resource_metadata_request(
    location: &MetadataLocation,
) -> Result<Request<Vec<u8>>, BuildError> {
    EndpointUrl::from_url(location.url.clone()).map_err(|e| BuildError::Url {
        url: display(&location.url),
        reason: e.reason,
    })?;
    get_json(&location.url)
}

/// A protected resource's metadata (RFC 9728 §2), checked: `resource` is an `https` URL
/// (or loopback `http`) without fragment, and every authorization server is a valid
/// issuer identifier.
///
/// Strings are kept exactly as sent, since they are compared and sent on as they are.
/// Serializes to the RFC 9728 JSON form, so a server can publish it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProtectedResourceMetadata {
    /// `resource`: the resource identifier, to send as RFC 8707 `resource`.
    pub resource: String,
    /// `authorization_servers`: issuer identifiers of the servers that issue tokens for
    /// the resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// `jwks_uri`: the resource's own signing keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<EndpointUrl>,
    /// `scopes_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// `bearer_methods_supported`: `header`, `body`, `query`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_methods_supported: Option<Vec<String>>,
    /// `resource_signing_alg_values_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_signing_alg_values_supported: Option<Vec<String>>,
    /// `resource_name`, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// `resource_documentation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// `resource_policy_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy_uri: Option<String>,
    /// `resource_tos_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_tos_uri: Option<String>,
    /// `tls_client_certificate_bound_access_tokens` (RFC 8705).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// `authorization_details_types_supported` (RFC 9396).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details_types_supported: Option<Vec<String>>,
    /// `dpop_signing_alg_values_supported` (RFC 9449).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// `dpop_bound_access_tokens_required` (RFC 9449): only DPoP-bound tokens are accepted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens_required: bool,
    /// Every other field (`signed_metadata`, `resource_name#fr`, ...), as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ProtectedResourceMetadata {
    /// Metadata naming only the resource, for a server to fill in and publish.
    pub fn new(resource: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            jwks_uri: None,
            scopes_supported: None,
            bearer_methods_supported: None,
            resource_signing_alg_values_supported: None,
            resource_name: None,
            resource_documentation: None,
            resource_policy_uri: None,
            resource_tos_uri: None,
            tls_client_certificate_bound_access_tokens: false,
            authorization_details_types_supported: None,
            dpop_signing_alg_values_supported: None,
            dpop_bound_access_tokens_required: false,
            extra: Map::new(),
        }
    }

    /// The resource as an RFC 8707 resource indicator.
    pub fn resource_indicator(&self) -> Result<ResourceIndicator, InvalidValue> {
        ResourceIndicator::new(&self.resource)
    }

    /// The authorization servers as issuers, in the document's order.
    pub fn issuers(&self) -> Vec<IssuerUrl> {
        // Checked when parsed; a hand-built value may hold anything.
        self.authorization_servers
            .iter()
            .filter_map(|s| IssuerUrl::new(s).ok())
            .collect()
    }

    /// Whether `issuer` is listed in `authorization_servers` (compared as
    /// [`IssuerUrl::matches`] does).
    pub fn lists_authorization_server(&self, issuer: &IssuerUrl) -> bool {
        self.authorization_servers.iter().any(|s| issuer.matches(s))
    }
}

/// Reads and checks a metadata response fetched from `location`: JSON only (capped at
/// [`MAX_RESPONSE_BYTES`](super::MAX_RESPONSE_BYTES)), `resource` equal to what the
/// location expects (RFC 9728 §3.3), issuers and URLs valid.
pub fn parse_resource_metadata(
    resp: &Response<Bytes>,
    location: &MetadataLocation,
) -> Result<ProtectedResourceMetadata, ResourceMetadataError> {
    // A metadata document is served with 200; anything else (a 404 with an OAuth error
    // body included) means there is no document here, and the next location is tried.
    if !resp.status().is_success() {
        return Err(ResourceMetadataError::Response(ResponseError::Status {
            status: resp.status(),
            content_type: resp
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }));
    }
    let doc = read_fields(resp, Formats::Json)?;
    let resource = match doc.get("resource") {
        None | Some(Value::Null) => return Err(ResourceMetadataError::MissingField("resource")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(invalid("resource", "must be a string")),
    };
    // Before anything else: a document about another resource must not be read further.
    if !location.accepts(resource) {
        return Err(ResourceMetadataError::ResourceMismatch {
            expected: location.expected.first().map(display).unwrap_or_default(),
            found: resource.chars().take(200).collect(),
        });
    }
    read_resource_metadata(doc)
}

/// Reads a metadata document without comparing its `resource` with anything: for a
/// server checking its own configuration, or a document obtained another way.
pub fn read_resource_metadata(
    mut f: Map<String, Value>,
) -> Result<ProtectedResourceMetadata, ResourceMetadataError> {
    let resource = match fields::take(&mut f, "resource", fields::string, false) {
        Ok(Some(r)) => r,
        Ok(None) => return Err(ResourceMetadataError::MissingField("resource")),
        Err((field, reason)) => return Err(invalid(field, reason)),
    };
    let parsed = Url::parse(&resource)
        .map_err(|e| invalid("resource", &format!("not an absolute URL ({e})")))?;
    check_resource_url(&parsed).map_err(|e| match e {
        ResourceMetadataError::InvalidResource { reason } => invalid("resource", &reason),
        other => other,
    })?;
    let take_list = |f: &mut Map<String, Value>, name| take(f, name, fields::list);
    let authorization_servers = take_list(&mut f, "authorization_servers")?.unwrap_or_default();
    if let Some(bad) = authorization_servers
        .iter()
        .find_map(|s| IssuerUrl::new(s).err())
    {
        return Err(invalid("authorization_servers", &bad.reason));
    }
    let jwks_uri = match take(&mut f, "jwks_uri", fields::string)? {
        Some(s) => Some(EndpointUrl::new(&s).map_err(|e| invalid("jwks_uri", &e.reason))?),
        None => None,
    };
    Ok(ProtectedResourceMetadata {
        resource,
        authorization_servers,
        jwks_uri,
        scopes_supported: take_list(&mut f, "scopes_supported")?,
        bearer_methods_supported: take_list(&mut f, "bearer_methods_supported")?,
        resource_signing_alg_values_supported: take_list(
            &mut f,
            "resource_signing_alg_values_supported",
        )?,
        resource_name: take(&mut f, "resource_name", fields::string)?,
        resource_documentation: take(&mut f, "resource_documentation", fields::string)?,
        resource_policy_uri: take(&mut f, "resource_policy_uri", fields::string)?,
        resource_tos_uri: take(&mut f, "resource_tos_uri", fields::string)?,
        tls_client_certificate_bound_access_tokens: take(
            &mut f,
            "tls_client_certificate_bound_access_tokens",
            fields::flag,
        )?
        .unwrap_or(false),
        authorization_details_types_supported: take_list(
            &mut f,
            "authorization_details_types_supported",
        )?,
        dpop_signing_alg_values_supported: take_list(&mut f, "dpop_signing_alg_values_supported")?,
        dpop_bound_access_tokens_required: take(
            &mut f,
            "dpop_bound_access_tokens_required",
            fields::flag,
        )?
        .unwrap_or(false),
        extra: f,
    })
}

fn take<T>(
    f: &mut Map<String, Value>,
    field: &'static str,
    read: fields::Reader<T>,
) -> Result<Option<T>, ResourceMetadataError> {
    fields::take(f, field, read, false).map_err(|(field, reason)| invalid(field, reason))
}

fn invalid(field: &'static str, reason: &str) -> ResourceMetadataError {
    ResourceMetadataError::InvalidField {
        field,
        reason: reason.to_owned(),
    }
}

/// Whether two resource identifiers are the same after RFC 3986 §6.2.2 and §6.2.3
/// normalisation: case of scheme and host, default port, dot segments, an empty path as
/// `/` (all done by the `url` crate's parser), and percent-encoding (hex digits upper
/// case, unreserved characters decoded). A trailing slash on a non-empty path counts.
pub fn same_resource(a: &Url, b: &Url) -> bool {
    normalize_resource(a) == normalize_resource(b)
}

/// The normalised form [`same_resource`] compares; the fragment is left out.
pub fn normalize_resource(url: &Url) -> String {
    let mut s = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        s.push_str(&format!(":{port}"));
    }
    s.push_str(&normalize_percent(url.path()));
    if let Some(q) = url.query() {
        s.push('?');
        s.push_str(&normalize_percent(q));
    }
    s
}

/// Percent-encoding normalisation (RFC 3986 §6.2.2.1–2).
fn normalize_percent(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (b.get(i + 1).and_then(hex), b.get(i + 2).and_then(hex))
        {
            let byte = h << 4 | l;
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(byte));
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
            i += 3;
            continue;
        }
        // The `url` crate leaves only ASCII in paths and queries; copy by char anyway.
        let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn hex(b: &u8) -> Option<u8> {
    char::from(*b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// `https://host[:port]/`: the origin as a resource identifier.
fn origin_url(resource: &Url) -> Url {
    let mut u = resource.clone();
    u.set_path("/");
    u.set_query(None);
    u.set_fragment(None);
    u
}

/// A URL for messages: no query (it may carry values), no credentials.
fn display(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

#[cfg(test)]
#[path = "resource_metadata_tests.rs"]
mod tests;
