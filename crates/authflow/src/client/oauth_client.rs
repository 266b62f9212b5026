//! [`OAuthClient`]: one configured client, every grant, one connection pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use url::Url;

use super::error::Error;
use super::http::{HttpClient, display_url};
use crate::protocol::discovery::{self, ServerMetadata};
use crate::protocol::introspection::{self, IntrospectionResponse};
use crate::protocol::revocation::{self, TokenTypeHint};
use crate::protocol::token_response::parse_token_response;
use crate::protocol::{
    AuthorizationRequest, ClientAuthentication, Credentials, Grant, MAX_RESPONSE_BYTES,
    PendingAuthorization, ResponseError, TokenRequest, TokenResponse,
};
use crate::types::{
    AccessToken, AuthorizationCode, EndpointUrl, InvalidValue, IssuerUrl, RedirectUri,
    RefreshToken, ResourceIndicator, Scope, is_loopback_url,
};

/// The endpoints a client talks to. Only `token` is needed for most grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// The authorization endpoint (code flow).
    pub authorization: Option<EndpointUrl>,
    /// The token endpoint.
    pub token: Option<EndpointUrl>,
    /// RFC 7009 revocation.
    pub revocation: Option<EndpointUrl>,
    /// RFC 7662 introspection.
    pub introspection: Option<EndpointUrl>,
    /// OpenID Connect userinfo.
    pub userinfo: Option<EndpointUrl>,
    /// RFC 8628 device authorization.
    pub device_authorization: Option<EndpointUrl>,
    /// The JWKS document.
    pub jwks: Option<EndpointUrl>,
}

impl Endpoints {
    /// Endpoints as the server's metadata announces them.
    pub fn from_metadata(m: &ServerMetadata) -> Self {
        Self {
            authorization: m.authorization_endpoint.clone(),
            token: Some(m.token_endpoint.clone()),
            revocation: m.revocation_endpoint.clone(),
            introspection: m.introspection_endpoint.clone(),
            userinfo: m.userinfo_endpoint.clone(),
            device_authorization: m.device_authorization_endpoint.clone(),
            jwks: m.jwks_uri.clone(),
        }
    }
}

/// A refusal to send anything but `https`, except to loopback hosts.
pub fn ensure_secure_url(url: &Url) -> Result<(), InvalidValue> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_url(url) => Ok(()),
        _ => Err(InvalidValue {
            kind: "URL",
            reason: format!(
                "refusing to send credentials to {}: use https (plain http is allowed only for loopback hosts)",
                Url::parse(url.origin().ascii_serialization().as_str())
                    .map(|u| u.to_string())
                    .unwrap_or_else(|_| url.scheme().to_owned())
            ),
        }),
    }
}

/// An OAuth 2.0 client: credentials, endpoints and one HTTP connection pool.
///
/// Cheap to clone (an `Arc` inside); share one per authorization server.
///
/// ```no_run
/// # async fn run() -> Result<(), authflow::client::Error> {
/// use authflow::client::OAuthClient;
/// use authflow::protocol::Credentials;
/// use authflow::types::{ClientId, ClientSecret, IssuerUrl, Scope};
///
/// let client = OAuthClient::builder(Credentials::secret_basic(
///     ClientId::new("svc")?,
///     ClientSecret::new("secret")?,
/// ))
/// .discover(&IssuerUrl::new("https://as.example")?)
/// .await?;
/// let token = client.client_credentials(Some(Scope::parse("api:read")?)).await?;
/// # let _ = token;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct OAuthClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: Arc<dyn HttpClient>,
    credentials: Credentials,
    endpoints: Endpoints,
    issuer: Option<IssuerUrl>,
    metadata: Option<ServerMetadata>,
    /// Set once a server refused `client_secret_basic` and accepted `client_secret_post`.
    prefer_post: AtomicBool,
    /// The provider's JWKS, once fetched.
    jwks: arc_swap::ArcSwapOption<jsonwebtoken::jwk::JwkSet>,
}

