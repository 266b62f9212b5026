//! The default [`HttpClient`]: reqwest with rustls.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::http::{BoxFuture, HttpClient, HttpError, copy_with_header, display_url};
use crate::types::is_loopback_url;

/// reqwest with rustls: one connection pool, shared by every clone.
///
/// ```
/// use std::time::Duration;
/// let http = authflow::client::ReqwestClient::builder()
///     .timeout(Duration::from_secs(10))
///     .build()
///     .unwrap();
/// # let _ = http;
/// ```
///
/// Requests to loopback hosts never go through a proxy from the environment
/// (`HTTP_PROXY`, ...): a proxy would reach its own loopback, not this machine's, and a
/// bearer token sent there over plain http would leave the machine. They use a second,
/// proxy-less client, built on the first such request.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    inner: reqwest::Client,
    /// `None` for a client from [`from_reqwest`](Self::from_reqwest): its owner chose
    /// its proxies.
    direct: Option<Arc<Direct>>,
}

/// The proxy-less client for loopback hosts, and how to build it.
#[derive(Debug)]
struct Direct {
    settings: ReqwestClientBuilder,
    client: OnceLock<Result<reqwest::Client, String>>,
}

/// Configures a [`ReqwestClient`].
#[derive(Debug)]
#[must_use]
pub struct ReqwestClientBuilder {
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
}

impl Default for ReqwestClientBuilder {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("authflow/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl ReqwestClientBuilder {
    /// Total time allowed for one request, body included (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time allowed to connect (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` sent.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Builds the client. Fails only when the TLS backend cannot start.
    pub fn build(self) -> Result<ReqwestClient, HttpError> {
        let inner = self.reqwest(false).map_err(|e| HttpError::Other {
            url: String::new(),
            source: Box::new(e),
        })?;
        Ok(ReqwestClient {
            inner,
            direct: Some(Arc::new(Direct {
                settings: self,
                client: OnceLock::new(),
            })),
        })
    }

    fn reqwest(&self, direct: bool) -> Result<reqwest::Client, reqwest::Error> {
        let mut b = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent.clone())
            // Token endpoints must not redirect; following would resend credentials.
            .redirect(reqwest::redirect::Policy::none());
        if direct {
            b = b.no_proxy();
        }
        b.build()
    }
}

impl ReqwestClient {
    /// A client with the default settings.
    pub fn new() -> Result<Self, HttpError> {
        Self::builder().build()
    }

    /// Configures a client.
    pub fn builder() -> ReqwestClientBuilder {
        ReqwestClientBuilder::default()
    }

    /// Wraps a `reqwest::Client` configured elsewhere (proxies, custom roots). It should
    /// not follow redirects.
    pub fn from_reqwest(inner: reqwest::Client) -> Self {
        Self {
            inner,
            direct: None,
        }
    }

    /// The client for `request`: the proxy-less one for loopback hosts.
    fn client_for(&self, request: &reqwest::Request) -> Result<&reqwest::Client, HttpError> {
        match &self.direct {
            Some(d) if is_loopback_url(request.url()) => d
                .client
                .get_or_init(|| d.settings.reqwest(true).map_err(|e| e.to_string()))
                .as_ref()
                .map_err(|e| HttpError::Other {
                    url: url_label(request.url()),
                    source: e.clone().into(),
                }),
            _ => Ok(&self.inner),
        }
    }

