//! The login an MCP server asks for with its `401` (MCP authorization, 2025-11-25), from
//! authflow's building blocks: discovery of the resource and its authorization server,
//! the client's identity, the authorization code flow through the browser, and a
//! `TokenSource` that refreshes and steps up.

use std::sync::Arc;

use authflow::client::{
    BoxFuture, HttpClient, OAuthClient, ResourceAuthorization, ResourceDiscoveryError,
    ResourceDiscoveryOptions, discover_for_resource, register_client,
};
use authflow::flow::{ListenerOptions, LoopbackListener, open_browser};
use authflow::jose::SigningKey;
use authflow::protocol::client_id_metadata::ClientIdUrl;
use authflow::protocol::registration::{ClientMetadata, RegistrationRequest};
use authflow::protocol::resource_metadata::scope_to_request;
use authflow::protocol::{Credentials, ServerMetadata};
use authflow::session::{
    AuthorizedClient, ClientCredentialsProvider, RefreshTokenProvider, SessionError, StepUp,
    TokenProvider, TokenSet, TokenSource,
};
use authflow::types::{ClientId, ClientSecret, RedirectUri, ResourceIndicator, Scope, ScopeToken};
use http::HeaderMap;
use url::Url;

/// SEP-2207: a client that wants a refresh token asks for this scope, when the
/// authorization server lists it.
const OFFLINE_ACCESS: &str = "offline_access";

/// Why logging in failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The resource or its authorization server could not be discovered, or the client
    /// could not be registered.
    #[error(transparent)]
    Discovery(#[from] ResourceDiscoveryError),
    /// A request to the authorization server failed.
    #[error(transparent)]
    OAuth(#[from] authflow::Error),
    /// The browser round trip failed.
    #[error(transparent)]
    Flow(#[from] authflow::FlowError),
    /// No tokens could be had without the user (client_credentials).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// A value the client was given or sent is unusable.
    #[error("{0}")]
    Invalid(String),
    /// The client has no identity this authorization server accepts.
    #[error(
        "the authorization server {issuer} offers neither dynamic registration nor client ID metadata documents; pass a pre-registered --client-id (and --client-secret)"
    )]
    NoIdentity {
        /// The authorization server.
        issuer: String,
    },
    /// Neither grant the client can use is offered.
    #[error(
        "the authorization server {issuer} offers neither the authorization_code grant nor, for a client with credentials, client_credentials"
    )]
    NoGrant {
        /// The authorization server.
        issuer: String,
    },
}

fn invalid(e: impl std::fmt::Display) -> Error {
    Error::Invalid(e.to_string())
}

/// Credentials registered with the authorization server beforehand.
pub struct Preregistered {
    client_id: ClientId,
    secret: Option<ClientSecret>,
    /// For `private_key_jwt`.
    key: Option<SigningKey>,
}

impl Preregistered {
    /// A client ID with a secret, a private key (PKCS #8 PEM), or neither (public).
    pub fn new(
        client_id: String,
        secret: Option<String>,
        key_pem: Option<String>,
    ) -> Result<Self, Error> {
        Ok(Self {
            client_id: ClientId::new(client_id).map_err(invalid)?,
            secret: secret.map(ClientSecret::new).transpose().map_err(invalid)?,
            key: key_pem
                .map(|pem| SigningKey::from_pkcs8_pem(&pem))
                .transpose()
                .map_err(invalid)?,
        })
    }

    /// Credentials with the authentication method `metadata` supports.
    fn credentials(&self, metadata: &ServerMetadata) -> Credentials {
        let id = self.client_id.clone();
        match (&self.key, &self.secret) {
            (Some(key), _) => Credentials::private_key_jwt(id, Arc::new(key.clone())),
            (None, Some(s))
                if !metadata.supports_auth_method("client_secret_basic")
                    && metadata.supports_auth_method("client_secret_post") =>
            {
                Credentials::secret_post(id, s.clone())
            }
            (None, Some(s)) => Credentials::secret_basic(id, s.clone()),
            (None, None) => Credentials::public(id),
        }
    }
}

/// Who the client is, and how it may identify itself.
pub struct ClientConfig {
    /// `client_name` for dynamic registration.
    pub client_name: String,
    /// Pre-registered credentials: used whenever given.
    pub preregistered: Option<Preregistered>,
    /// The client's ID metadata document URL: its `client_id` at servers that support
    /// them.
    pub metadata_url: Option<String>,
}

/// Logs in to an MCP server: [`log_in`](Self::log_in) once, at its first `401`.
pub struct Login {
    config: ClientConfig,
    http: Arc<dyn HttpClient>,
}

impl Login {
    /// A login for `config`, sending its requests through `http`.
    pub fn new(config: ClientConfig, http: Arc<dyn HttpClient>) -> Self {
        Self { config, http }
    }

