//! Where a [`TokenSource`](super::TokenSource) gets new tokens.

use std::time::SystemTime;

use super::error::SessionError;
use super::token_set::TokenSet;
use crate::client::{BoxFuture, OAuthClient};
use crate::protocol::Grant;
use crate::types::{ResourceIndicator, Scope};

/// Fetches a new token set, given the current one (if any).
pub trait TokenProvider: Send + Sync + 'static {
    /// Gets fresh tokens.
    fn fetch<'a>(
        &'a self,
        current: Option<&'a TokenSet>,
    ) -> BoxFuture<'a, Result<TokenSet, SessionError>>;
}

/// Refreshes an authorization-code session with its refresh token.
#[derive(Debug, Clone)]
pub struct RefreshTokenProvider {
    client: OAuthClient,
    resources: Vec<ResourceIndicator>,
}

impl RefreshTokenProvider {
    /// Refreshes through `client`.
    pub fn new(client: OAuthClient) -> Self {
        Self {
            client,
            resources: Vec::new(),
        }
    }

    /// Sends these `resource` indicators (RFC 8707) with every refresh, as the
    /// authorization did: a token for a resource stays one for that resource.
    #[must_use]
    pub fn resources(mut self, resources: impl IntoIterator<Item = ResourceIndicator>) -> Self {
        self.resources = resources.into_iter().collect();
        self
    }
}

impl TokenProvider for RefreshTokenProvider {
    fn fetch<'a>(
        &'a self,
        current: Option<&'a TokenSet>,
    ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
        Box::pin(refresh_token_set_for(
            &self.client,
            current,
            &self.resources,
        ))
    }
}

/// Refreshes `current` with its refresh token through `client`: the old refresh token
/// and scope stay when the server sends none. For custom providers that build the client
/// lazily.
pub async fn refresh_token_set(
    client: &OAuthClient,
    current: Option<&TokenSet>,
) -> Result<TokenSet, SessionError> {
    refresh_token_set_for(client, current, &[]).await
}

/// [`refresh_token_set`] with RFC 8707 `resource` indicators on the refresh request, so
/// a token for a resource stays one for that resource.
pub async fn refresh_token_set_for(
    client: &OAuthClient,
    current: Option<&TokenSet>,
    resources: &[ResourceIndicator],
) -> Result<TokenSet, SessionError> {
    let current = current.ok_or_else(|| SessionError::LoginRequired("not logged in".into()))?;
    let rt = current.refresh_token.as_ref().ok_or_else(|| {
        SessionError::LoginRequired("the token expired and there is no refresh token".into())
    })?;
    // The key the set is bound to, else the client's (which then binds the new tokens).
    let dpop = current.dpop.as_ref().or(client.dpop());
    let grant = Grant::RefreshToken {
        refresh_token: rt.clone(),
        scope: None,
    };
    let resp = client.request_token_with(&grant, resources, dpop).await?;
    let mut next = current.refreshed(&resp, SystemTime::now());
    if next.dpop.is_none() {
        next.dpop = dpop.cloned();
    }
    Ok(next)
}

/// Gets tokens with the client credentials grant (service to service).
#[derive(Debug, Clone)]
pub struct ClientCredentialsProvider {
    client: OAuthClient,
    scope: Scope,
    resources: Vec<ResourceIndicator>,
}

impl ClientCredentialsProvider {
    /// Fetches tokens for `scope` through `client`.
    pub fn new(client: OAuthClient, scope: Scope) -> Self {
        Self {
            client,
            scope,
            resources: Vec::new(),
        }
    }

    /// Asks for tokens for these resources (RFC 8707 `resource`).
    #[must_use]
    pub fn resources(mut self, resources: impl IntoIterator<Item = ResourceIndicator>) -> Self {
        self.resources = resources.into_iter().collect();
        self
    }
}

impl TokenProvider for ClientCredentialsProvider {
    fn fetch<'a>(
        &'a self,
        _current: Option<&'a TokenSet>,
    ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
        Box::pin(async move {
            let scope = (!self.scope.is_empty()).then(|| self.scope.clone());
            let grant = Grant::ClientCredentials { scope };
            let resp = self.client.request_token(&grant, &self.resources).await?;
            Ok(
                TokenSet::from_response(&resp, &self.scope, SystemTime::now())
                    .with_dpop(self.client.dpop().cloned()),
            )
        })
    }
}
