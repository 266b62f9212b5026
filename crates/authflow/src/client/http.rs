//! The one seam between the protocol and the network: [`HttpClient`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

/// A boxed future, so that [`HttpClient`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one HTTP request and returns the response with its whole body.
///
/// Implementations must not follow redirects (a token endpoint that redirects is refusing
/// the request), must apply their own timeouts, and must stop reading a body past
/// `max_body` bytes with [`HttpError::BodyTooLarge`].
///
/// Request bodies carry secrets (codes, refresh tokens, client secrets) and `Authorization`
/// headers are marked sensitive: an implementation must never log bodies or print the
/// request with `{:?}`.
///
/// The default implementation is [`ReqwestClient`](super::ReqwestClient); implement this
/// trait to use another stack, or to record exchanges in tests.
pub trait HttpClient: Send + Sync + 'static {
    /// Sends `request`.
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
        max_body: usize,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, HttpError>>;

    /// Sends a copy of `request` with the header `name` set to `value`, leaving `request`
    /// as it was: for callers that may send it again (a retry with a refreshed token).
    /// The default clones the request; an implementation can build its own request from
    /// the borrowed parts instead, saving that clone on every call.
    fn send_with_header(
        &self,
        request: &http::Request<Vec<u8>>,
        name: http::HeaderName,
        value: http::HeaderValue,
        max_body: usize,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, HttpError>> {
        self.send(copy_with_header(request, name, value), max_body)
    }

    /// Sends a request built with reqwest. [`ReqwestClient`](super::ReqwestClient) sends it
    /// as it is; the default turns it into an `http::Request` for [`send`](Self::send)
    /// (extensions, such as reqwest's per-request timeout, included), which fails for a
    /// streaming body.
    #[cfg(feature = "reqwest")]
    fn send_reqwest(
        &self,
        request: reqwest::Request,
        max_body: usize,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, HttpError>> {
        match super::reqwest_client::to_http(request) {
            Ok(request) => self.send(request, max_body),
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }
}

/// A copy of a request, extensions included (`http::Request` is not `Clone`), with the
/// header `name` set to `value`.
pub(crate) fn copy_with_header(
    request: &http::Request<Vec<u8>>,
    name: http::HeaderName,
    value: http::HeaderValue,
) -> http::Request<Vec<u8>> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    copy.headers_mut().insert(name, value);
    copy
}

/// A failure to get a response at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// No connection could be made.
    #[error("cannot connect to {url}: {source}; check the URL and that the server is running")]
    Connect {
        /// The URL (without query).
        url: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The TLS handshake failed (certificate not trusted, name mismatch, ...).
    #[error("TLS failure talking to {url}: {source}")]
    Tls {
        /// The URL (without query).
        url: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The request or connection took too long.
    #[error("{url} did not answer in time")]
    Timeout {
        /// The URL (without query).
        url: String,
    },
    /// The body exceeded the cap.
    #[error("the response from {url} is larger than {limit} bytes; refusing to read it")]
    BodyTooLarge {
        /// The URL (without query).
        url: String,
        /// The cap.
        limit: usize,
    },
    /// Anything else on the way.
    #[error("HTTP request to {url} failed: {source}")]
    Other {
        /// The URL (without query).
        url: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl HttpError {
    /// Whether a retry later may succeed (connection refused, timeout).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::Timeout { .. })
    }
}

/// The URL for error messages: scheme, host, port and path; never the query, which may
/// carry codes or tokens.
pub(crate) fn display_url(uri: &http::Uri) -> String {
    let mut s = String::new();
    if let Some(scheme) = uri.scheme_str() {
        s.push_str(scheme);
        s.push_str("://");
    }
    if let Some(a) = uri.authority() {
        // Userinfo is never shown.
        let host = a.as_str().rsplit('@').next().unwrap_or("");
        s.push_str(host);
    }
    s.push_str(uri.path());
    s
}

/// Forwards to the inner client, so `Arc<C>` and `Box<C>` work where a client is expected.
impl<C: HttpClient + ?Sized> HttpClient for std::sync::Arc<C> {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
        max_body: usize,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, HttpError>> {
        (**self).send(request, max_body)
    }

    fn send_with_header(
        &self,
        request: &http::Request<Vec<u8>>,
        name: http::HeaderName,
        value: http::HeaderValue,
        max_body: usize,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, HttpError>> {
        (**self).send_with_header(request, name, value, max_body)
    }

    #[cfg(feature = "reqwest")]
    fn send_reqwest(
        &self,
        request: reqwest::Request,
        max_body: usize,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, HttpError>> {
        (**self).send_reqwest(request, max_body)
    }
}

impl fmt::Debug for dyn HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpClient")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_url_hides_query_and_userinfo() {
        let u: http::Uri = "https://user:pw@as.example:8443/cb?code=SECRET"
            .parse()
            .unwrap();
        assert_eq!(display_url(&u), "https://as.example:8443/cb");
    }
}
