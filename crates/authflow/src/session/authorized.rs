//! An HTTP client that calls protected resources with a bearer token (RFC 6750).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};

use super::error::SessionError;
use super::source::TokenSource;
use crate::client::{HttpClient, HttpError};
use crate::protocol::www_authenticate::{BearerError, bearer_error, challenges_from_headers};
use crate::types::{AccessToken, Scope};

/// The default cap on resource responses (APIs send more than token endpoints).
pub const DEFAULT_MAX_RESOURCE_BODY: usize = 32 * 1024 * 1024;

/// Why a resource call failed.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizedError {
    /// No valid token could be had.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The request got no response.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The resource refused the token even after a refresh.
    #[error("the resource rejected the access token ({}){}", .challenge.error, describe(.challenge))]
    TokenRejected {
        /// The resource's challenge.
        challenge: Box<BearerError>,
        /// The response, for callers that want to show it.
        response: Box<Response<Bytes>>,
    },
    /// The URL is not one a bearer token may be sent to (plain http to a non-loopback
    /// host, or not a URL at all).
    #[error("{0}")]
    InvalidUrl(String),
    /// The token lacks a scope the request needs (RFC 6750 §3.1 `insufficient_scope`).
    #[error("the access token lacks a scope this request needs{}{}", needed(.required), describe_opt(.description))]
    InsufficientScope {
        /// The scope the resource named, if it did.
        required: Option<Scope>,
        /// The resource's description.
        description: Option<String>,
        /// The response.
        response: Box<Response<Bytes>>,
    },
}

impl std::fmt::Debug for AuthorizedError {
    // The responses may carry cookies or personal data: show only their status.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Session(e) => f.debug_tuple("Session").field(e).finish(),
            Self::Http(e) => f.debug_tuple("Http").field(e).finish(),
            Self::InvalidUrl(e) => f.debug_tuple("InvalidUrl").field(e).finish(),
            Self::TokenRejected {
                challenge,
                response,
            } => f
                .debug_struct("TokenRejected")
                .field("challenge", challenge)
                .field("status", &response.status())
                .finish(),
            Self::InsufficientScope {
                required, response, ..
            } => f
                .debug_struct("InsufficientScope")
                .field("required", required)
                .field("status", &response.status())
                .finish(),
        }
    }
}

impl AuthorizedError {
    /// The resource's response, when the error came with one.
    pub fn response(&self) -> Option<&Response<Bytes>> {
        match self {
            Self::TokenRejected { response, .. } | Self::InsufficientScope { response, .. } => {
                Some(response)
            }
            _ => None,
        }
    }
}

fn describe(c: &BearerError) -> String {
    describe_opt(&c.error_description)
}

fn describe_opt(d: &Option<String>) -> String {
    // Server text: printable characters only, bounded.
    d.as_ref()
        .map(|d| {
            let d: String = d.chars().filter(|c| !c.is_control()).take(500).collect();
            format!(": {d}")
        })
        .unwrap_or_default()
}

fn needed(s: &Option<Scope>) -> String {
    match s {
        Some(s) => format!(" (needs `{s}`; log in again asking for it)"),
        None => String::new(),
    }
}

/// `Authorization: Bearer <token>`, marked sensitive so it never shows in debug output.
pub fn bearer_header(token: &AccessToken) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
    let mut v = HeaderValue::try_from(format!("Bearer {}", token.secret()))?;
    v.set_sensitive(true);
    Ok(v)
}

/// Sends requests with the source's token; on `401 invalid_token` refreshes once and
/// retries (the body is in memory, so every request can be replayed).
///
/// ```no_run
/// # async fn run(source: authflow::session::TokenSource) -> Result<(), Box<dyn std::error::Error>> {
/// use authflow::client::ReqwestClient;
/// use authflow::session::AuthorizedClient;
///
/// let api = AuthorizedClient::new(source, ReqwestClient::new()?);
/// let resp = api
///     .send(http::Request::get("https://api.example/me").body(Vec::new())?)
///     .await?;
/// println!("{}", String::from_utf8_lossy(resp.body()));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AuthorizedClient {
    source: TokenSource,
    http: Arc<dyn HttpClient>,
    max_body: usize,
}

impl std::fmt::Debug for AuthorizedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizedClient").finish_non_exhaustive()
    }
}

impl AuthorizedClient {
    /// Calls resources through `http` with tokens from `source`.
    pub fn new(source: TokenSource, http: impl HttpClient) -> Self {
        Self::with_shared_http(source, Arc::new(http))
    }

    /// Shares an HTTP client (and its connection pool) with others.
    pub fn with_shared_http(source: TokenSource, http: Arc<dyn HttpClient>) -> Self {
        Self {
            source,
            http,
            max_body: DEFAULT_MAX_RESOURCE_BODY,
        }
    }

