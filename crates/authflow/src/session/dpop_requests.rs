//! DPoP-bound requests (RFC 9449 §7): `Authorization: DPoP <token>` and a fresh proof per
//! request, the resource server's nonce followed (one retry on `use_dpop_nonce`), and one
//! refresh after `invalid_token`, like the bearer path. [`DpopAttempts`] holds those rules
//! once for the three front ends: `AuthorizedClient::send`, `execute`, and the middleware.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use std::sync::Arc;
use url::Url;

use super::authorized::{AuthorizedClient, AuthorizedError, after_retry, check_scope};
use super::dpop_ahead::{DpopState, ProofFor};
use super::source::TokenSource;
use super::{SessionError, TokenSet};
use crate::protocol::dpop;
use crate::protocol::www_authenticate::{BearerError, challenges_from_headers, dpop_error};

/// What to do after a response.
pub(super) enum Step {
    /// Hand the response to the caller.
    Done,
    /// Send again (new nonce or refreshed token): call [`DpopAttempts::headers`] again.
    Retry,
    /// The token is still refused after the one refresh (or cannot be retried).
    Rejected(BearerError),
}

/// The state of one DPoP-bound request across its (at most three) sends.
pub(super) struct DpopAttempts<'a> {
    source: &'a TokenSource,
    state: &'a Arc<DpopState>,
    tokens: Arc<TokenSet>,
    method: String,
    url: Url,
    nonce_retry: bool,
    refreshed: bool,
}

fn internal(m: String) -> AuthorizedError {
    SessionError::Internal(m).into()
}

impl<'a> DpopAttempts<'a> {
    pub(super) fn new(
        source: &'a TokenSource,
        state: &'a Arc<DpopState>,
        tokens: Arc<TokenSet>,
        method: &str,
        url: Url,
    ) -> Self {
        Self {
            source,
            state,
            tokens,
            method: method.to_owned(),
            url,
            nonce_retry: true,
            refreshed: false,
        }
    }

    /// `Authorization: DPoP <token>` and a fresh proof, both marked sensitive.
    fn headers(&self) -> Result<(HeaderValue, HeaderValue), AuthorizedError> {
        let token = self.tokens.access_token.secret();
        let mut auth = HeaderValue::try_from(format!("DPoP {token}"))
            .map_err(|_| internal("the access token cannot be sent in a header".into()))?;
        auth.set_sensitive(true);
        let proof = self
            .state
            .proof(&ProofFor {
                tokens: &self.tokens,
                method: &self.method,
                url: &self.url,
            })
            .map_err(internal)?;
        Ok((auth, proof))
    }

    /// Sets both headers on `headers`.
    pub(super) fn apply(&self, headers: &mut HeaderMap) -> Result<(), AuthorizedError> {
        let (auth, proof) = self.headers()?;
        headers.insert(header::AUTHORIZATION, auth);
        headers.insert(dpop::DPOP_HEADER, proof);
        Ok(())
    }

    /// Reads a response: keeps a new nonce, and says whether to send again. `can_retry`
    /// is false when the request cannot be replayed (a streaming body); a rejected token
    /// is refreshed all the same, so the next call carries the new one.
    pub(super) async fn after(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        can_retry: bool,
    ) -> Result<Step, AuthorizedError> {
        let fresh_nonce = dpop::nonce_from(headers);
        if let Some(n) = &fresh_nonce {
            self.state.nonce.store(Some(Arc::new(n.clone())));
        }
        if status != StatusCode::UNAUTHORIZED {
            return Ok(Step::Done);
        }
        let refused = match dpop_error(headers) {
            Some(e) if e.is(dpop::USE_DPOP_NONCE) => {
                if self.nonce_retry && can_retry && fresh_nonce.is_some() {
                    self.nonce_retry = false;
                    return Ok(Step::Retry);
                }
                return Ok(Step::Rejected(e));
            }
            Some(e) if e.is_invalid_token() => e,
            Some(_) => return Ok(Step::Done),
            None => match rejected_without_dpop_error(status, headers) {
                Some(e) => e,
                None => return Ok(Step::Done),
            },
        };
        if self.refreshed {
            return Ok(Step::Rejected(refused));
        }
        tracing::debug!("resource answered invalid_token to a DPoP token; refreshing once");
        self.tokens = self
            .source
            .refresh_after_rejection(&self.tokens.access_token)
            .await?;
        self.refreshed = true;
        Ok(if can_retry {
            Step::Retry
        } else {
            Step::Rejected(refused)
        })
    }

