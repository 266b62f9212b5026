//! Logging in to a resource when only its URL is known (RFC 9728, RFC 8414, RFC 7591,
//! RFC 7592), in the order the MCP authorization spec sets:
//!
//! 1. [`discover_resource`]: the resource's protected-resource metadata, from the
//!    `resource_metadata` URL of its `401` when it is on the resource's origin (or the
//!    caller allowed it), else from the well-known URLs; its `resource` must name the
//!    resource (RFC 9728 §3.3).
//! 2. [`select_authorization_server`]: an issuer the metadata lists, and
//!    [`discover_authorization_server`]: its metadata, trying RFC 8414 and OpenID Connect
//!    URLs in order.
//! 3. A client identity: a client ID metadata document when the server
//!    [supports them](crate::protocol::client_id_metadata::supports_client_id_metadata_documents),
//!    else [`register_client`] (RFC 7591), later [`read_client_registration`] and
//!    [`delete_client_registration`] (RFC 7592).
//!
//! [`discover_for_resource`] does steps 1 and 2. The login itself sends the metadata's
//! `resource` as RFC 8707 `resource` on the authorization, token and refresh requests.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use authflow::client::{ReqwestClient, ResourceDiscoveryOptions, discover_for_resource};
//! let http = ReqwestClient::new()?;
//! let resource = url::Url::parse("https://mcp.example/mcp")?;
//! let found =
//!     discover_for_resource(&http, &resource, None, None, &ResourceDiscoveryOptions::new())
//!         .await?;
//! println!("log in at {} for {}", found.issuer, found.resource.metadata.resource);
//! # Ok(())
//! # }
//! ```

use http::HeaderMap;
use url::Url;

use super::http::{HttpClient, HttpError};
use super::oauth_client::ensure_secure_url;
use crate::protocol::as_discovery;
use crate::protocol::client_id_metadata::supports_client_id_metadata_documents;
use crate::protocol::discovery::{self, DiscoveryError, ServerMetadata};
use crate::protocol::registration::{
    RegisteredClient, RegistrationRequest, delete_request, parse_delete_response,
    parse_registration_response, read_request, registration_error_hint,
};
use crate::protocol::resource_metadata::{
    MetadataLocation, MetadataSource, OriginPolicy, ProtectedResourceMetadata,
    ResourceMetadataError, challenge_location, check_resource_url, parse_resource_metadata,
    resource_metadata_from_headers, resource_metadata_request, well_known_locations,
};
use crate::protocol::{BuildError, MAX_RESPONSE_BYTES, OAuthError, ResponseError};
use crate::types::{EndpointUrl, InvalidValue, IssuerUrl, ResourceIndicator};

/// Choices for [`discover_resource`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ResourceDiscoveryOptions {
    allowed_metadata_urls: Vec<Url>,
}

impl ResourceDiscoveryOptions {
    /// The defaults: a `resource_metadata` URL is used only on the resource's origin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses this `resource_metadata` URL even on another origin: after the user agreed
    /// (see [`ResourceDiscoveryError::CrossOriginMetadata`]).
    pub fn allow_metadata_url(mut self, url: Url) -> Self {
        self.allowed_metadata_urls.push(url);
        self
    }

    fn policy_for(&self, metadata_url: &str) -> OriginPolicy {
        let allowed =
            Url::parse(metadata_url).is_ok_and(|u| self.allowed_metadata_urls.contains(&u));
        if allowed {
            OriginPolicy::AllowCrossOrigin
        } else {
            OriginPolicy::SameOrigin
        }
    }
}

/// A resource's checked metadata and where it came from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DiscoveredResource {
    /// The metadata; its `resource` is the RFC 8707 resource indicator to send.
    pub metadata: ProtectedResourceMetadata,
    /// The URL it was read from.
    pub metadata_url: Url,
    /// How that URL was found.
    pub source: MetadataSource,
    /// A cross-origin `resource_metadata` URL that was not followed because the
    /// well-known URL had a valid document: worth a warning.
    pub ignored_metadata_url: Option<String>,
}

