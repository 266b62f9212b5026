//! [`OAuthClient`]: one configured client, every grant, one connection pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use url::Url;

use super::error::{EndpointKind, Error};
use super::http::{HttpClient, display_url};
use crate::protocol::discovery::ServerMetadata;
use crate::protocol::dpop::{self, DpopProver};
use crate::protocol::error::OAuthErrorCode;
use crate::protocol::introspection::{self, IntrospectionResponse};
use crate::protocol::revocation::{self, TokenTypeHint};
use crate::protocol::token_response::parse_token_response;
use crate::protocol::{
    AuthorizationRequest, ClientAuthentication, Credentials, Grant, MAX_RESPONSE_BYTES,
    PendingAuthorization, ResponseError, TokenRequest, TokenResponse,
};
use crate::protocol::{par, request_object};
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
    /// RFC 9126 pushed authorization requests.
    pub pushed_authorization: Option<EndpointUrl>,
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
            pushed_authorization: m.pushed_authorization_request_endpoint.clone(),
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
    /// The key that binds new grants (DPoP), when set.
    dpop: Option<DpopProver>,
    /// Push every authorization request (RFC 9126), not only when the server requires it.
    par: bool,
    /// Signs request objects (RFC 9101), when set.
    request_signer: Option<Arc<dyn crate::jose::JwsSigner>>,
    /// The authorization server's latest DPoP nonce.
    dpop_nonce: arc_swap::ArcSwapOption<String>,
    /// `aud` of client assertions, when not the issuer.
    assertion_audience: Option<String>,
}

/// Configures an [`OAuthClient`].
#[derive(Debug)]
#[must_use]
pub struct OAuthClientBuilder {
    credentials: Credentials,
    endpoints: Endpoints,
    issuer: Option<IssuerUrl>,
    http: Option<Arc<dyn HttpClient>>,
    dpop: Option<DpopProver>,
    assertion_audience: Option<String>,
    par: bool,
    request_signer: Option<Arc<dyn crate::jose::JwsSigner>>,
}

impl OAuthClientBuilder {
    /// Sends every authorization request through PAR (RFC 9126). Without this, PAR is used
    /// when the server's metadata says `require_pushed_authorization_requests`.
    pub fn pushed_authorization(mut self, on: bool) -> Self {
        self.par = on;
        self
    }

    /// The PAR endpoint, when not discovered.
    pub fn pushed_authorization_endpoint(mut self, url: EndpointUrl) -> Self {
        self.endpoints.pushed_authorization = Some(url);
        self
    }

    /// Signs authorization requests as request objects (JAR, RFC 9101) with `signer`:
    /// by value in the URL, or inside PAR when PAR is used.
    pub fn request_object_signer(mut self, signer: Arc<dyn crate::jose::JwsSigner>) -> Self {
        self.request_signer = Some(signer);
        self
    }

    /// Binds the tokens this client obtains to `key` (DPoP, RFC 9449): every token request
    /// carries a proof, the authorization request carries `dpop_jkt`, and the server's
    /// nonce is followed. Generate the key with
    /// [`SigningKey::generate`](crate::jose::SigningKey::generate) and keep it with the
    /// tokens (a [`TokenSet`](crate::session::TokenSet) does).
    pub fn dpop(mut self, key: crate::jose::SigningKey) -> Self {
        self.dpop = Some(DpopProver::new(key));
        self
    }