/// Configures an [`OAuthClient`].
#[derive(Debug)]
#[must_use]
pub struct OAuthClientBuilder {
    credentials: Credentials,
    endpoints: Endpoints,
    issuer: Option<IssuerUrl>,
    http: Option<Arc<dyn HttpClient>>,
}

impl OAuthClientBuilder {
    /// The token endpoint.
    pub fn token_endpoint(mut self, url: EndpointUrl) -> Self {
        self.endpoints.token = Some(url);
        self
    }

    /// The authorization endpoint.
    pub fn authorization_endpoint(mut self, url: EndpointUrl) -> Self {
        self.endpoints.authorization = Some(url);
        self
    }

    /// The revocation endpoint (RFC 7009).
    pub fn revocation_endpoint(mut self, url: EndpointUrl) -> Self {
        self.endpoints.revocation = Some(url);
        self
    }

    /// The introspection endpoint (RFC 7662).
    pub fn introspection_endpoint(mut self, url: EndpointUrl) -> Self {
        self.endpoints.introspection = Some(url);
        self
    }

    /// All endpoints at once.
    pub fn endpoints(mut self, endpoints: Endpoints) -> Self {
        self.endpoints = endpoints;
        self
    }

    /// The issuer, for the RFC 9207 `iss` check on callbacks.
    pub fn issuer(mut self, issuer: IssuerUrl) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// The HTTP client to use; by default a new [`ReqwestClient`](super::ReqwestClient).
    pub fn http_client(mut self, http: impl HttpClient) -> Self {
        self.http = Some(Arc::new(http));
        self
    }

    /// Builds the client from the endpoints given.
    pub fn build(self) -> Result<OAuthClient, Error> {
        self.finish(None)
    }

    /// Fetches the issuer's metadata (RFC 8414 first, then OpenID Connect Discovery),
    /// checks that it names this issuer, and builds the client from it. Endpoints set on
    /// the builder win over the metadata's.
    pub async fn discover(mut self, issuer: &IssuerUrl) -> Result<OAuthClient, Error> {
        let http = self.http_or_default()?;
        let metadata = fetch_metadata(http.as_ref(), issuer).await?;
        let found = Endpoints::from_metadata(&metadata);
        let e = &mut self.endpoints;
        e.authorization = e.authorization.take().or(found.authorization);
        e.token = e.token.take().or(found.token);
        e.revocation = e.revocation.take().or(found.revocation);
        e.introspection = e.introspection.take().or(found.introspection);
        e.userinfo = e.userinfo.take().or(found.userinfo);
        e.device_authorization = e.device_authorization.take().or(found.device_authorization);
        e.jwks = e.jwks.take().or(found.jwks);
        self.issuer = Some(issuer.clone());
        // A server that lists only client_secret_post gets it from the start.
        if let ClientAuthentication::SecretBasic(secret) = self.credentials.authentication()
            && !metadata.supports_auth_method("client_secret_basic")
            && metadata.supports_auth_method("client_secret_post")
        {
            self.credentials = self
                .credentials
                .with_authentication(ClientAuthentication::SecretPost(secret.clone()));
        }
        self.http = Some(http);
        self.finish(Some(metadata))
    }

    fn http_or_default(&mut self) -> Result<Arc<dyn HttpClient>, Error> {
        if let Some(h) = &self.http {
            return Ok(h.clone());
        }
        #[cfg(feature = "reqwest")]
        {
            let h: Arc<dyn HttpClient> = Arc::new(super::ReqwestClient::new()?);
            self.http = Some(h.clone());
            Ok(h)
        }
        #[cfg(not(feature = "reqwest"))]
        Err(Error::Config(
            "no HTTP client: enable the `reqwest` feature or call `http_client`".into(),
        ))
    }

    fn finish(mut self, metadata: Option<ServerMetadata>) -> Result<OAuthClient, Error> {
        let http = self.http_or_default()?;
        Ok(OAuthClient {
            inner: Arc::new(Inner {
                http,
                credentials: self.credentials,
                endpoints: self.endpoints,
                issuer: self.issuer,
                metadata,
                prefer_post: AtomicBool::new(false),
                jwks: arc_swap::ArcSwapOption::empty(),
            }),
        })
    }
}