/// A resource's metadata with the authorization server chosen for it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResourceAuthorization {
    /// The resource's metadata.
    pub resource: DiscoveredResource,
    /// The issuer chosen: one the metadata lists.
    pub issuer: IssuerUrl,
    /// The issuer's metadata, checked to name that issuer.
    pub server: ServerMetadata,
}

impl ResourceAuthorization {
    /// The RFC 8707 `resource` to send on authorization, token and refresh requests.
    pub fn resource_indicator(&self) -> Result<ResourceIndicator, InvalidValue> {
        self.resource.metadata.resource_indicator()
    }

    /// Whether the server accepts a client ID metadata document URL as `client_id`:
    /// then no registration is needed.
    pub fn supports_client_id_metadata_documents(&self) -> bool {
        supports_client_id_metadata_documents(&self.server)
    }

    /// The RFC 7591 registration endpoint.
    pub fn registration_endpoint(&self) -> Result<&EndpointUrl, ResourceDiscoveryError> {
        self.server.registration_endpoint.as_ref().ok_or_else(|| {
            ResourceDiscoveryError::NoRegistrationEndpoint {
                issuer: self.issuer.as_issuer_str().to_owned(),
            }
        })
    }
}

/// What went wrong on the way from a resource URL to a client identity.
///
/// Holds no secret and no response body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceDiscoveryError {
    /// A request got no response (network, TLS, timeout, size cap).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A request could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A URL was refused (plain http to a non-loopback host).
    #[error(transparent)]
    InvalidUrl(#[from] InvalidValue),
    /// The resource URL cannot be used, or a metadata document found is wrong (it names
    /// another resource, an invalid issuer, ...).
    #[error("{url}: {source}")]
    ResourceMetadata {
        /// The resource or metadata URL concerned (no query).
        url: String,
        /// What was wrong.
        #[source]
        source: ResourceMetadataError,
    },
    /// The resource named metadata on another origin, and nothing on its own origin
    /// answered. Ask the user, then retry with
    /// [`ResourceDiscoveryOptions::allow_metadata_url`].
    #[error(
        "the resource at {resource_origin} points to its metadata at {metadata_url}, on another origin, and has none on its own; if you trust that server to name the resource's authorization servers, allow that URL and try again"
    )]
    CrossOriginMetadata {
        /// The resource's origin.
        resource_origin: String,
        /// The metadata URL it named.
        metadata_url: String,
    },
    /// No protected-resource metadata was found.
    #[error(
        "no protected resource metadata for {resource} ({}); check the URL, or name the authorization server's issuer yourself",
        tried.join("; ")
    )]
    NoResourceMetadata {
        /// The resource (no query).
        resource: String,
        /// Each URL tried and why it did not do.
        tried: Vec<String>,
    },
    /// The metadata lists no authorization server.
    #[error(
        "the resource {resource} lists no authorization server in its metadata; name the issuer yourself"
    )]
    NoAuthorizationServer {
        /// The resource identifier.
        resource: String,
    },
    /// The issuer asked for is not one the resource lists: its tokens would not be
    /// accepted, or the request is being steered.
    #[error(
        "the resource does not list {issuer} as an authorization server (it lists: {}); use one of those",
        listed.join(", ")
    )]
    IssuerNotListed {
        /// The issuer asked for.
        issuer: String,
        /// The issuers the resource lists.
        listed: Vec<String>,
    },
    /// An authorization server metadata document was found but is wrong.
    #[error("{url}: {source}")]
    Discovery {
        /// The metadata URL.
        url: String,
        /// What was wrong.
        #[source]
        source: DiscoveryError,
    },
    /// No authorization server metadata was found at any of the URLs.
    #[error(
        "no usable metadata for issuer {issuer} ({}); check that the server publishes RFC 8414 or OpenID Connect metadata",
        tried.join("; ")
    )]
    NoServerMetadata {
        /// The issuer.
        issuer: String,
        /// Each URL tried and why it did not do.
        tried: Vec<String>,
    },
    /// The server has no registration endpoint.
    #[error(
        "{issuer} offers no dynamic client registration (no `registration_endpoint`); register a client there by hand and configure its client ID"
    )]
    NoRegistrationEndpoint {
        /// The issuer.
        issuer: String,
    },
    /// The server refused a registration request, or a read or delete of one, with an
    /// OAuth error (fields intact).
    #[error("{endpoint} refused the request: {error}{}", hint(.error))]
    Registration {
        /// The endpoint (no query).
        endpoint: String,
        /// The server's error.
        error: OAuthError,
    },
    /// The registration endpoint's answer was not a valid response.
    #[error("{endpoint} sent an invalid response: {source}")]
    RegistrationResponse {
        /// The endpoint (no query).
        endpoint: String,
        /// What was wrong.
        #[source]
        source: ResponseError,
    },
    /// The registration has no `registration_client_uri` and `registration_access_token`:
    /// the server does not support RFC 7592 for it.
    #[error(
        "this registration cannot be read or deleted: the server gave no registration_client_uri and registration_access_token (RFC 7592); manage it at the server"
    )]
    NotManageable,
}

