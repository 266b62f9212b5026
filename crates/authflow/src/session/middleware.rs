//! Bearer tokens for [`reqwest_middleware`] clients: the rules of
//! [`AuthorizedClient`](super::AuthorizedClient) for code that builds its requests with
//! reqwest.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Extensions, StatusCode, header};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use super::authorized::{
    AuthorizedError, HeaderCache, check_target, rejected_token_in, scope_challenge,
};
use super::dpop_requests::{DpopAttempts, Step};
use super::source::TokenSource;
use super::{SessionError, TokenSet};
use crate::client::{copy_request, into_http_response};
use crate::protocol::www_authenticate::BearerError;
use crate::types::AccessToken;

/// How much of an error response's body the typed errors keep.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A [`reqwest_middleware`] middleware that sends the source's access token
/// (`Authorization: Bearer`, marked sensitive; for a DPoP-bound set `Authorization: DPoP`
/// and a fresh proof, following the resource's `DPoP-Nonce`), and on `401 invalid_token` refreshes once
/// and retries when the request can be replayed (reqwest cannot replay a streaming body;
/// the token is refreshed all the same, so the next request carries the new one).
///
/// Like [`AuthorizedClient`](super::AuthorizedClient), it refuses plain http to a host that
/// is not loopback, and turns a token still rejected after the refresh, or a `403` whose
/// challenge says `insufficient_scope`, into an [`AuthorizedError`], found with
/// `downcast_ref` in [`reqwest_middleware::Error::Middleware`]. Other statuses come back as
/// responses, bodies unread.
///
/// The reqwest client underneath must not follow redirects to another origin: on a chain
/// A → B → B, reqwest strips the token on the first hop but sends it again on the second.
/// Build it with [`redirect_policy`](Self::redirect_policy) (same-origin redirects only) or
/// `Policy::none()`. Put this middleware last among those that change the URL: it checks
/// the URL it is given.
///
/// ```no_run
/// # async fn run(source: authflow::session::TokenSource) -> Result<(), Box<dyn std::error::Error>> {
/// use authflow::session::{AuthorizedError, BearerMiddleware};
///
/// let http = reqwest::Client::builder()
///     .redirect(BearerMiddleware::redirect_policy())
///     .build()?;
/// let api = reqwest_middleware::ClientBuilder::new(http)
///     .with(BearerMiddleware::new(source))
///     .build();
/// match api.get("https://api.example/me").send().await {
///     Ok(resp) => println!("{}", resp.text().await?),
///     Err(reqwest_middleware::Error::Middleware(e)) => {
///         if let Some(AuthorizedError::InsufficientScope { required, .. }) = e.downcast_ref() {
///             println!("log in again with {required:?}");
///         }
///     }
///     Err(e) => return Err(e.into()),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct BearerMiddleware {
    source: TokenSource,
    header: Arc<HeaderCache>,
    /// The resource server's latest DPoP nonce, the next proof signed ahead.
    dpop: Arc<super::dpop_ahead::DpopState>,
}

impl std::fmt::Debug for BearerMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerMiddleware").finish_non_exhaustive()
    }
}

impl BearerMiddleware {
    /// Authorizes requests with tokens from `source`.
    pub fn new(source: TokenSource) -> Self {
        Self {
            source,
            header: Arc::default(),
            dpop: Arc::default(),
        }
    }

    /// The token source.
    pub fn source(&self) -> &TokenSource {
        &self.source
    }