    /// The `aud` of `private_key_jwt` and `client_secret_jwt` assertions. By default the
    /// issuer (RFC 7523 and FAPI 2.0 name it), or the token endpoint when no issuer is
    /// known; some servers want the token endpoint URL.
    pub fn assertion_audience(mut self, audience: impl Into<String>) -> Self {
        self.assertion_audience = Some(audience.into());
        self
    }

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
        self.http = Some(http);
        self.with_metadata(issuer, metadata)
    }

    /// Builds the client from metadata fetched already (say, by
    /// [`discover_for_resource`](super::discover_for_resource)), as
    /// [`discover`](Self::discover) would from what it fetches. The document must name
    /// `issuer`.
    pub fn with_metadata(
        mut self,
        issuer: &IssuerUrl,
        metadata: ServerMetadata,
    ) -> Result<OAuthClient, Error> {
        if !issuer.matches(&metadata.issuer) {
            return Err(Error::Discovery(
                crate::protocol::DiscoveryError::IssuerMismatch {
                    expected: issuer.as_issuer_str().to_owned(),
                    found: metadata.issuer.chars().take(200).collect(),
                },
            ));
        }
        let found = Endpoints::from_metadata(&metadata);
        let e = &mut self.endpoints;
        e.authorization = e.authorization.take().or(found.authorization);
        e.token = e.token.take().or(found.token);
        e.revocation = e.revocation.take().or(found.revocation);
        e.introspection = e.introspection.take().or(found.introspection);
        e.userinfo = e.userinfo.take().or(found.userinfo);
        e.device_authorization = e.device_authorization.take().or(found.device_authorization);
        e.jwks = e.jwks.take().or(found.jwks);
        e.pushed_authorization = e.pushed_authorization.take().or(found.pushed_authorization);
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
        Err(Error::NoHttpClient)
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
                dpop: self.dpop,
                par: self.par,
                request_signer: self.request_signer,
                dpop_nonce: arc_swap::ArcSwapOption::empty(),
                assertion_audience: self.assertion_audience,
            }),
        })
    }
}

async fn fetch_metadata(
    http: &dyn HttpClient,
    issuer: &IssuerUrl,
) -> Result<ServerMetadata, Error> {
    use super::resource_discovery::{MetadataFailure, fetch_server_metadata};
    fetch_server_metadata(http, issuer)
        .await
        .map_err(|f| match f {
            MetadataFailure::Http(e) => Error::Http(e),
            MetadataFailure::Build(e) => Error::Build(e),
            MetadataFailure::InvalidUrl(e) => Error::InvalidValue(e),
            MetadataFailure::Wrong { source, .. } => Error::Discovery(source),
            MetadataFailure::NotFound { issuer, tried } => Error::NoMetadata { issuer, tried },
        })
}

impl OAuthClient {
    /// Starts configuring a client with these credentials.
    pub fn builder(credentials: Credentials) -> OAuthClientBuilder {
        OAuthClientBuilder {
            credentials,
            endpoints: Endpoints::default(),
            issuer: None,
            http: None,
            dpop: None,
            assertion_audience: None,
            par: false,
            request_signer: None,
        }
    }

    /// The DPoP prover that binds new grants, when configured.
    pub fn dpop(&self) -> Option<&DpopProver> {
        self.inner.dpop.as_ref()
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
        let endpoint = self
            .inner
            .endpoints
            .authorization
            .clone()
            .ok_or(Error::MissingEndpoint(EndpointKind::Authorization))?;
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
        if let Some(p) = &self.inner.dpop {
            // Binds the code to the key (RFC 9449 §10): a stolen code is useless elsewhere.
            req = req.param("dpop_jkt", p.thumbprint());
        }
        Ok(req)
    }