fn hint(error: &OAuthError) -> String {
    registration_error_hint(error)
        .map(|h| format!("; {h}"))
        .unwrap_or_default()
}

impl ResourceDiscoveryError {
    /// The cross-origin metadata URL to ask the user about, for
    /// [`CrossOriginMetadata`](Self::CrossOriginMetadata).
    pub fn cross_origin_metadata_url(&self) -> Option<&str> {
        match self {
            Self::CrossOriginMetadata { metadata_url, .. } => Some(metadata_url),
            _ => None,
        }
    }

    /// The server's OAuth error, when it sent one.
    pub fn oauth(&self) -> Option<&OAuthError> {
        match self {
            Self::Registration { error, .. } => Some(error),
            Self::Discovery {
                source: DiscoveryError::Response(ResponseError::OAuth(e)),
                ..
            }
            | Self::ResourceMetadata {
                source: ResourceMetadataError::Response(ResponseError::OAuth(e)),
                ..
            } => Some(e),
            _ => None,
        }
    }
}

/// Finds and checks the protected-resource metadata of `resource` (the URL the client
/// requests). `challenge` is the headers of the resource's `401`, when there was one.
///
/// A `resource_metadata` URL in the challenge is used when it is on the resource's
/// origin or allowed in `options`, and then only it. Otherwise the well-known URLs are
/// tried, path-inserted first, then the root one; a cross-origin URL that was not allowed
/// becomes [`ResourceDiscoveryError::CrossOriginMetadata`] when they have nothing.
pub async fn discover_resource(
    http: &dyn HttpClient,
    resource: &Url,
    challenge: Option<&HeaderMap>,
    options: &ResourceDiscoveryOptions,
) -> Result<DiscoveredResource, ResourceDiscoveryError> {
    check_resource_url(resource).map_err(|source| ResourceDiscoveryError::ResourceMetadata {
        url: shown(resource),
        source,
    })?;
    let pointer = challenge.and_then(resource_metadata_from_headers);
    let mut refused_pointer = None;
    if let Some(pointer) = pointer {
        match challenge_location(resource, &pointer, options.policy_for(&pointer)) {
            Ok(location) => {
                // The resource named its metadata: no guessing elsewhere if that fails.
                return match fetch_resource_metadata(http, &location).await? {
                    Ok(metadata) => Ok(found(metadata, location, None)),
                    Err(e) if e.is_no_document() => {
                        Err(ResourceDiscoveryError::NoResourceMetadata {
                            resource: shown(resource),
                            tried: vec![format!("{}: {e}", shown(location.url()))],
                        })
                    }
                    Err(source) => Err(ResourceDiscoveryError::ResourceMetadata {
                        url: shown(location.url()),
                        source,
                    }),
                };
            }
            Err(ResourceMetadataError::CrossOrigin {
                resource_origin,
                metadata_url,
            }) => {
                tracing::debug!(%metadata_url, "cross-origin resource_metadata not followed");
                refused_pointer = Some((resource_origin, metadata_url));
            }
            Err(source) => {
                return Err(ResourceDiscoveryError::ResourceMetadata {
                    url: shown(resource),
                    source,
                });
            }
        }
    }
    let locations = well_known_locations(resource).map_err(|source| {
        ResourceDiscoveryError::ResourceMetadata {
            url: shown(resource),
            source,
        }
    })?;
    let mut tried = Vec::new();
    let mut wrong_document = None;
    for location in locations {
        match fetch_resource_metadata(http, &location).await? {
            Ok(metadata) => {
                let ignored = refused_pointer.map(|(_, url)| url);
                return Ok(found(metadata, location, ignored));
            }
            Err(e) if e.is_no_document() => {
                tried.push(format!("{}: {e}", shown(location.url())));
            }
            // Each well-known URL is checked by its own rule (RFC 9728 §3.3), so a
            // document about another resource at one does not stop the next.
            Err(e @ ResourceMetadataError::ResourceMismatch { .. }) => {
                tried.push(format!("{}: {e}", shown(location.url())));
                wrong_document.get_or_insert((shown(location.url()), e));
            }
            Err(source) => {
                return Err(ResourceDiscoveryError::ResourceMetadata {
                    url: shown(location.url()),
                    source,
                });
            }
        }
    }
    if let Some((resource_origin, metadata_url)) = refused_pointer {
        return Err(ResourceDiscoveryError::CrossOriginMetadata {
            resource_origin,
            metadata_url,
        });
    }
    if let Some((url, source)) = wrong_document {
        return Err(ResourceDiscoveryError::ResourceMetadata { url, source });
    }
    Err(ResourceDiscoveryError::NoResourceMetadata {
        resource: shown(resource),
        tried,
    })
}

