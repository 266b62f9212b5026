//! The default [`HttpClient`]: reqwest with rustls.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::http::{BoxFuture, HttpClient, HttpError, display_url};

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
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    inner: reqwest::Client,
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
        let inner = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            // Token endpoints must not redirect; following would resend credentials.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| HttpError::Other {
                url: String::new(),
                source: Box::new(e),
            })?;
        Ok(ReqwestClient { inner })
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
        Self { inner }
    }

    async fn execute(
        &self,
        request: http::Request<Vec<u8>>,
        max_body: usize,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let url = display_url(request.uri());
        let request = reqwest::Request::try_from(request).map_err(|e| classify(&url, e))?;
        let mut resp = self
            .inner
            .execute(request)
            .await
            .map_err(|e| classify(&url, e))?;
        if resp.content_length().is_some_and(|n| n > max_body as u64) {
            return Err(HttpError::BodyTooLarge {
                url,
                limit: max_body,
            });
        }
        let mut builder = http::Response::builder()
            .status(resp.status())
            .version(resp.version());
        if let Some(h) = builder.headers_mut() {
            *h = std::mem::take(resp.headers_mut());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&url, e))? {
            if body.len() + chunk.len() > max_body {
                return Err(HttpError::BodyTooLarge {
                    url,
                    limit: max_body,
                });
            }
            body.extend_from_slice(&chunk);
        }
        builder.body(body.freeze()).map_err(|e| HttpError::Other {
            url,
            source: Box::new(e),
        })
    }
}

impl HttpClient for ReqwestClient {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
        max_body: usize,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, HttpError>> {
        Box::pin(self.execute(request, max_body))
    }
}

fn classify(url: &str, e: reqwest::Error) -> HttpError {
    let url = url.to_owned();
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
