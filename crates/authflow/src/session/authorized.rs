//! An HTTP client that calls protected resources with a bearer token (RFC 6750).

use std::sync::{Arc, Weak};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};

use super::error::SessionError;
use super::source::TokenSource;
use super::token_set::TokenSet;
use crate::client::{BoxFuture, HttpClient, HttpError};
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
    /// The resource refused the token even after a refresh (or refused it once, for a
    /// request whose streaming body could not be sent again).
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
    let secret = token.secret().as_bytes();
    let mut bytes = Vec::with_capacity(7 + secret.len());
    bytes.extend_from_slice(b"Bearer ");
    bytes.extend_from_slice(secret);
    let mut v = HeaderValue::from_maybe_shared(Bytes::from(bytes))?;
    v.set_sensitive(true);
    Ok(v)
}

/// [`bearer_header`], as the error a request fails with.
fn authorization(token: &AccessToken) -> Result<HeaderValue, AuthorizedError> {
    bearer_header(token).map_err(|_| {
        SessionError::Internal("the access token cannot be sent in a header".into()).into()
    })
}

/// Sends requests with the source's token; on `401 invalid_token` refreshes once and
/// retries. [`send`](Self::send) takes an `http::Request` (its body is in memory, so it can
/// always be replayed); [`execute`](Self::execute) a `reqwest::Request`.
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
    pub(super) source: TokenSource,
    pub(super) http: Arc<dyn HttpClient>,
    pub(super) max_body: usize,
    header: Arc<HeaderCache>,
    /// The resource server's latest DPoP nonce, the next proof signed ahead.
    pub(super) dpop: Arc<super::dpop_ahead::DpopState>,
}

/// The `Authorization` value of the last token set used, built once per set: a shared copy
/// while the set stays the same (no allocation per call), built anew when it changes.
#[derive(Default)]
pub(super) struct HeaderCache(ArcSwapOption<BearerHeader>);

struct BearerHeader {
    // Weak: a replaced set (and its refresh token) is dropped and zeroized on time; the
    // allocation stays while this points at it, so the address is never reused.
    set: Weak<TokenSet>,
    value: HeaderValue,
}