fn found(
    metadata: ProtectedResourceMetadata,
    location: MetadataLocation,
    ignored_metadata_url: Option<String>,
) -> DiscoveredResource {
    DiscoveredResource {
        metadata,
        source: location.source(),
        metadata_url: location.url().clone(),
        ignored_metadata_url,
    }
}

/// One fetch: the outer error is a transport failure (stop), the inner one what was
/// wrong with the answer (the caller decides whether to try the next URL).
async fn fetch_resource_metadata(
    http: &dyn HttpClient,
    location: &MetadataLocation,
) -> Result<Result<ProtectedResourceMetadata, ResourceMetadataError>, ResourceDiscoveryError> {
    ensure_secure_url(location.url())?;
    let req = resource_metadata_request(location)?;
    let resp = http.send(req, MAX_RESPONSE_BYTES).await?;
    tracing::debug!(url = %shown(location.url()), status = resp.status().as_u16(), "resource metadata");
    Ok(parse_resource_metadata(&resp, location))
}

/// Picks the authorization server: `requested` when the metadata lists it (an issuer it
/// does not list is refused), else the first one listed.
pub fn select_authorization_server(
    metadata: &ProtectedResourceMetadata,
    requested: Option<&IssuerUrl>,
) -> Result<IssuerUrl, ResourceDiscoveryError> {
    if let Some(issuer) = requested {
        if metadata.lists_authorization_server(issuer) {
            return Ok(issuer.clone());
        }
        return Err(ResourceDiscoveryError::IssuerNotListed {
            issuer: issuer.as_issuer_str().to_owned(),
            listed: metadata.authorization_servers.clone(),
        });
    }
    metadata.issuers().into_iter().next().ok_or_else(|| {
        ResourceDiscoveryError::NoAuthorizationServer {
            resource: metadata.resource.clone(),
        }
    })
}

/// Fetches `issuer`'s metadata from the URLs of
/// [`as_discovery::metadata_urls`], in order, until one has a document; the document must
/// name `issuer`.
pub async fn discover_authorization_server(
    http: &dyn HttpClient,
    issuer: &IssuerUrl,
) -> Result<ServerMetadata, ResourceDiscoveryError> {
    fetch_server_metadata(http, issuer)
        .await
        .map_err(Into::into)
}