    /// A redirect policy for the client underneath: follows redirects within the first
    /// request's origin (scheme, host and port), at most 10, and stops at any other, so the
    /// token never leaves that origin.
    pub fn redirect_policy() -> reqwest::redirect::Policy {
        reqwest::redirect::Policy::custom(|attempt| {
            let chain = attempt.previous();
            let same = chain.first().is_some_and(|first| {
                first.scheme() == attempt.url().scheme()
                    && first.host_str() == attempt.url().host_str()
                    && first.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if same && chain.len() <= 10 {
                attempt.follow()
            } else {
                attempt.stop()
            }
        })
    }

    /// A `403`: `insufficient_scope` is the typed error, after one step-up and one more
    /// try when the source can step up and there is a copy to send.
    async fn forbidden(
        &self,
        resp: Response,
        retry: Option<Box<Request>>,
        tokens: &Arc<TokenSet>,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let required = match (scope_challenge(resp.status(), resp.headers()), &retry) {
            (Some(c), Some(_)) if self.source.can_step_up() => c.scope,
            _ => None,
        };
        let Some(required) = required else {
            return check_scope(resp).await;
        };
        let fresh = self
            .source
            .step_up(&required, &tokens.access_token)
            .await
            .map_err(|e| fail(e.into()))?;
        let (Some(fresh), Some(mut retry)) = (fresh, retry) else {
            return check_scope(resp).await;
        };
        if fresh.is_dpop_bound() {
            return Box::pin(self.handle_dpop(*retry, fresh, false, extensions, next)).await;
        }
        retry.headers_mut().insert(
            header::AUTHORIZATION,
            self.header.get(&fresh).map_err(fail)?,
        );
        let resp = next.run(*retry, extensions).await?;
        match rejected_token_in(resp.status(), resp.headers()) {
            Some(challenge) => Err(token_rejected(resp, challenge).await),
            None => check_scope(resp).await,
        }
    }

    /// After `401 invalid_token`: one refresh, and one retry if there is a copy to send.
    async fn retry_with_fresh_token(
        &self,
        rejected: (Response, BearerError),
        retry: Option<Box<Request>>,
        token: &AccessToken,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        tracing::debug!("resource answered invalid_token; refreshing once");
        let fresh = self
            .source
            .refresh_after_rejection(token)
            .await
            .map_err(|e| fail(e.into()))?;
        let Some(mut retry) = retry else {
            return Err(token_rejected(rejected.0, rejected.1).await);
        };
        retry.headers_mut().insert(
            header::AUTHORIZATION,
            self.header.get(&fresh).map_err(fail)?,
        );
        let resp = next.run(*retry, extensions).await?;
        match rejected_token_in(resp.status(), resp.headers()) {
            Some(challenge) => Err(token_rejected(resp, challenge).await),
            None => check_scope(resp).await,
        }
    }
}

impl BearerMiddleware {
    /// A DPoP-bound token set: `Authorization: DPoP` and a fresh proof on every send, with
    /// the rules of [`DpopAttempts`].
    async fn handle_dpop(
        &self,
        req: Request,
        tokens: Arc<TokenSet>,
        may_step_up: bool,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let method = req.method().as_str().to_owned();
        let mut attempts =
            DpopAttempts::new(&self.source, &self.dpop, tokens, &method, req.url().clone());
        let mut pending = Some(req);
        while let Some(mut req) = pending.take() {
            pending = copy_request(&req);
            attempts.apply(req.headers_mut()).map_err(fail)?;
            let resp = next.clone().run(req, extensions).await?;
            match attempts
                .after(resp.status(), resp.headers(), pending.is_some())
                .await
                .map_err(fail)?
            {
                Step::Retry => {}
                Step::Done if may_step_up && resp.status() == StatusCode::FORBIDDEN => {
                    let tokens = attempts.tokens().clone();
                    let again = pending.map(Box::new);
                    return Box::pin(self.forbidden(resp, again, &tokens, extensions, next)).await;
                }
                Step::Done => return check_scope(resp).await,
                Step::Rejected(challenge) => return Err(token_rejected(resp, challenge).await),
            }
        }
        Err(fail(AuthorizedError::from(SessionError::Internal(
            "the request cannot be sent again".into(),
        ))))
    }
}

#[async_trait]
impl Middleware for BearerMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        // RFC 6750 §5.3: a bearer token never travels in clear text.
        check_target(Some(req.url().scheme()), req.url().host_str()).map_err(fail)?;
        // An `Arc` of its own: it is held for the whole request, too long for a guard.
        let tokens = self
            .source
            .token()
            .await
            .map_err(|e| fail(e.into()))?
            .into_arc();
        if tokens.is_dpop_bound() {
            return Box::pin(self.handle_dpop(req, tokens, true, extensions, next)).await;
        }
        // Boxed: this future is allocated for every request, and with a second request
        // inline it grows past 1 KiB, where glibc's malloc leaves its per-thread cache.
        let retry = copy_request(&req).map(Box::new);
        req.headers_mut().insert(
            header::AUTHORIZATION,
            self.header.get(&tokens).map_err(fail)?,
        );
        let resp = next.clone().run(req, extensions).await?;
        let Some(challenge) = rejected_token_in(resp.status(), resp.headers()) else {
            // Boxed, and only for a `403`: inline, it would grow every request's future.
            return match resp.status() {
                StatusCode::FORBIDDEN => {
                    Box::pin(self.forbidden(resp, retry, &tokens, extensions, next)).await
                }
                _ => Ok(resp),
            };
        };
        // Rare, and boxed so that the common path's future stays small.
        Box::pin(self.retry_with_fresh_token(
            (resp, challenge),
            retry,
            &tokens.access_token,
            extensions,
            next,
        ))
        .await
    }
}

fn fail(e: AuthorizedError) -> reqwest_middleware::Error {
    reqwest_middleware::Error::middleware(e)
}

async fn token_rejected(resp: Response, challenge: BearerError) -> reqwest_middleware::Error {
    fail(AuthorizedError::TokenRejected {
        challenge: Box::new(challenge),
        response: Box::new(buffered(resp).await),
    })
}

/// A `403` with an `insufficient_scope` challenge becomes the typed error; anything else
/// passes through untouched. (Unlike `AuthorizedClient`, the JSON-body form some resources
/// use is not looked for: that would mean reading every `403`'s body here.)
async fn check_scope(resp: Response) -> reqwest_middleware::Result<Response> {
    match scope_challenge(resp.status(), resp.headers()) {
        None => Ok(resp),
        Some(c) => Err(fail(AuthorizedError::InsufficientScope {
            required: c.scope,
            description: c.error_description,
            response: Box::new(buffered(resp).await),
        })),
    }
}

/// An error response with its body read, for the typed errors; a body that cannot be read
/// (or is larger than [`ERROR_BODY_LIMIT`]) is left out, the status and headers kept.
async fn buffered(resp: Response) -> http::Response<Bytes> {
    let (status, version, headers) = (resp.status(), resp.version(), resp.headers().clone());
    into_http_response(resp, ERROR_BODY_LIMIT)
        .await
        .unwrap_or_else(|_| {
            let mut r = http::Response::new(Bytes::new());
            *r.status_mut() = status;
            *r.version_mut() = version;
            *r.headers_mut() = headers;
            r
        })
}