    /// Caps response bodies (default 32 MiB).
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The token source.
    pub fn source(&self) -> &TokenSource {
        &self.source
    }

    /// Sends `request` with a bearer token. Any status comes back as `Ok` except a token
    /// still rejected after one refresh and `insufficient_scope`, which are typed errors.
    pub async fn send(
        &self,
        request: Request<Vec<u8>>,
    ) -> Result<Response<Bytes>, AuthorizedError> {
        // RFC 6750 §5.3: a bearer token never travels in clear text.
        check_secure(request.uri())?;
        let tokens = self.source.token().await?;
        let retry = clone_request(&request);
        let resp = self.send_with(request, &tokens.access_token).await?;
        if rejected_token(&resp).is_some() {
            tracing::debug!("resource answered invalid_token; refreshing once");
            let fresh = self
                .source
                .refresh_after_rejection(&tokens.access_token)
                .await?;
            let resp = self.send_with(retry, &fresh.access_token).await?;
            return match rejected_token(&resp) {
                Some(challenge) => Err(AuthorizedError::TokenRejected {
                    challenge: Box::new(challenge),
                    response: Box::new(resp),
                }),
                None => check_scope(resp),
            };
        }
        check_scope(resp)
    }

    async fn send_with(
        &self,
        mut request: Request<Vec<u8>>,
        token: &AccessToken,
    ) -> Result<Response<Bytes>, AuthorizedError> {
        let value = bearer_header(token).map_err(|_| {
            SessionError::Internal("the access token cannot be sent in a header".into())
        })?;
        request.headers_mut().insert(header::AUTHORIZATION, value);
        Ok(self.http.send(request, self.max_body).await?)
    }
}

/// `https`, or `http` to a loopback host, read from the request URI without reparsing it
/// (this runs on every API call).
fn check_secure(uri: &http::Uri) -> Result<(), AuthorizedError> {
    let loopback = || {
        uri.host().is_some_and(|h| {
            h.eq_ignore_ascii_case("localhost")
                || h.trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
    };
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if loopback() => Ok(()),
        Some("http") => Err(AuthorizedError::InvalidUrl(format!(
            "refusing to send a bearer token to http://{}: use https (plain http is allowed only for loopback hosts)",
            uri.authority().map_or("", |a| a.host())
        ))),
        _ => Err(AuthorizedError::InvalidUrl(
            "the request URL is not an absolute http(s) URL".into(),
        )),
    }
}

fn clone_request(r: &Request<Vec<u8>>) -> Request<Vec<u8>> {
    let mut c = Request::new(r.body().clone());
    *c.method_mut() = r.method().clone();
    *c.uri_mut() = r.uri().clone();
    *c.version_mut() = r.version();
    *c.headers_mut() = r.headers().clone();
    c
}

/// A `401` whose Bearer challenge says `invalid_token`, or a bare `401` with a Bearer
/// challenge and no error code (RFC 6750 §3: no credentials accepted).
fn rejected_token(resp: &Response<Bytes>) -> Option<BearerError> {
    if resp.status() != StatusCode::UNAUTHORIZED {
        return None;
    }
    if let Some(challenge) = bearer_error(resp.headers()) {
        return challenge.is_invalid_token().then_some(challenge);
    }
    // A bare `Bearer` challenge: the token was not accepted at all.
    challenges_from_headers(resp.headers())
        .iter()
        .any(|c| c.is_bearer())
        .then(|| BearerError {
            error: "invalid_token".into(),
            error_description: None,
            error_uri: None,
            scope: None,
            realm: None,
            resource_metadata: None,
        })
}

fn check_scope(resp: Response<Bytes>) -> Result<Response<Bytes>, AuthorizedError> {
    if resp.status() != StatusCode::FORBIDDEN {
        return Ok(resp);
    }
    if let Some(c) = bearer_error(resp.headers()).filter(BearerError::is_insufficient_scope) {
        return Err(AuthorizedError::InsufficientScope {
            required: c.scope,
            description: c.error_description,
            response: Box::new(resp),
        });
    }
    // Some resources say it only in a JSON body.
    let body: Option<serde_json::Value> = serde_json::from_slice(resp.body()).ok();
    let field = |k: &str| {
        body.as_ref()
            .and_then(|b| b.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    if field("error").as_deref() == Some("insufficient_scope") {
        return Err(AuthorizedError::InsufficientScope {
            required: field("scope").and_then(|s| Scope::parse_lenient(&s).ok()),
            description: field("error_description"),
            response: Box::new(resp),
        });
    }
    Ok(resp)
}
