//! Token providers that build the OAuth client (and run discovery) only when a refresh
//! is really needed, so that commands with a valid cached token touch no network.

use std::time::SystemTime;

use authflow::client::{BoxFuture, OAuthClient};
use authflow::protocol::Grant;
use authflow::session::{SessionError, TokenProvider, TokenSet, refresh_token_set};
use authflow::types::ResourceIndicator;

use crate::context::Ctx;

/// Refreshes with the profile's refresh token.
pub(crate) struct LazyRefresh(pub(crate) Ctx);

impl TokenProvider for LazyRefresh {
    fn fetch<'a>(
        &'a self,
        current: Option<&'a TokenSet>,
    ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
        Box::pin(async move {
            // Discovery only once a refresh is really due.
            let client = self.0.client().await?;
            let resources = self
                .0
                .resources()
                .map_err(|e| SessionError::Internal(e.message))?;
            if resources.is_empty() {
                return refresh_token_set(&client, current).await;
            }
            refresh_for_resources(&client, current, &resources).await
        })
    }
}

/// [`refresh_token_set`] with RFC 8707 `resource` on the refresh request, which the
/// library's refresh does not send: a token for a resource stays for that resource.
async fn refresh_for_resources(
    client: &OAuthClient,
    current: Option<&TokenSet>,
    resources: &[ResourceIndicator],
) -> Result<TokenSet, SessionError> {
    let current = current.ok_or_else(|| SessionError::LoginRequired("not logged in".into()))?;
    let refresh_token = current.refresh_token.clone().ok_or_else(|| {
        SessionError::LoginRequired("the token expired and there is no refresh token".into())
    })?;
    let dpop = current.dpop.as_ref().or(client.dpop());
    let grant = Grant::RefreshToken {
        refresh_token,
        scope: None,
    };
    let resp = client.request_token_with(&grant, resources, dpop).await?;
    let mut next = current.refreshed(&resp, SystemTime::now());
    if next.dpop.is_none() {
        next.dpop = dpop.cloned();
    }
    Ok(next)
}

/// Fetches with the client credentials grant.
pub(crate) struct LazyClientCredentials(pub(crate) Ctx);

impl TokenProvider for LazyClientCredentials {
    fn fetch<'a>(
        &'a self,
        _current: Option<&'a TokenSet>,
    ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
        Box::pin(async move {
            // A new grant: with `dpop` in the profile, bound to a key made for it.
            let client = self.0.client_for_grant().await?;
            let scope = self
                .0
                .scope()
                .map_err(|e| SessionError::Internal(e.message))?;
            let asked = (!scope.is_empty()).then(|| scope.clone());
            let resp = client.client_credentials(asked).await?;
            Ok(TokenSet::from_response(&resp, &scope, SystemTime::now())
                .with_dpop(client.dpop().cloned()))
        })
    }
}

/// The logged-in user's token source: the profile's file store, refreshed lazily.
pub(crate) fn user_source(
    ctx: &Ctx,
) -> Result<authflow::session::TokenSource, crate::exit::CliError> {
    let builder = authflow::session::TokenSource::builder()
        .store(ctx.store()?)
        .provider(LazyRefresh(ctx.clone()));
    // A profile made for a resource logs in again when the resource wants more scope.
    Ok(if ctx.profile.protected_resource.is_some() {
        builder
            .step_up(super::resource_login::BrowserStepUp(ctx.clone()))
            .build()
    } else {
        builder.build()
    })
}
