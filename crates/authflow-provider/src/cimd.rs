//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document): a
//! `client_id` that is an `https` URL names a document the provider fetches, checks with
//! the library's parser and caches.
//!
//! The fetch is a server-side request to a URL a stranger chose, so it is fenced in: the
//! host is resolved first and every address must be public (no loopback, private,
//! link-local, CGNAT, multicast, unspecified, IPv6 unique-local or link-local), and the
//! connection goes to the address that was checked (reqwest's `resolve`), so a second DNS
//! answer cannot swap it (DNS rebinding). No redirects, no proxy, a 5 s timeout and at
//! most [`MAX_DOCUMENT_BYTES`] read. With `allow_loopback` (tests, local development),
//! `http` loopback URLs and loopback addresses are allowed, nothing else more.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authflow::protocol::OAuthError;
use authflow::protocol::client_id_metadata::{
    ClientIdUrl, ClientIdUrlRules, MAX_DOCUMENT_BYTES, client_id_metadata_request,
    parse_client_id_metadata_document,
};
use bytes::{Bytes, BytesMut};
use http::StatusCode;
use url::Host;

use crate::dynamic_client;
use crate::registry::Client;

/// How long a fetch may take in all.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a document is cached without a usable `Cache-Control: max-age`.
const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// The bounds put on `max-age`: not refetched more often, not kept longer.
const MIN_TTL: Duration = Duration::from_secs(60);
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// The most documents cached at once.
const MAX_CACHED: usize = 1000;

/// Fetches, checks and caches client ID metadata documents.
pub(crate) struct Cimd {
    allow_loopback: bool,
    cache: Mutex<HashMap<String, (Arc<Client>, Instant)>>,
}

fn refused(description: impl Into<String>) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_client").with_description(description)
}

impl Cimd {
    pub(crate) fn new(allow_loopback: bool) -> Self {
        Self {
            allow_loopback,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The client the document at `id` describes, from the cache or fetched now.
    pub(crate) async fn client(&self, id: &str) -> Result<Arc<Client>, OAuthError> {
        let rules = if self.allow_loopback {
            ClientIdUrlRules::AllowLoopbackHttp
        } else {
            ClientIdUrlRules::Strict
        };
        let url = ClientIdUrl::with_rules(id, rules).map_err(|e| e.to_oauth_error())?;
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((client, until)) = cache.get(url.as_str())
                && *until > now
            {
                return Ok(client.clone());
            }
        }
        let (client, ttl) = self.fetch(&url).await?;
        let client = Arc::new(client);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(url.as_str().to_owned(), (client.clone(), now + ttl));
        Ok(client)
    }

    async fn fetch(&self, url: &ClientIdUrl) -> Result<(Client, Duration), OAuthError> {
        let target = self.checked_address(url.as_url()).await?;
        let mut http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT);
        if let Some(Host::Domain(domain)) = url.as_url().host() {
            // Connect to the address just checked, whatever DNS says next.
            http = http.resolve(domain, target);
        }
        let http = http
            .build()
            .map_err(|_| refused("the client metadata document cannot be fetched"))?;
        let request = client_id_metadata_request(url)
            .ok()
            .and_then(|r| reqwest::Request::try_from(r).ok())
            .ok_or_else(|| refused("the client ID URL cannot be requested"))?;
        let fetch = async {
            let mut resp = http.execute(request).await?;
            let mut builder = http::Response::builder().status(resp.status());
            for (name, value) in resp.headers() {
                builder = builder.header(name, value);
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = resp.chunk().await? {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_DOCUMENT_BYTES {
                    break;
                }
            }
            Ok::<_, reqwest::Error>((builder, body.freeze()))
        };
        let (builder, body) = match tokio::time::timeout(FETCH_TIMEOUT, fetch).await {
            Ok(Ok(parts)) => parts,
            Ok(Err(e)) if !e.is_timeout() => {
                return Err(refused(
                    "the client metadata document could not be fetched (connection failed)",
                ));
            }
            _ => {
                return Err(refused(format!(
                    "the client metadata document did not arrive within {} s",
                    FETCH_TIMEOUT.as_secs()
                )));
            }
        };
        let resp: http::Response<Bytes> = builder
            .body(body)
            .map_err(|_| refused("the client metadata document's answer is malformed"))?;
        let ttl = max_age(&resp)
            .unwrap_or(DEFAULT_TTL)
            .clamp(MIN_TTL, MAX_TTL);
        let doc = parse_client_id_metadata_document(&resp, url).map_err(|e| e.to_oauth_error())?;
        let mut metadata = doc.metadata.clone();
        metadata.token_endpoint_auth_method = Some(doc.auth_method().to_owned());
        let checked =
            dynamic_client::check_with(&metadata, Some(crate::demo::SCOPES)).map_err(|e| {
                refused(format!(
                    "the client metadata document cannot be used: {}",
                    e.error_description.as_deref().unwrap_or(&e.error)
                ))
            })?;
        Ok((checked.into_client(url.client_id().clone(), None), ttl))
    }

    /// The one address to connect to: every address the host resolves to must be
    /// allowed.
    async fn checked_address(&self, url: &url::Url) -> Result<SocketAddr, OAuthError> {
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            Some(Host::Domain(d)) => tokio::net::lookup_host((d, port))
                .await
                .map_err(|_| refused("the client ID URL's host does not resolve"))?
                .collect(),
            None => return Err(refused("the client ID URL has no host")),
        };
        let first = *addrs
            .first()
            .ok_or_else(|| refused("the client ID URL's host does not resolve"))?;
        if let Some(bad) = addrs.iter().find(|a| !self.allowed(a.ip())) {
            tracing::warn!(address = %bad.ip(), "client ID URL refused: non-public address");
            return Err(refused(
                "the client ID URL resolves to a loopback, private or otherwise non-public address, which this server refuses to fetch",
            ));
        }
        Ok(first)
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        if self.allow_loopback && ip.to_canonical().is_loopback() {
            return true;
        }
        is_public(ip)
    }
}

/// Whether `ip` is a public unicast address.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let cgnat = a == 100 && (64..128).contains(&b);
    let this_network = a == 0;
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || cgnat
        || this_network)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    let site_local = first & 0xffc0 == 0xfec0;
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || unique_local
        || link_local
        || site_local)
}

/// `Cache-Control: max-age` of the answer; `no-store` or `no-cache` count as zero.
fn max_age(resp: &http::Response<Bytes>) -> Option<Duration> {
    let value = resp
        .headers()
        .get(http::header::CACHE_CONTROL)?
        .to_str()
        .ok()?;
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            age = secs.trim_matches('"').parse().ok().map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad}");
        }
        for good in ["93.184.216.34", "100.128.0.1", "2606:2800:220:1::1"] {
            assert!(is_public(good.parse().unwrap()), "{good}");
        }
    }

    #[test]
    fn max_age_is_read_and_no_store_is_zero() {
        let with = |v: &str| {
            let resp = http::Response::builder()
                .header("cache-control", v)
                .body(Bytes::new())
                .unwrap();
            max_age(&resp)
        };
        assert_eq!(with("public, max-age=600"), Some(Duration::from_secs(600)));
        assert_eq!(with("no-store"), Some(Duration::ZERO));
        assert_eq!(with("public"), None);
    }
}