async fn fetch_metadata(
    http: &dyn HttpClient,
    issuer: &IssuerUrl,
) -> Result<ServerMetadata, Error> {
    let urls = [
        discovery::oauth_metadata_url(issuer),
        discovery::openid_configuration_url(issuer),
    ];
    let mut failures = Vec::new();
    for url in urls {
        ensure_secure_url(&url)?;
        let req = discovery::metadata_request(&url)?;
        let resp = http.send(req, MAX_RESPONSE_BYTES).await?;
        tracing::debug!(url = %url, status = resp.status().as_u16(), "discovery");
        match discovery::parse_metadata(&resp, issuer) {
            Ok(m) => return Ok(m),
            // Servers publish one document or the other; some answer 400, 403 or an
            // HTML page where they have none: then the other one is tried.
            Err(
                e @ discovery::DiscoveryError::Response(
                    ResponseError::Status { .. }
                    | ResponseError::ContentType { .. }
                    | ResponseError::Malformed { .. },
                ),
            ) => failures.push(format!("{url}: {e}")),
            // A real document that is wrong (another issuer, an http endpoint) is an
            // attack or a misconfiguration, never a reason to look elsewhere.
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Config(format!(
        "no usable metadata for issuer {}; check the issuer URL ({})",
        issuer.as_issuer_str(),
        failures.join("; ")
    )))
}

impl OAuthClient {
    /// Starts configuring a client with these credentials.
    pub fn builder(credentials: Credentials) -> OAuthClientBuilder {
        OAuthClientBuilder {
            credentials,
            endpoints: Endpoints::default(),
            issuer: None,
            http: None,
        }
    }

    /// The client's credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// The endpoints in use.
    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    /// The issuer, when known.
    pub fn issuer(&self) -> Option<&IssuerUrl> {
        self.inner.issuer.as_ref()
    }

    /// The server metadata, when the client was built by discovery.
    pub fn metadata(&self) -> Option<&ServerMetadata> {
        self.inner.metadata.as_ref()
    }

    pub(crate) fn jwks_cache(&self) -> &arc_swap::ArcSwapOption<jsonwebtoken::jwk::JwkSet> {
        &self.inner.jwks
    }

    /// The HTTP client, for callers that make their own requests on the same pool.
    pub fn http_client(&self) -> &Arc<dyn HttpClient> {
        &self.inner.http
    }

    /// An authorization request pre-filled with this client's endpoint, id and issuer
    /// (`iss` is required on the callback when the metadata announces it).
    pub fn authorization_request(
        &self,
        redirect_uri: RedirectUri,
    ) -> Result<AuthorizationRequest, Error> {
        let endpoint = self.inner.endpoints.authorization.clone().ok_or_else(|| {
            Error::Config(
                "no authorization endpoint: configure one or build the client by discovery".into(),
            )
        })?;
        let mut req = AuthorizationRequest::new(
            endpoint,
            self.inner.credentials.client_id().clone(),
            redirect_uri,
        );
        if let Some(issuer) = &self.inner.issuer {
            let required = self
                .inner
                .metadata
                .as_ref()
                .is_some_and(|m| m.authorization_response_iss_parameter_supported);
            req = req.issuer(issuer.clone(), required);
        }
        Ok(req)
    }

    /// Checks the redirect URL against the pending flow, then exchanges the code.
    pub async fn exchange_callback(
        &self,
        pending: &PendingAuthorization,
        callback: &Url,
    ) -> Result<TokenResponse, Error> {
        let code = pending
            .validate_callback(callback)
            .map_err(Error::Callback)?;
        self.exchange_code(pending, code).await
    }

    /// Exchanges an authorization code (already checked against `pending`) for tokens,
    /// sending the PKCE verifier and the same redirect URI.
    pub async fn exchange_code(
        &self,
        pending: &PendingAuthorization,
        code: AuthorizationCode,
    ) -> Result<TokenResponse, Error> {
        if let (Some(started_at), Some(mine)) = (&pending.issuer, &self.inner.issuer)
            && started_at != mine
        {
            return Err(Error::Config(format!(
                "this login was started at `{}` but is being finished at `{}` (mix-up); start again",
                started_at.as_issuer_str(),
                mine.as_issuer_str()
            )));
        }
        if &pending.client_id != self.inner.credentials.client_id() {
            return Err(Error::Config(format!(
                "this login was started by client `{}` but is being finished by client `{}`",
                pending.client_id,
                self.inner.credentials.client_id()
            )));
        }
        let grant = pending.exchange_grant(code);
        self.request_token(&grant, &pending.resources).await
    }

    /// Refreshes (RFC 6749 §6). A response without `refresh_token` means the old one stays
    /// valid: the caller keeps it.
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        scope: Option<Scope>,
    ) -> Result<TokenResponse, Error> {
        let grant = Grant::RefreshToken {
            refresh_token: refresh_token.clone(),
            scope,
        };
        self.request_token(&grant, &[]).await
    }

    /// The client credentials grant (RFC 6749 §4.4).
    pub async fn client_credentials(&self, scope: Option<Scope>) -> Result<TokenResponse, Error> {
        self.request_token(&Grant::ClientCredentials { scope }, &[])
            .await
    }

    /// Token exchange (RFC 8693): trades `subject_token` (an access token) for a token for
    /// `audience`, e.g. to call a downstream service on the user's behalf.
    pub async fn exchange_token(
        &self,
        subject_token: &AccessToken,
        audience: Option<&str>,
        scope: Option<Scope>,
    ) -> Result<TokenResponse, Error> {
        let grant = Grant::TokenExchange {
            subject_token: subject_token.clone(),
            subject_token_type: crate::protocol::token_request::ACCESS_TOKEN_TYPE.to_owned(),
            requested_token_type: None,
            audience: audience.map(str::to_owned),
            scope,
        };
        self.request_token(&grant, &[]).await
    }

    /// Any grant at the token endpoint. On `invalid_client` with `client_secret_basic`,
    /// retries once with `client_secret_post` (servers decode Basic credentials
    /// differently) and keeps using post when the server accepts it.
    pub async fn request_token(
        &self,
        grant: &Grant,
        resources: &[ResourceIndicator],
    ) -> Result<TokenResponse, Error> {
        let endpoint = self.token_endpoint()?;
        self.with_client_auth(
            |creds| {
                tracing::debug!(endpoint = %endpoint, grant_type = grant.grant_type(), auth = creds.authentication().method_name(), "token request");
                Ok(TokenRequest::new(endpoint, creds, grant)
                    .resources(resources.iter().cloned())
                    .build()?)
            },
            |resp| parse_token_response(resp, SystemTime::now()),
        )
        .await
    }

    /// Builds, sends and parses one authenticated request, falling back from Basic to
    /// post once on `invalid_client`. When post gets past client authentication (whatever
    /// the outcome), post is what this server wants: its answer is reported and post is
    /// used from then on.
    async fn with_client_auth<T>(
        &self,
        build: impl Fn(&Credentials) -> Result<http::Request<Vec<u8>>, Error>,
        parse: impl Fn(&http::Response<Bytes>) -> Result<T, ResponseError>,
    ) -> Result<T, Error> {
        let creds = self.effective_credentials();
        let first = self.exchange(build(&creds)?, &parse).await;
        let ClientAuthentication::SecretBasic(secret) = creds.authentication() else {
            return first;
        };
        match &first {
            Err(e) if e.is_invalid_client() && self.may_fall_back_to_post() => {
                tracing::debug!(
                    "invalid_client with client_secret_basic; retrying with client_secret_post"
                );
                let post =
                    creds.with_authentication(ClientAuthentication::SecretPost(secret.clone()));
                let retry = self.exchange(build(&post)?, &parse).await;
                match &retry {
                    // Neither works: report the method the user configured.
                    Err(e) if e.is_invalid_client() => first,
                    _ => {
                        self.inner.prefer_post.store(true, Ordering::Relaxed);
                        retry
                    }
                }
            }
            _ => first,
        }
    }

    async fn exchange<T>(
        &self,
        req: http::Request<Vec<u8>>,
        parse: &impl Fn(&http::Response<Bytes>) -> Result<T, ResponseError>,
    ) -> Result<T, Error> {
        let label = display_url(req.uri());
        let resp = self.send(req).await?;
        let parsed = parse(&resp);
        tracing::debug!(endpoint = %label, status = resp.status().as_u16(), ok = parsed.is_ok(), "response");
        parsed.map_err(|e| Error::from_response(&label, e))
    }

    fn token_endpoint(&self) -> Result<&EndpointUrl, Error> {
        self.inner.endpoints.token.as_ref().ok_or_else(|| {
            Error::Config(
                "no token endpoint: configure one or build the client by discovery".into(),
            )
        })
    }

    fn effective_credentials(&self) -> Credentials {
        match self.inner.credentials.authentication() {
            ClientAuthentication::SecretBasic(s)
                if self.inner.prefer_post.load(Ordering::Relaxed) =>
            {
                self.inner
                    .credentials
                    .with_authentication(ClientAuthentication::SecretPost(s.clone()))
            }
            _ => self.inner.credentials.clone(),
        }
    }

    fn may_fall_back_to_post(&self) -> bool {
        // Many servers omit the list and still accept post: only an explicit list that
        // leaves post out rules it out.
        self.inner.metadata.as_ref().is_none_or(|m| {
            m.token_endpoint_auth_methods_supported.is_none()
                || m.supports_auth_method("client_secret_post")
        })
    }

    /// Revokes a token (RFC 7009). Unknown tokens count as revoked (the server answers 200).
    pub async fn revoke_token(
        &self,
        token: &str,
        hint: Option<TokenTypeHint>,
    ) -> Result<(), Error> {
        let endpoint = self.inner.endpoints.revocation.as_ref().ok_or_else(|| {
            Error::Config(
                "the server has no revocation endpoint; tokens can only be forgotten locally"
                    .into(),
            )
        })?;
        self.with_client_auth(
            |creds| {
                Ok(revocation::revocation_request(
                    endpoint, creds, token, hint,
                )?)
            },
            revocation::parse_revocation_response,
        )
        .await
    }

    /// Revokes a session's tokens: the refresh token first (which, at most servers, also
    /// ends the access tokens issued from it), then the access token.
    pub async fn revoke(
        &self,
        access_token: Option<&AccessToken>,
        refresh_token: Option<&RefreshToken>,
    ) -> Result<(), Error> {
        // Both are attempted even if the first fails; the first error is reported.
        let refresh = match refresh_token {
            Some(rt) => {
                self.revoke_token(rt.secret(), Some(TokenTypeHint::RefreshToken))
                    .await
            }
            None => Ok(()),
        };
        let access = match access_token {
            Some(at) => {
                self.revoke_token(at.secret(), Some(TokenTypeHint::AccessToken))
                    .await
            }
            None => Ok(()),
        };
        refresh.and(access)
    }

    /// Asks the server about a token (RFC 7662).
    pub async fn introspect(
        &self,
        token: &str,
        hint: Option<TokenTypeHint>,
    ) -> Result<IntrospectionResponse, Error> {
        let endpoint = self
            .inner
            .endpoints
            .introspection
            .as_ref()
            .ok_or_else(|| Error::Config("the server has no introspection endpoint".into()))?;
        self.with_client_auth(
            |creds| {
                Ok(introspection::introspection_request(
                    endpoint, creds, token, hint,
                )?)
            },
            introspection::parse_introspection_response,
        )
        .await
    }

    /// Sends a request on this client's pool after the https check, with the body cap.
    pub async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Bytes>, Error> {
        let url = Url::parse(&request.uri().to_string()).map_err(|e| {
            Error::InvalidValue(InvalidValue {
                kind: "URL",
                reason: e.to_string(),
            })
        })?;
        ensure_secure_url(&url)?;
        Ok(self.inner.http.send(request, MAX_RESPONSE_BYTES).await?)
    }
}
