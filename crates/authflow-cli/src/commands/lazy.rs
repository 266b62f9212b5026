//! Token providers that build the OAuth client (and run discovery) only when a refresh
//! is really needed, so that commands with a valid cached token touch no network.

use std::time::SystemTime;

use authflow::client::BoxFuture;
use authflow::session::{SessionError, TokenProvider, TokenSet, refresh_token_set_for};

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
            refresh_token_set_for(&client, current, &resources).await
        })
    }
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