    /// From the server's `401` to a client that calls it with a token:
    /// protected resource metadata (RFC 9728) → authorization server metadata → client
    /// identity → tokens for this resource (RFC 8707) → an `AuthorizedClient` that
    /// refreshes, and steps up on `403 insufficient_scope`.
    pub async fn log_in(
        &self,
        server: &Url,
        challenge: &HeaderMap,
    ) -> Result<AuthorizedClient, Error> {
        let found = discover_for_resource(
            self.http.as_ref(),
            server,
            Some(challenge),
            None,
            &ResourceDiscoveryOptions::new(),
        )
        .await?;
        let resource = found.resource_indicator().map_err(invalid)?;
        tracing::info!(%resource, issuer = %found.issuer, "discovered the authorization server");
        // The MCP scope selection: the challenge's, else the resource's scopes_supported,
        // else none.
        let scope = scope_to_request(Some(challenge), &found.resource.metadata).unwrap_or_default();
        let source = match self.service_credentials(&found)? {
            // A client with credentials and no user: client_credentials (SEP-1046).
            Some(credentials) => {
                let grant =
                    ClientCredentialsProvider::new(self.client(credentials, &found)?, scope)
                        .resources([resource]);
                let tokens = grant.fetch(None).await?;
                TokenSource::builder()
                    .initial(tokens)
                    .provider(grant)
                    .build()
            }
            None => self.user_login(&found, resource, scope).await?,
        };
        Ok(AuthorizedClient::with_shared_http(
            source,
            self.http.clone(),
        ))
    }

    /// The authorization code flow in the browser, and a source that refreshes and steps
    /// up with it.
    async fn user_login(
        &self,
        found: &ResourceAuthorization,
        resource: ResourceIndicator,
        mut scope: Scope,
    ) -> Result<TokenSource, Error> {
        if wants_offline_access(&found.server) {
            scope.insert(ScopeToken::new(OFFLINE_ACCESS).map_err(invalid)?);
        }
        // The listener is bound first: dynamic registration needs its port.
        let loopback = RedirectUri::new("http://127.0.0.1/callback").map_err(invalid)?;
        let listener = LoopbackListener::bind(&loopback).await?;
        let credentials = self.identify(found, listener.redirect_uri()).await?;
        let browser = Arc::new(Browser {
            client: self.client(credentials, found)?,
            resource: resource.clone(),
            redirect_uri: listener.redirect_uri().clone(),
        });
        let tokens = browser.authorize(listener, &scope).await?;
        Ok(TokenSource::builder()
            .initial(tokens)
            .provider(RefreshTokenProvider::new(browser.client.clone()).resources([resource]))
            .step_up(StepUpInBrowser(browser))
            .build())
    }

    /// Credentials for the client_credentials grant: when the server does not offer the
    /// authorization code grant and the client has a secret or a key. An error when it
    /// offers neither grant.
    fn service_credentials(
        &self,
        found: &ResourceAuthorization,
    ) -> Result<Option<Credentials>, Error> {
        let server = &found.server;
        if server.supports_grant("authorization_code") {
            return Ok(None);
        }
        match &self.config.preregistered {
            Some(pre)
                if (pre.secret.is_some() || pre.key.is_some())
                    && server.supports_grant("client_credentials") =>
            {
                Ok(Some(pre.credentials(server)))
            }
            _ => Err(Error::NoGrant {
                issuer: found.issuer.to_string(),
            }),
        }
    }

    /// The client's credentials at this authorization server: pre-registered ones, else
    /// its client ID metadata document URL where the server supports them, else a
    /// dynamic registration (RFC 7591) as a public native app.
    async fn identify(
        &self,
        found: &ResourceAuthorization,
        redirect_uri: &RedirectUri,
    ) -> Result<Credentials, Error> {
        if let Some(pre) = &self.config.preregistered {
            return Ok(pre.credentials(&found.server));
        }
        if let Some(url) = &self.config.metadata_url
            && found.supports_client_id_metadata_documents()
        {
            let url = ClientIdUrl::new(url).map_err(invalid)?;
            tracing::info!(client_id = %url, "using the client ID metadata document");
            return Ok(Credentials::public(url.client_id().clone()));
        }
        if found.server.registration_endpoint.is_none() {
            return Err(Error::NoIdentity {
                issuer: found.issuer.to_string(),
            });
        }
        let metadata = ClientMetadata::native_app([redirect_uri.clone()])
            .client_name(&self.config.client_name)
            .token_endpoint_auth_method(registration_auth_method(&found.server));
        let registered = register_client(
            self.http.as_ref(),
            found.registration_endpoint()?,
            &RegistrationRequest::new(metadata),
        )
        .await?;
        tracing::info!(client_id = %registered.client_id, "registered the client");
        registered.credentials().ok_or_else(|| {
            invalid(
                "the registration answered with an authentication method this client cannot use; register a client by hand and pass --client-id",
            )
        })
    }

    fn client(
        &self,
        credentials: Credentials,
        found: &ResourceAuthorization,
    ) -> Result<OAuthClient, Error> {
        Ok(OAuthClient::builder(credentials)
            .http_client(self.http.clone())
            .with_metadata(&found.issuer, found.server.clone())?)
    }
}
/// SEP-2207: a client that refreshes asks for `offline_access` where the authorization
/// server lists it (and only there), with the refresh_token grant.
fn wants_offline_access(metadata: &ServerMetadata) -> bool {
    metadata.supports_grant("refresh_token")
        && metadata
            .scopes_supported
            .as_ref()
            .is_some_and(|s| s.iter().any(|s| s == OFFLINE_ACCESS))
}

