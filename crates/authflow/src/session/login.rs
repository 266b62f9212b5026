//! Finishing a login: one path from the redirect (or a token response) to verified tokens,
//! by the rules in [finishing a login](crate::client#finishing-a-login). It lives with the
//! sessions because its result is a [`TokenSet`]: the client layer stays below them.

use std::time::SystemTime;

use url::Url;

use super::TokenSet;
use crate::client::{EndpointKind, Error, OAuthClient};
use crate::protocol::id_token::IdTokenClaims;
use crate::protocol::{PendingAuthorization, TokenResponse};
use crate::types::{AuthorizationCode, Nonce, Scope};

/// The scope value that makes a request an OpenID Connect one.
const OPENID: &str = "openid";

/// A finished login: the tokens, and the ID token's claims once verified.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Login {
    /// The tokens, ready for a [`TokenStore`](super::TokenStore).
    pub tokens: TokenSet,
    /// The verified ID token claims; `None` only when no ID token came and `openid` was
    /// not requested.
    pub claims: Option<IdTokenClaims>,
}

impl OAuthClient {
    /// Finishes a code-flow login from the full redirect URL: checks it against
    /// `pending`, exchanges the code and verifies the ID token, by the rules of
    /// [finishing a login](crate::client#finishing-a-login).
    ///
    /// ```no_run
    /// # async fn run(
    /// #     client: authflow::OAuthClient,
    /// #     pending: authflow::protocol::PendingAuthorization,
    /// #     redirect: url::Url,
    /// # ) -> Result<(), authflow::Error> {
    /// let login = client.complete_login(&pending, &redirect).await?;
    /// if let Some(claims) = &login.claims {
    ///     println!("signed in as {}", claims.sub);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn complete_login(
        &self,
        pending: &PendingAuthorization,
        callback: &Url,
    ) -> Result<Login, Error> {
        let code = pending
            .validate_callback(callback)
            .map_err(Error::Callback)?;
        self.complete_login_code(pending, code).await
    }

    /// [`complete_login`](Self::complete_login) for a code whose redirect was already
    /// checked against `pending` (by the loopback listener, or by a web application that
    /// must act between the check and the exchange, such as using up its flow record).
    pub async fn complete_login_code(
        &self,
        pending: &PendingAuthorization,
        code: AuthorizationCode,
    ) -> Result<Login, Error> {
        // What the ID token check needs, before the code is spent: a refused login must
        // not leave live tokens at the server.
        if pending.scope.contains(OPENID) {
            if self.endpoints().jwks.is_none() {
                return Err(Error::MissingEndpoint(EndpointKind::Jwks));
            }
            if self.issuer().is_none() {
                return Err(Error::UnknownIssuer);
            }
        }
        let response = self.exchange_code(pending, code).await?;
        self.complete_login_response(&response, &pending.scope, pending.nonce.as_ref())
            .await
    }

    /// Finishes a login whose tokens came without a redirect (the device flow, or any
    /// grant that logs a user in): the ID token rules of
    /// [`complete_login`](Self::complete_login) apply, with the `nonce` sent, if any, and
    /// `requested` the scope asked for.
    pub async fn complete_login_response(
        &self,
        response: &TokenResponse,
        requested: &Scope,
        nonce: Option<&Nonce>,
    ) -> Result<Login, Error> {
        let claims = match &response.id_token {
            Some(id_token) => {
                // Said before any request, so that a missing jwks_uri is never mistaken
                // for a network problem.
                if self.endpoints().jwks.is_none() {
                    return Err(Error::MissingEndpoint(EndpointKind::Jwks));
                }
                Some(
                    self.verify_id_token(id_token, nonce, Some(&response.access_token))
                        .await?,
                )
            }
            None if requested.contains(OPENID) => return Err(Error::MissingIdToken),
            None => None,
        };
        let tokens = TokenSet::from_response(response, requested, SystemTime::now())
            .with_dpop(self.dpop().cloned());
        Ok(Login { tokens, claims })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::client::{BoxFuture, HttpClient, HttpError};
    use crate::protocol::Credentials;
    use crate::protocol::token_response::parse_token_response;
    use crate::types::{ClientId, EndpointUrl, IssuerUrl};

    /// Refuses every request: these rules must be decided before any is sent.
    struct NoNetwork;

    impl HttpClient for NoNetwork {
        fn send(
            &self,
            request: http::Request<Vec<u8>>,
            _max_body: usize,
        ) -> BoxFuture<'_, Result<http::Response<Bytes>, HttpError>> {
            let url = request.uri().to_string();
            Box::pin(async move {
                Err(HttpError::Other {
                    url: url.clone(),
                    source: format!("unexpected request to {url}").into(),
                })
            })
        }
    }

    /// A client that knows its issuer and token endpoint but no `jwks_uri`.
    fn client_without_jwks() -> OAuthClient {
        OAuthClient::builder(Credentials::public(ClientId::new("cli").unwrap()))
            .issuer(IssuerUrl::new("https://as.example").unwrap())
            .token_endpoint(EndpointUrl::new("https://as.example/token").unwrap())
            .http_client(NoNetwork)
            .build()
            .unwrap()
    }

    fn response(body: &str) -> TokenResponse {
        let resp = http::Response::builder()
            .header("content-type", "application/json")
            .body(Bytes::from(body.to_owned()))
            .unwrap();
        parse_token_response(&resp, SystemTime::now()).unwrap()
    }

    #[tokio::test]
    async fn openid_without_an_id_token_is_refused() {
        let client = client_without_jwks();
        let resp = response(r#"{"access_token":"at","token_type":"Bearer"}"#);
        let err = client
            .complete_login_response(&resp, &Scope::parse("openid profile").unwrap(), None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::MissingIdToken), "{err:?}");
    }

    #[tokio::test]
    async fn an_id_token_without_a_jwks_is_an_error_not_a_skip() {
        let client = client_without_jwks();
        // Not even a JWT: it must be refused for the missing JWKS before anything else.
        let resp = response(r#"{"access_token":"at","token_type":"Bearer","id_token":"a.b.c"}"#);
        // Whatever was requested: an ID token that came is verified.
        for scope in ["openid", "api:read"] {
            let err = client
                .complete_login_response(&resp, &Scope::parse(scope).unwrap(), None)
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::MissingEndpoint(EndpointKind::Jwks)),
                "{scope}: {err:?}"
            );
        }
    }

    #[tokio::test]
    async fn plain_oauth_logins_need_no_id_token_and_keep_the_requested_scope() {
        let client = client_without_jwks();
        let resp = response(r#"{"access_token":"at","token_type":"Bearer","expires_in":60}"#);
        let login = client
            .complete_login_response(&resp, &Scope::parse("api:read").unwrap(), None)
            .await
            .unwrap();
        assert!(login.claims.is_none());
        assert_eq!(login.tokens.access_token.secret(), "at");
        assert_eq!(login.tokens.scope, Some(Scope::parse("api:read").unwrap()));
        assert!(login.tokens.expires_at.is_some());
        assert!(login.tokens.dpop.is_none());
    }
}