    /// The token set in use (changes after a refresh).
    pub(super) fn tokens(&self) -> &Arc<TokenSet> {
        &self.tokens
    }
}

/// A Bearer `invalid_token`, or a bare `DPoP`/`Bearer` challenge (no token accepted).
fn rejected_without_dpop_error(status: StatusCode, headers: &HeaderMap) -> Option<BearerError> {
    if let Some(e) = super::authorized::rejected_token_in(status, headers) {
        return Some(e);
    }
    challenges_from_headers(headers)
        .iter()
        .any(|c| c.is_scheme("dpop") && c.error().is_none())
        .then(super::authorized::bare_rejection)
}

pub(super) fn rejected(challenge: BearerError, resp: Response<Bytes>) -> AuthorizedError {
    AuthorizedError::TokenRejected {
        challenge: Box::new(challenge),
        response: Box::new(resp),
    }
}

impl AuthorizedClient {
    /// [`send`](Self::send) for a DPoP-bound token set.
    pub(super) async fn send_dpop(
        &self,
        request: &Request<Vec<u8>>,
        tokens: Arc<TokenSet>,
    ) -> Result<Response<Bytes>, AuthorizedError> {
        let url = Url::parse(&request.uri().to_string())
            .map_err(|_| internal("the request URL cannot be parsed for a DPoP proof".into()))?;
        let mut attempts = DpopAttempts::new(
            &self.source,
            &self.dpop,
            tokens,
            request.method().as_str(),
            url,
        );
        loop {
            if attempts.tokens().dpop.is_none() {
                // A refresh returned an unbound set: send it as the bearer path would.
                return after_retry(self.send_with(request, attempts.tokens())?.await?);
            }
            let mut copy = Request::new(request.body().clone());
            *copy.method_mut() = request.method().clone();
            *copy.uri_mut() = request.uri().clone();
            *copy.version_mut() = request.version();
            *copy.headers_mut() = request.headers().clone();
            attempts.apply(copy.headers_mut())?;
            let resp = self.http.send(copy, self.max_body).await?;
            match attempts.after(resp.status(), resp.headers(), true).await? {
                Step::Retry => {}
                Step::Done => return check_scope(resp),
                Step::Rejected(challenge) => return Err(rejected(challenge, resp)),
            }
        }
    }

    /// [`execute`](Self::execute) for a DPoP-bound token set.
    #[cfg(feature = "reqwest")]
    pub(super) async fn execute_dpop(
        &self,
        request: reqwest::Request,
        tokens: Arc<TokenSet>,
    ) -> Result<Response<Bytes>, AuthorizedError> {
        let url = request.url().clone();
        let method = request.method().as_str().to_owned();
        let mut attempts = DpopAttempts::new(&self.source, &self.dpop, tokens, &method, url);
        let mut next = Some(request);
        while let Some(mut req) = next.take() {
            next = crate::client::copy_request(&req);
            attempts.apply(req.headers_mut())?;
            let resp = self.http.send_reqwest(req, self.max_body).await?;
            match attempts
                .after(resp.status(), resp.headers(), next.is_some())
                .await?
            {
                Step::Retry => {}
                Step::Done => return check_scope(resp),
                Step::Rejected(challenge) => return Err(rejected(challenge, resp)),
            }
        }
        Err(internal("the request cannot be sent again".into()))
    }
}