/// Why [`fetch_server_metadata`] found no document; each caller words it in its own error.
pub(super) enum MetadataFailure {
    Http(HttpError),
    Build(BuildError),
    InvalidUrl(InvalidValue),
    /// A document that is there but wrong.
    Wrong {
        url: String,
        source: DiscoveryError,
    },
    /// No document at any URL: each URL and why.
    NotFound {
        issuer: String,
        tried: Vec<String>,
    },
}

impl From<MetadataFailure> for ResourceDiscoveryError {
    fn from(f: MetadataFailure) -> Self {
        match f {
            MetadataFailure::Http(e) => Self::Http(e),
            MetadataFailure::Build(e) => Self::Build(e),
            MetadataFailure::InvalidUrl(e) => Self::InvalidUrl(e),
            MetadataFailure::Wrong { url, source } => Self::Discovery { url, source },
            MetadataFailure::NotFound { issuer, tried } => Self::NoServerMetadata { issuer, tried },
        }
    }
}

/// The one metadata lookup of the crate (`OAuthClient`'s discovery uses it too): the URLs
/// of [`as_discovery::metadata_urls`] in order, until one has a document naming `issuer`.
pub(super) async fn fetch_server_metadata(
    http: &dyn HttpClient,
    issuer: &IssuerUrl,
) -> Result<ServerMetadata, MetadataFailure> {
    let mut tried = Vec::new();
    for candidate in as_discovery::metadata_urls(issuer) {
        let url = candidate.url;
        ensure_secure_url(&url).map_err(MetadataFailure::InvalidUrl)?;
        let req = discovery::metadata_request(&url).map_err(MetadataFailure::Build)?;
        let resp = http
            .send(req, MAX_RESPONSE_BYTES)
            .await
            .map_err(MetadataFailure::Http)?;
        tracing::debug!(url = %shown(&url), status = resp.status().as_u16(), "authorization server metadata");
        match discovery::parse_metadata(&resp, issuer) {
            Ok(m) => return Ok(m),
            // Servers publish one document or another; some answer 400, 403 or an HTML
            // page where they have none: then the next one is tried.
            Err(e) if as_discovery::is_fallback_error(&e) => {
                tried.push(format!("{}: {e}", shown(&url)));
            }
            // A real document that is wrong (another issuer, an http endpoint) is an
            // attack or a misconfiguration, never a reason to look elsewhere.
            Err(source) => {
                return Err(MetadataFailure::Wrong {
                    url: shown(&url),
                    source,
                });
            }
        }
    }
    Err(MetadataFailure::NotFound {
        issuer: issuer.as_issuer_str().to_owned(),
        tried,
    })
}

/// [`discover_resource`], [`select_authorization_server`] and
/// [`discover_authorization_server`] in a row.
pub async fn discover_for_resource(
    http: &dyn HttpClient,
    resource: &Url,
    challenge: Option<&HeaderMap>,
    requested_issuer: Option<&IssuerUrl>,
    options: &ResourceDiscoveryOptions,
) -> Result<ResourceAuthorization, ResourceDiscoveryError> {
    let found = discover_resource(http, resource, challenge, options).await?;
    let issuer = select_authorization_server(&found.metadata, requested_issuer)?;
    let server = discover_authorization_server(http, &issuer).await?;
    Ok(ResourceAuthorization {
        resource: found,
        issuer,
        server,
    })
}

/// Registers a client at `endpoint` (RFC 7591).
pub async fn register_client(
    http: &dyn HttpClient,
    endpoint: &EndpointUrl,
    request: &RegistrationRequest,
) -> Result<RegisteredClient, ResourceDiscoveryError> {
    ensure_secure_url(endpoint.as_url())?;
    let resp = http
        .send(request.build(endpoint)?, MAX_RESPONSE_BYTES)
        .await?;
    tracing::debug!(url = %shown(endpoint.as_url()), status = resp.status().as_u16(), "client registration");
    parse_registration_response(&resp).map_err(|e| registration_error(endpoint, e))
}