/// The `token_endpoint_auth_method` to register with: a public client where the server
/// allows one (a native app keeps no secret well), else a secret method it supports.
fn registration_auth_method(metadata: &ServerMetadata) -> &'static str {
    ["none", "client_secret_basic", "client_secret_post"]
        .into_iter()
        .find(|m| metadata.supports_auth_method(m))
        .unwrap_or("none")
}

/// The authorization code flow for one client and resource: the browser goes to the
/// authorization server, the loopback listener catches the redirect.
struct Browser {
    client: OAuthClient,
    resource: ResourceIndicator,
    /// The registered redirect URI (with the port the first listener got).
    redirect_uri: RedirectUri,
}

impl Browser {
    /// Tokens for `scope` (PKCE S256, `state`, `resource`), through `listener`.
    async fn authorize(
        &self,
        listener: LoopbackListener,
        scope: &Scope,
    ) -> Result<TokenSet, Error> {
        let mut request = self
            .client
            .authorization_request(listener.redirect_uri().clone())?
            .resource(self.resource.clone());
        if !scope.is_empty() {
            request = request.scope(scope.clone());
        }
        let (url, pending) = self.client.start_authorization(&request).await?;
        if let Err(e) = open_browser(&url) {
            eprintln!("{e}: {url}");
        }
        let code = listener.wait(&pending, &ListenerOptions::default()).await?;
        Ok(self
            .client
            .complete_login_code(&pending, code)
            .await?
            .tokens)
    }
}

/// Step-up (MCP "scope challenge handling"): on `403 insufficient_scope`, a new
/// authorization for the wider scope. `AuthorizedClient` asks at most once per request,
/// and not when the token already has the scope the server names.
struct StepUpInBrowser(Arc<Browser>);

impl StepUp for StepUpInBrowser {
    fn step_up<'a>(
        &'a self,
        _current: Option<&'a TokenSet>,
        scope: &'a Scope,
    ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
        Box::pin(async move {
            tracing::info!(%scope, "the server wants a wider scope; authorizing again");
            let step = async {
                let listener = LoopbackListener::bind(&self.0.redirect_uri).await?;
                self.0.authorize(listener, scope).await
            };
            step.await.map_err(|e| {
                SessionError::LoginRequired(format!("step-up to `{scope}` failed: {e}"))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::{Value, json};

    use super::*;

    fn metadata(extra: Value) -> ServerMetadata {
        let mut doc = json!({
            "issuer": "https://as.example",
            "authorization_endpoint": "https://as.example/authorize",
            "token_endpoint": "https://as.example/token",
            "response_types_supported": ["code"],
        });
        doc.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(doc).unwrap()
    }

    #[test]
    fn offline_access_only_where_listed_with_the_refresh_grant() {
        let listed = json!({
            "scopes_supported": ["mcp:basic", "offline_access"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
        });
        assert!(wants_offline_access(&metadata(listed)));
        let not_listed = json!({
            "scopes_supported": ["mcp:basic", "mcp:read"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
        });
        assert!(!wants_offline_access(&metadata(not_listed)));
        let no_refresh = json!({
            "scopes_supported": ["offline_access"],
            "grant_types_supported": ["authorization_code"],
        });
        assert!(!wants_offline_access(&metadata(no_refresh)));
        assert!(!wants_offline_access(&metadata(json!({}))));
    }

    #[test]
    fn registration_asks_for_a_public_client_when_allowed() {
        let methods = |m: &[&str]| metadata(json!({ "token_endpoint_auth_methods_supported": m }));
        assert_eq!(
            registration_auth_method(&methods(&["client_secret_basic", "none"])),
            "none"
        );
        assert_eq!(
            registration_auth_method(&methods(&["client_secret_post"])),
            "client_secret_post"
        );
        // RFC 8414 §2: no list means client_secret_basic.
        assert_eq!(
            registration_auth_method(&metadata(json!({}))),
            "client_secret_basic"
        );
    }

    #[test]
    fn preregistered_secrets_use_the_method_the_server_supports() {
        let pre = Preregistered::new("app".into(), Some("s3cret".into()), None).unwrap();
        let post_only =
            metadata(json!({ "token_endpoint_auth_methods_supported": ["client_secret_post"] }));
        assert_eq!(
            pre.credentials(&post_only).authentication().method_name(),
            "client_secret_post"
        );
        assert_eq!(
            pre.credentials(&metadata(json!({})))
                .authentication()
                .method_name(),
            "client_secret_basic"
        );
        let public = Preregistered::new("app".into(), None, None).unwrap();
        assert_eq!(
            public
                .credentials(&post_only)
                .authentication()
                .method_name(),
            "none"
        );
    }

    #[test]
    fn a_bad_private_key_is_refused_without_echoing_it() {
        let err = Preregistered::new("app".into(), None, Some("not a key".into()))
            .err()
            .unwrap();
        assert!(!err.to_string().contains("not a key"), "{err}");
    }
}