    /// Starts the request now (reqwest's `execute` is not `async`), so the boxed future
    /// holds reqwest's pending request only, not the request as well.
    fn execute(
        &self,
        request: reqwest::Request,
        max_body: usize,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, HttpError>> {
        let pending = match self.client_for(&request) {
            Ok(client) => client.execute(request),
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        Box::pin(async move {
            // Error messages name the URL; it is formatted only when there is an error
            // (this runs on every API call).
            let resp = pending
                .await
                .map_err(|e| classify(e.url().map(url_label).unwrap_or_default(), e))?;
            into_http_response(resp, max_body).await
        })
    }
}

/// A reqwest response as an `http::Response`, its body read (at most `max_body` bytes).
pub(crate) async fn into_http_response(
    mut resp: reqwest::Response,
    max_body: usize,
) -> Result<http::Response<Bytes>, HttpError> {
    if resp.content_length().is_some_and(|n| n > max_body as u64) {
        return Err(HttpError::BodyTooLarge {
            url: url_label(resp.url()),
            limit: max_body,
        });
    }
    let (status, version) = (resp.status(), resp.version());
    let headers = std::mem::take(resp.headers_mut());
    let mut out = http::Response::new(read_body(&mut resp, max_body).await?);
    *out.status_mut() = status;
    *out.version_mut() = version;
    *out.headers_mut() = headers;
    Ok(out)
}

/// A reqwest request as an `http::Request`, for an [`HttpClient`] that is not reqwest.
/// reqwest's conversion keeps the extensions, where its per-request timeout lives.
pub(crate) fn to_http(request: reqwest::Request) -> Result<http::Request<Vec<u8>>, HttpError> {
    let url = url_label(request.url());
    let (parts, body) = http::Request::<reqwest::Body>::try_from(request)
        .map_err(|e| HttpError::Other {
            url: url.clone(),
            source: Box::new(e.without_url()),
        })?
        .into_parts();
    let Some(bytes) = body.as_bytes() else {
        return Err(HttpError::Other {
            url,
            source: "a streaming request body can only be sent by ReqwestClient; \
                     give the request a body in memory"
                .into(),
        });
    };
    Ok(http::Request::from_parts(parts, bytes.to_vec()))
}

/// A copy of a reqwest request for a retry, or `None` for a streaming body.
///
/// `Request::try_clone` builds and drops an empty extension map on every call, which was
/// a third of what an authorized request adds to a bare one. Without a body (the usual API
/// call) the copy is made here instead: reqwest keeps the extensions private and reads
/// only its timeout from them, and that is copied (an [`HttpClient`] that is not reqwest
/// sees any others on the first attempt only). With a body, reqwest's own clone shares it
/// without copying the bytes.
pub(crate) fn copy_request(request: &reqwest::Request) -> Option<reqwest::Request> {
    if request.body().is_some() {
        return request.try_clone();
    }
    let mut copy = reqwest::Request::new(request.method().clone(), request.url().clone());
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    Some(copy)
}

/// What `reqwest::Request::try_from` does, keeping the request for the error message.
fn to_reqwest(request: http::Request<Vec<u8>>) -> Result<reqwest::Request, HttpError> {
    if !request.extensions().is_empty() {
        // Only reqwest's own conversion carries extensions (its per-request timeout among
        // them); it formats and parses the URI again, so it is kept for this case.
        let url = display_url(request.uri());
        return reqwest::Request::try_from(request).map_err(|e| HttpError::Other {
            url,
            source: Box::new(e.without_url()),
        });
    }
    let (parts, body) = request.into_parts();
    reqwest_request(
        parts.method,
        &parts.uri,
        parts.version,
        parts.headers,
        body.into(),
    )
}

fn reqwest_request(
    method: http::Method,
    uri: &http::Uri,
    version: http::Version,
    headers: http::HeaderMap,
    body: Bytes,
) -> Result<reqwest::Request, HttpError> {
    let url = parse_url(uri).map_err(|e| HttpError::Other {
        url: display_url(uri),
        source: Box::new(e),
    })?;
    let mut r = reqwest::Request::new(method, url);
    *r.headers_mut() = headers;
    *r.version_mut() = version;
    *r.body_mut() = Some(body.into());
    Ok(r)
}

/// The URI parsed as a `Url`. `Uri` keeps its pieces apart, so they are put together
/// first: on the stack for the usual URL lengths (no allocation on every API call), in a
/// `String` for long ones.
fn parse_url(uri: &http::Uri) -> Result<url::Url, url::ParseError> {
    let scheme = uri.scheme_str().unwrap_or("");
    let authority = uri.authority().map_or("", |a| a.as_str());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let sep = if scheme.is_empty() { "" } else { "://" };
    let pieces = [scheme, sep, authority, path];
    let len: usize = pieces.iter().map(|p| p.len()).sum();
    let mut buf = [0u8; 512];
    if len <= buf.len() {
        let mut at = 0;
        for p in pieces {
            buf[at..at + p.len()].copy_from_slice(p.as_bytes());
            at += p.len();
        }
        // Whole `str`s placed end to end: valid UTF-8.
        if let Ok(s) = std::str::from_utf8(&buf[..len]) {
            return url::Url::parse(s);
        }
    }
    url::Url::parse(&pieces.concat())
}

/// The body, at most `max_body` bytes. A body that comes in one chunk (the usual case for
/// API responses) is returned as is, without a copy.
async fn read_body(resp: &mut reqwest::Response, max_body: usize) -> Result<Bytes, HttpError> {
    let too_large = |resp: &reqwest::Response| HttpError::BodyTooLarge {
        url: url_label(resp.url()),
        limit: max_body,
    };
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => return Err(classify(url_label(resp.url()), e)),
        };
        let len = joined.as_ref().map_or(first.len(), BytesMut::len);
        if len + chunk.len() > max_body {
            return Err(too_large(resp));
        }
        match joined.as_mut() {
            Some(buf) => buf.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => {
                let mut buf = BytesMut::with_capacity(first.len() + chunk.len());
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&chunk);
                joined = Some(buf);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

/// `scheme://host[:port]/path` of a URL: never its query or userinfo.
fn url_label(url: &url::Url) -> String {
    let mut s = String::with_capacity(url.as_str().len());
    s.push_str(url.scheme());
    s.push_str("://");
    s.push_str(url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        s.push(':');
        s.push_str(&port.to_string());
    }
    s.push_str(url.path());
    s
}

impl HttpClient for ReqwestClient {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
        max_body: usize,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, HttpError>> {
        match to_reqwest(request) {
            Ok(request) => self.execute(request, max_body),
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }

    // Builds the reqwest request from the borrowed parts: the URL is parsed anew either
    // way, so only the headers and the body are copied (no clone of the whole request).
    fn send_with_header(
        &self,
        request: &http::Request<Vec<u8>>,
        name: http::HeaderName,
        value: http::HeaderValue,
        max_body: usize,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, HttpError>> {
        if !request.extensions().is_empty() {
            // Only `send`'s conversion carries extensions.
            return self.send(copy_with_header(request, name, value), max_body);
        }
        let mut headers = request.headers().clone();
        headers.insert(name, value);
        let body = match request.body().as_slice() {
            [] => Bytes::new(),
            b => Bytes::copy_from_slice(b),
        };
        let method = request.method().clone();
        match reqwest_request(method, request.uri(), request.version(), headers, body) {
            Ok(request) => self.execute(request, max_body),
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }

    fn send_reqwest(
        &self,
        request: reqwest::Request,
        max_body: usize,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, HttpError>> {
        self.execute(request, max_body)
    }
}

fn classify(url: String, e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        return HttpError::Timeout { url };
    }
    // reqwest has no TLS predicate; rustls' errors name certificates and handshakes.
    let chain = source_chain(&e).to_ascii_lowercase();
    if chain.contains("certificate") || chain.contains("handshake") || chain.contains("tls") {
        return HttpError::Tls {
            url,
            source: Box::new(e.without_url()),
        };
    }
    if e.is_connect() {
        return HttpError::Connect {
            url,
            source: Box::new(e.without_url()),
        };
    }
    HttpError::Other {
        url,
        source: Box::new(e.without_url()),
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = String::new();
    let mut cur = e.source();
    while let Some(err) = cur {
        s.push_str(&err.to_string());
        s.push(' ');
        cur = err.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_copy_keeps_everything_reqwest_sends() {
        let url = "https://api.example/v1/items?x=1".parse().unwrap();
        let mut r = reqwest::Request::new(reqwest::Method::PUT, url);
        r.headers_mut()
            .insert("x-trace", http::HeaderValue::from_static("7"));
        *r.version_mut() = http::Version::HTTP_2;
        let same = |c: &reqwest::Request, r: &reqwest::Request| {
            assert_eq!(c.method(), r.method());
            assert_eq!(c.url(), r.url());
            assert_eq!(c.headers(), r.headers());
            assert_eq!(c.version(), r.version());
            assert_eq!(c.timeout(), r.timeout());
            assert_eq!(
                c.body().map(reqwest::Body::as_bytes),
                r.body().map(reqwest::Body::as_bytes)
            );
        };
        for timeout in [Some(Duration::from_millis(1500)), None] {
            *r.timeout_mut() = timeout;
            *r.body_mut() = None;
            same(&copy_request(&r).unwrap(), &r);
            *r.body_mut() = Some("payload".into());
            same(&copy_request(&r).unwrap(), &r);
        }
        // (A streaming body, which cannot be copied, is covered by tests/authorized_client.rs.)
    }
}