/// Reads a registration back (RFC 7592 §2.1); the secret and the registration access
/// token are kept from `client` when the answer leaves them out.
pub async fn read_client_registration(
    http: &dyn HttpClient,
    client: &RegisteredClient,
) -> Result<RegisteredClient, ResourceDiscoveryError> {
    let (uri, token) = client
        .management()
        .ok_or(ResourceDiscoveryError::NotManageable)?;
    ensure_secure_url(uri.as_url())?;
    let resp = http
        .send(read_request(uri, token)?, MAX_RESPONSE_BYTES)
        .await?;
    tracing::debug!(url = %shown(uri.as_url()), status = resp.status().as_u16(), "client registration read");
    let read = parse_registration_response(&resp).map_err(|e| registration_error(uri, e))?;
    Ok(read.keeping_credentials_of(client))
}

/// Deletes a registration (RFC 7592 §2.3). A `401` means the token is invalid or the
/// client was already deleted: [`ResourceDiscoveryError::Registration`].
pub async fn delete_client_registration(
    http: &dyn HttpClient,
    client: &RegisteredClient,
) -> Result<(), ResourceDiscoveryError> {
    let (uri, token) = client
        .management()
        .ok_or(ResourceDiscoveryError::NotManageable)?;
    ensure_secure_url(uri.as_url())?;
    let resp = http
        .send(delete_request(uri, token)?, MAX_RESPONSE_BYTES)
        .await?;
    tracing::debug!(url = %shown(uri.as_url()), status = resp.status().as_u16(), "client registration delete");
    parse_delete_response(&resp).map_err(|e| registration_error(uri, e))
}

fn registration_error(endpoint: &EndpointUrl, e: ResponseError) -> ResourceDiscoveryError {
    match e {
        ResponseError::OAuth(error) => ResourceDiscoveryError::Registration {
            endpoint: shown(endpoint.as_url()),
            error,
        },
        source => ResourceDiscoveryError::RegistrationResponse {
            endpoint: shown(endpoint.as_url()),
            source,
        },
    }
}

/// A URL for messages and logs: no query or fragment (they may carry values), no
/// credentials.
fn shown(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(servers: &[&str]) -> ProtectedResourceMetadata {
        let mut m = ProtectedResourceMetadata::new("https://api.example/mcp");
        m.authorization_servers = servers.iter().map(|s| (*s).to_owned()).collect();
        m
    }

    #[test]
    fn an_unlisted_issuer_is_refused_and_the_first_listed_is_the_default() {
        let m = metadata(&["https://as1.example", "https://as2.example/t"]);
        let as2 = IssuerUrl::new("https://as2.example/t").unwrap();
        assert_eq!(select_authorization_server(&m, Some(&as2)).unwrap(), as2);
        assert_eq!(
            select_authorization_server(&m, None)
                .unwrap()
                .as_issuer_str(),
            "https://as1.example"
        );
        let evil = IssuerUrl::new("https://as2.example/t/other").unwrap();
        let e = select_authorization_server(&m, Some(&evil)).unwrap_err();
        assert!(
            matches!(e, ResourceDiscoveryError::IssuerNotListed { .. }),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("https://as1.example, https://as2.example/t"),
            "{e}"
        );
        let e = select_authorization_server(&metadata(&[]), None).unwrap_err();
        assert!(matches!(
            e,
            ResourceDiscoveryError::NoAuthorizationServer { .. }
        ));
    }

    #[test]
    fn only_the_exact_allowed_url_crosses_origins() {
        let o = ResourceDiscoveryOptions::new()
            .allow_metadata_url(Url::parse("https://meta.example/prm").unwrap());
        assert_eq!(
            o.policy_for("https://meta.example/prm"),
            OriginPolicy::AllowCrossOrigin
        );
        assert_eq!(
            o.policy_for("https://meta.example/other"),
            OriginPolicy::SameOrigin
        );
        assert_eq!(
            ResourceDiscoveryOptions::new().policy_for("https://meta.example/prm"),
            OriginPolicy::SameOrigin
        );
    }

    #[test]
    fn shown_urls_lose_query_and_credentials() {
        let u = Url::parse("https://u:p@api.example/mcp?token=SECRET#x").unwrap();
        assert_eq!(shown(&u), "https://api.example/mcp");
    }
}