impl HeaderCache {
    pub(super) fn get(&self, tokens: &Arc<TokenSet>) -> Result<HeaderValue, AuthorizedError> {
        if let Some(cached) = &*self.0.load()
            && std::ptr::eq(cached.set.as_ptr(), Arc::as_ptr(tokens))
        {
            return Ok(cached.value.clone());
        }
        let value = authorization(&tokens.access_token)?;
        self.0.store(Some(Arc::new(BearerHeader {
            set: Arc::downgrade(tokens),
            value: value.clone(),
        })));
        Ok(value)
    }
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
            header: Arc::default(),
            dpop: Arc::default(),
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
    /// With a [`StepUp`](super::StepUp) on the source, `insufficient_scope` first gets one
    /// step-up and one more try.
    #[allow(clippy::manual_async_fn)] // see the comment inside
    pub fn send(
        &self,
        request: Request<Vec<u8>>,
    ) -> impl Future<Output = Result<Response<Bytes>, AuthorizedError>> + Send + '_ {
        // An `async` block rather than an `async fn`: the request is captured once, where an
        // `async fn` keeps the argument and its local copy side by side in the future.
        async move {
            // RFC 6750 §5.3: a bearer token never travels in clear text.
            check_secure(request.uri())?;
            // An `Arc` of its own: it is held for the whole request, too long for a guard.
            let tokens = self.source.token().await?.into_arc();
            match self.send_tokens(&request, &tokens).await {
                Err(AuthorizedError::InsufficientScope {
                    required: Some(required),
                    description,
                    response,
                }) if self.source.can_step_up() && challenged(&response) => {
                    // Rare, and boxed so that the common path's future stays small.
                    Box::pin(async {
                        match self.source.step_up(&required, &tokens.access_token).await? {
                            Some(fresh) => self.send_tokens(&request, &fresh).await,
                            None => Err(AuthorizedError::InsufficientScope {
                                required: Some(required),
                                description,
                                response,
                            }),
                        }
                    })
                    .await
                }
                other => other,
            }
        }
    }

    /// [`send`](Self::send) with `tokens`, up to the scope check.
    async fn send_tokens(
        &self,
        request: &Request<Vec<u8>>,
        tokens: &Arc<TokenSet>,
    ) -> Result<Response<Bytes>, AuthorizedError> {
        if tokens.is_dpop_bound() {
            // Rare next to bearer, and boxed so the bearer future stays small.
            return Box::pin(self.send_dpop(request, tokens.clone())).await;
        }
        // The request stays here, unsent, in case it must go again with a fresh token.
        let resp = self.send_with(request, tokens)?.await?;
        if rejected_token(&resp).is_none() {
            return check_scope(resp);
        }
        // Rare, and boxed so that the common path's future stays small.
        Box::pin(self.retry_with_fresh_token(request, &tokens.access_token)).await
    }

    /// [`send`](Self::send) for a request built with reqwest. Its URL is parsed once, by
    /// reqwest, where an `http::Request` is parsed again for the wire: over
    /// [`ReqwestClient`](crate::client::ReqwestClient) this is the cheapest way to call
    /// an API.
    ///
    /// A request with a streaming body cannot be sent twice: after `401 invalid_token` the
    /// token is refreshed (the next call carries the new one) and the error is
    /// [`AuthorizedError::TokenRejected`].
    ///
    /// ```no_run
    /// # async fn run(api: authflow::session::AuthorizedClient) -> Result<(), Box<dyn std::error::Error>> {
    /// let request = reqwest::Request::new(reqwest::Method::GET, "https://api.example/me".parse()?);
    /// let resp = api.execute(request).await?;
    /// println!("{}", String::from_utf8_lossy(resp.body()));
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "reqwest")]
    #[allow(clippy::manual_async_fn)] // as `send`: the request is held once
    pub fn execute(
        &self,
        request: reqwest::Request,
    ) -> impl Future<Output = Result<Response<Bytes>, AuthorizedError>> + Send + '_ {
        async move {
            let url = request.url();
            // RFC 6750 §5.3: a bearer token never travels in clear text.
            check_target(Some(url.scheme()), url.host_str())?;
            let tokens = self.source.token().await?.into_arc();
            if !self.source.can_step_up() {
                return self.execute_tokens(request, &tokens).await;
            }
            // A copy for a step-up, made only when one can happen.
            let again = crate::client::copy_request(&request);
            match self.execute_tokens(request, &tokens).await {
                Err(AuthorizedError::InsufficientScope {
                    required: Some(required),
                    description,
                    response,
                }) if challenged(&response) => {
                    Box::pin(async {
                        let fresh = self.source.step_up(&required, &tokens.access_token).await?;
                        match (fresh, again) {
                            (Some(fresh), Some(again)) => self.execute_tokens(again, &fresh).await,
                            _ => Err(AuthorizedError::InsufficientScope {
                                required: Some(required),
                                description,
                                response,
                            }),
                        }
                    })
                    .await
                }
                other => other,
            }
        }
    }

    /// [`execute`](Self::execute) with `tokens`, up to the scope check.
    #[cfg(feature = "reqwest")]
    async fn execute_tokens(
        &self,
        mut request: reqwest::Request,
        tokens: &Arc<TokenSet>,
    ) -> Result<Response<Bytes>, AuthorizedError> {
        if tokens.is_dpop_bound() {
            return Box::pin(self.execute_dpop(request, tokens.clone())).await;
        }
        // A copy for the retry (no parsing: the URL and headers are copied as they are).
        let retry = crate::client::copy_request(&request);
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, self.header.get(tokens)?);
        let resp = self.http.send_reqwest(request, self.max_body).await?;
        let Some(challenge) = rejected_token(&resp) else {
            return check_scope(resp);
        };
        Box::pin(self.retry_reqwest(resp, challenge, retry, &tokens.access_token)).await
    }

    /// [`execute`](Self::execute) after `401 invalid_token`: one refresh, and one retry if
    /// the request could be copied.
    #[cfg(feature = "reqwest")]
    async fn retry_reqwest(
        &self,
        resp: Response<Bytes>,
        challenge: BearerError,
        retry: Option<reqwest::Request>,
        rejected: &AccessToken,
    ) -> Result<Response<Bytes>, AuthorizedError> {
        tracing::debug!("resource answered invalid_token; refreshing once");
        let fresh = self.source.refresh_after_rejection(rejected).await?;
        let Some(mut retry) = retry else {
            return Err(AuthorizedError::TokenRejected {
                challenge: Box::new(challenge),
                response: Box::new(resp),
            });
        };
        retry
            .headers_mut()
            .insert(header::AUTHORIZATION, self.header.get(&fresh)?);
        after_retry(self.http.send_reqwest(retry, self.max_body).await?)
    }

    /// After `401 invalid_token`: one refresh, one retry.
    async fn retry_with_fresh_token(
        &self,
        request: &Request<Vec<u8>>,
        rejected: &AccessToken,
    ) -> Result<Response<Bytes>, AuthorizedError> {
        tracing::debug!("resource answered invalid_token; refreshing once");
        let fresh = self.source.refresh_after_rejection(rejected).await?;
        after_retry(self.send_with(request, &fresh)?.await?)
    }

    /// A copy of the request with the bearer header, sent. Not `async`: the returned future
    /// is the HTTP client's own, so the caller's future does not hold a second request.
    pub(super) fn send_with(
        &self,
        request: &Request<Vec<u8>>,
        tokens: &Arc<TokenSet>,
    ) -> Result<BoxFuture<'_, Result<Response<Bytes>, HttpError>>, AuthorizedError> {
        let value = self.header.get(tokens)?;
        Ok(self
            .http
            .send_with_header(request, header::AUTHORIZATION, value, self.max_body))
    }
}