    /// Where to send the browser for `request`, as this server and client want it: the
    /// parameters pushed first (RFC 9126) when the server requires PAR or the client was
    /// built with [`pushed_authorization`](OAuthClientBuilder::pushed_authorization); signed
    /// as a request object (RFC 9101) when a signer is set; a plain URL otherwise.
    pub async fn start_authorization(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<(Url, PendingAuthorization), Error> {
        let requires = self
            .inner
            .metadata
            .as_ref()
            .is_some_and(ServerMetadata::requires_pushed_authorization);
        let par_endpoint = self.inner.endpoints.pushed_authorization.as_ref();
        let use_par = self.inner.par || requires;
        if use_par && par_endpoint.is_none() {
            return Err(Error::MissingEndpoint(EndpointKind::PushedAuthorization));
        }
        let mut rng = crate::random::ThreadRandom;
        let signer = self.inner.request_signer.as_deref();
        if !use_par && signer.is_none() {
            return Ok(request.build(&mut rng)?);
        }
        let (params, pending) = request.build_parameters(&mut rng)?;
        let client_id = request.client_id();
        let params = match signer {
            Some(signer) => {
                // RFC 9101 §4: a request object's `aud` is the issuer, whatever client
                // assertions use.
                let audience = match &self.inner.issuer {
                    Some(issuer) => issuer.as_issuer_str().to_owned(),
                    None => self.audience()?,
                };
                let jwt = request_object::sign_request_object(
                    signer,
                    &params,
                    client_id,
                    &audience,
                    SystemTime::now(),
                    &mut rng,
                )
                .await
                .map_err(|source| Error::Sign {
                    what: "request object",
                    source,
                })?;
                if !use_par {
                    let url = request_object::authorization_url_with_request(
                        request.endpoint(),
                        client_id,
                        &jwt,
                    );
                    return Ok((url, pending));
                }
                request_object::pushed_parameters(client_id, jwt)
            }
            None => params,
        };
        let Some(endpoint) = par_endpoint else {
            return Err(Error::MissingEndpoint(EndpointKind::PushedAuthorization));
        };
        let pushed = self
            .with_client_auth(
                |creds| Ok(par::par_request(endpoint, creds, &params)?),
                par::parse_par_response,
                None,
            )
            .await?;
        let url = par::authorization_url(request.endpoint(), client_id, &pushed.request_uri);
        Ok((url, pending))
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
        // RFC 9700 §4.4: a login started at an issuer finishes only at that issuer, and
        // fails closed when this client cannot say which issuer it is.
        if let Some(started_at) = &pending.issuer
            && self.inner.issuer.as_ref() != Some(started_at)
        {
            return Err(Error::MixUp {
                started_at: started_at.as_issuer_str().to_owned(),
                finishing_at: self.inner.issuer.as_ref().map_or_else(
                    || "(no issuer configured)".to_owned(),
                    |i| i.as_issuer_str().to_owned(),
                ),
            });
        }
        if &pending.client_id != self.inner.credentials.client_id() {
            return Err(Error::ClientMismatch {
                started_by: pending.client_id.to_string(),
                finishing_by: self.inner.credentials.client_id().to_string(),
            });
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
        self.refresh_bound(refresh_token, scope, self.inner.dpop.as_ref())
            .await
    }

    /// Refreshes with the DPoP key the tokens are bound to (a refresh token issued to a
    /// public client with DPoP is usable only with a proof by the same key).
    pub async fn refresh_bound(
        &self,
        refresh_token: &RefreshToken,
        scope: Option<Scope>,
        dpop: Option<&DpopProver>,
    ) -> Result<TokenResponse, Error> {
        let grant = Grant::RefreshToken {
            refresh_token: refresh_token.clone(),
            scope,
        };
        self.request_token_with(&grant, &[], dpop).await
    }

    /// The client credentials grant (RFC 6749 §4.4).
    pub async fn client_credentials(&self, scope: Option<Scope>) -> Result<TokenResponse, Error> {
        self.request_token(&Grant::ClientCredentials { scope }, &[])
            .await
    }

    /// The JWT-bearer grant (RFC 7523 §2.1): trades a JWT that the server trusts (signed
    /// by an issuer it knows, naming the user in `sub`) for tokens.
    pub async fn jwt_bearer(
        &self,
        assertion: crate::types::Assertion,
        scope: Option<Scope>,
    ) -> Result<TokenResponse, Error> {
        self.request_token(&Grant::JwtBearer { assertion, scope }, &[])
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
        self.request_token_with(grant, resources, self.inner.dpop.as_ref())
            .await
    }

    /// [`request_token`](Self::request_token) with an explicit DPoP prover (or none).
    pub async fn request_token_with(
        &self,
        grant: &Grant,
        resources: &[ResourceIndicator],
        dpop: Option<&DpopProver>,
    ) -> Result<TokenResponse, Error> {
        let endpoint = self.token_endpoint()?;
        self.with_client_auth(
            |creds| {
                tracing::debug!(endpoint = %endpoint, grant_type = grant.grant_type(), auth = creds.authentication().method_name(), dpop = dpop.is_some(), "token request");
                Ok(TokenRequest::new(endpoint, creds, grant)
                    .resources(resources.iter().cloned())
                    .build()?)
            },
            |resp| parse_token_response(resp, SystemTime::now()),
            dpop,
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
        dpop: Option<&DpopProver>,
    ) -> Result<T, Error> {
        let creds = self.effective_credentials();
        let first = self.attempt(&creds, &build, &parse, dpop).await;
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
                let retry = self.attempt(&post, &build, &parse, dpop).await;
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

    /// One request: a fresh client assertion for the JWT methods, a DPoP proof when
    /// `dpop` is given, and one retry when the server asks for a DPoP nonce.
    async fn attempt<T>(
        &self,
        creds: &Credentials,
        build: &impl Fn(&Credentials) -> Result<http::Request<Vec<u8>>, Error>,
        parse: &impl Fn(&http::Response<Bytes>) -> Result<T, ResponseError>,
        dpop: Option<&DpopProver>,
    ) -> Result<T, Error> {
        let mut nonce_retry = dpop.is_some();
        loop {
            let signed = self.signed_credentials(creds).await?;
            let mut req = build(&signed)?;
            if let Some(prover) = dpop {
                self.add_proof(&mut req, prover)?;
            }
            let label = display_url(req.uri());
            let resp = self.send(req).await?;
            if let Some(nonce) = dpop::nonce_from(resp.headers()) {
                self.inner.dpop_nonce.store(Some(Arc::new(nonce)));
            }
            let parsed = parse(&resp);
            tracing::debug!(endpoint = %label, status = resp.status().as_u16(), ok = parsed.is_ok(), "response");
            match parsed {
                // RFC 9449 §8: the server wants (another) nonce; it sent it with the error.
                Err(ResponseError::OAuth(e))
                    if nonce_retry
                        && e.code() == OAuthErrorCode::UseDpopNonce
                        && dpop::nonce_from(resp.headers()).is_some() =>
                {
                    tracing::debug!("use_dpop_nonce: retrying with the server's nonce");
                    nonce_retry = false;
                }
                other => return other.map_err(|e| Error::from_response(&label, e)),
            }
        }
    }

    /// The `aud` of what this client signs for the server: the configured audience, else
    /// the issuer, else the token endpoint.
    fn audience(&self) -> Result<String, Error> {
        Ok(match (&self.inner.assertion_audience, &self.inner.issuer) {
            (Some(a), _) => a.clone(),
            (None, Some(issuer)) => issuer.as_issuer_str().to_owned(),
            (None, None) => self.token_endpoint()?.as_str().to_owned(),
        })
    }

    /// The credentials for one request: JWT methods get a freshly signed assertion.
    pub(crate) async fn signed_credentials(
        &self,
        creds: &Credentials,
    ) -> Result<Credentials, Error> {
        if !creds.authentication().needs_assertion() {
            return Ok(creds.clone());
        }
        let audience = self.audience()?;
        let mut rng = crate::random::ThreadRandom;
        creds
            .with_fresh_assertion(&audience, SystemTime::now(), &mut rng)
            .await
            .map_err(|source| Error::Sign {
                what: "client assertion",
                source,
            })
    }

    /// Adds a DPoP proof for `req` with the server's latest nonce.
    fn add_proof(
        &self,
        req: &mut http::Request<Vec<u8>>,
        prover: &DpopProver,
    ) -> Result<(), Error> {
        let url = Url::parse(&req.uri().to_string()).map_err(|e| {
            Error::InvalidValue(InvalidValue {
                kind: "URL",
                reason: e.to_string(),
            })
        })?;
        let nonce = self.inner.dpop_nonce.load();
        let proof = prover
            .proof(
                req.method().as_str(),
                &url,
                None,
                nonce.as_deref().map(String::as_str),
                SystemTime::now(),
                &mut crate::random::ThreadRandom,
            )
            .map_err(|source| Error::Sign {
                what: "DPoP proof",
                source,
            })?;
        let mut proof = proof;
        proof.set_sensitive(true);
        req.headers_mut().insert(dpop::DPOP_HEADER, proof);
        Ok(())
    }

    fn token_endpoint(&self) -> Result<&EndpointUrl, Error> {
        self.inner
            .endpoints
            .token
            .as_ref()
            .ok_or(Error::MissingEndpoint(EndpointKind::Token))
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
        let endpoint = self
            .inner
            .endpoints
            .revocation
            .as_ref()
            .ok_or(Error::MissingEndpoint(EndpointKind::Revocation))?;
        self.with_client_auth(
            |creds| {
                Ok(revocation::revocation_request(
                    endpoint, creds, token, hint,
                )?)
            },
            revocation::parse_revocation_response,
            None,
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
            .ok_or(Error::MissingEndpoint(EndpointKind::Introspection))?;
        self.with_client_auth(
            |creds| {
                Ok(introspection::introspection_request(
                    endpoint, creds, token, hint,
                )?)
            },
            introspection::parse_introspection_response,
            None,
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