/// `https`, or `http` to a loopback host, read from the request URI without reparsing it
/// (this runs on every API call).
fn check_secure(uri: &http::Uri) -> Result<(), AuthorizedError> {
    let scheme = uri.scheme_str();
    if scheme == Some("https") {
        return Ok(());
    }
    check_target(scheme, uri.authority().map(|a| host_of(a.as_str())))
}

/// The host of an authority (`user@host:port`), IPv6 in brackets. `Authority::host` does
/// the same with `char` searches, which cost more than the rest of the check.
fn host_of(authority: &str) -> &str {
    let b = authority.as_bytes();
    let start = b.iter().rposition(|&c| c == b'@').map_or(0, |i| i + 1);
    let rest = &b[start..];
    let end = if rest.first() == Some(&b'[') {
        rest.iter()
            .position(|&c| c == b']')
            .map_or(rest.len(), |i| i + 1)
    } else {
        rest.iter().position(|&c| c == b':').unwrap_or(rest.len())
    };
    // Both ends are at ASCII bytes or the ends of the string: char boundaries.
    authority.get(start..start + end).unwrap_or("")
}

/// RFC 6750 §5.3: a bearer token goes over https, or plain http to a loopback host only.
/// `host` as URLs write it (IPv6 in brackets).
pub(super) fn check_target(
    scheme: Option<&str>,
    host: Option<&str>,
) -> Result<(), AuthorizedError> {
    let loopback = || {
        host.is_some_and(|h| {
            matches!(h, "127.0.0.1" | "[::1]")
                || h.eq_ignore_ascii_case("localhost")
                || h.trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
    };
    match scheme {
        Some("https") => Ok(()),
        Some("http") if loopback() => Ok(()),
        Some("http") => Err(AuthorizedError::InvalidUrl(format!(
            "refusing to send a bearer token to http://{}: use https (plain http is allowed only for loopback hosts)",
            host.unwrap_or("")
        ))),
        _ => Err(AuthorizedError::InvalidUrl(
            "the request URL is not an absolute http(s) URL".into(),
        )),
    }
}

/// A `401` whose Bearer challenge says `invalid_token`, or a bare `401` with a Bearer
/// challenge and no error code (RFC 6750 §3: no credentials accepted).
pub(super) fn rejected_token(resp: &Response<Bytes>) -> Option<BearerError> {
    rejected_token_in(resp.status(), resp.headers())
}

/// [`rejected_token`] from a status and headers alone (the body is not needed).
pub(super) fn rejected_token_in(
    status: StatusCode,
    headers: &http::HeaderMap,
) -> Option<BearerError> {
    if status != StatusCode::UNAUTHORIZED {
        return None;
    }
    if let Some(challenge) = bearer_error(headers) {
        return challenge.is_invalid_token().then_some(challenge);
    }
    // A bare `Bearer` challenge: the token was not accepted at all.
    challenges_from_headers(headers)
        .iter()
        .any(|c| c.is_bearer())
        .then(bare_rejection)
}

/// What a bare challenge (no error code) means for a client holding a token: it was not
/// accepted at all (RFC 6750 §3.1).
pub(super) fn bare_rejection() -> BearerError {
    BearerError {
        error: "invalid_token".into(),
        error_description: None,
        error_uri: None,
        scope: None,
        realm: None,
        resource_metadata: None,
    }
}

/// Whether a `403` said `insufficient_scope` in `WWW-Authenticate` (RFC 6750 §3), the
/// only form that starts a step-up: a JSON body is the resource's content, not a protocol
/// message.
fn challenged(resp: &Response<Bytes>) -> bool {
    scope_challenge(resp.status(), resp.headers()).is_some()
}

/// The `insufficient_scope` challenge of a `403`, if its `WWW-Authenticate` has one.
pub(super) fn scope_challenge(
    status: StatusCode,
    headers: &http::HeaderMap,
) -> Option<BearerError> {
    if status != StatusCode::FORBIDDEN {
        return None;
    }
    bearer_error(headers).filter(BearerError::is_insufficient_scope)
}

/// The answer to the one retry: a token still rejected is the error.
pub(super) fn after_retry(resp: Response<Bytes>) -> Result<Response<Bytes>, AuthorizedError> {
    match rejected_token(&resp) {
        Some(challenge) => Err(AuthorizedError::TokenRejected {
            challenge: Box::new(challenge),
            response: Box::new(resp),
        }),
        None => check_scope(resp),
    }
}

pub(super) fn check_scope(resp: Response<Bytes>) -> Result<Response<Bytes>, AuthorizedError> {
    if resp.status() != StatusCode::FORBIDDEN {
        return Ok(resp);
    }
    if let Some(c) = scope_challenge(resp.status(), resp.headers()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_strips_userinfo_and_port() {
        for (authority, host) in [
            ("127.0.0.1:8080", "127.0.0.1"),
            ("localhost", "localhost"),
            ("user:pw@api.example:443", "api.example"),
            ("a@b@evil.example:1", "evil.example"),
            ("[::1]:3000", "[::1]"),
            ("[::1]", "[::1]"),
            ("u@[::1]", "[::1]"),
            ("", ""),
        ] {
            assert_eq!(host_of(authority), host, "{authority}");
        }
    }

    #[test]
    fn check_secure_allows_https_and_loopback_only() {
        let ok = |u: &str| check_secure(&u.parse().unwrap()).is_ok();
        assert!(ok("https://api.example/me"));
        assert!(ok("http://127.0.0.1:8080/me"));
        assert!(ok("http://[::1]:8080/me"));
        assert!(ok("http://LOCALHOST/me"));
        assert!(ok("http://127.1.2.3/me"));
        assert!(!ok("http://api.example/me"));
        assert!(!ok("http://127.0.0.1@api.example/me"));
        assert!(!ok("http://localhost.evil.example/me"));
        assert!(!ok("/relative"));
    }
}
