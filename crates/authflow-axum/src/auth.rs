//! [`Auth`]: one configured "Sign in with ..." for an axum application.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authflow::client::OAuthClient;
use authflow::protocol::Credentials;
use authflow::session::{AuthorizedClient, RefreshTokenProvider, TokenSource};
use authflow::types::{ClientId, ClientSecret, IssuerUrl, RedirectUri, Scope};
use axum::Router;
use axum::routing::{get, post};
use tower_sessions::cookie::SameSite;
use tower_sessions::session::Id;
use tower_sessions::{Expiry, SessionManagerLayer};
use url::Url;

use crate::error::SetupError;
use crate::store::{SharedStore, TokenBackend};

/// The name of the session cookie (an opaque id; everything else is on the server).
pub const SESSION_COOKIE: &str = "authflow_session";
/// The name of the short-lived cookie that binds a sign-in in progress to its browser.
pub const FLOW_COOKIE: &str = "authflow_login";

/// "Sign in with ..." for an axum application: the routes, the session layer, and the
/// per-login token sources behind the [`SignedIn`](crate::SignedIn) extractor.
///
/// Cheap to clone (an `Arc` inside). Build it once with [`Auth::builder`].
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use authflow::types::{ClientId, ClientSecret, IssuerUrl, RedirectUri};
/// use authflow_axum::{Auth, RequireLoginLayer, SignedIn};
/// use axum::{Router, routing::get};
///
/// let auth = Auth::builder(
///     IssuerUrl::new("http://127.0.0.1:8080")?,
///     ClientId::new("demo-web")?,
///     ClientSecret::new("demo-web-secret")?,
///     RedirectUri::new("http://127.0.0.1:3000/callback")?,
/// )
/// .build()
/// .await?;
/// let app: Router = Router::new()
///     .route("/me", get(|user: SignedIn| async move { user.user().subject.clone() }))
///     .route_layer(RequireLoginLayer::new(&auth))
///     .merge(auth.routes())
///     .with_state(auth.clone())
///     .layer(auth.session_layer());
/// # let _ = app; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Auth {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) client: OAuthClient,
    pub(crate) redirect_uri: RedirectUri,
    pub(crate) origin: Url,
    pub(crate) scope: Scope,
    pub(crate) store: SharedStore,
    pub(crate) tokens: TokenBackend,
    pub(crate) login_path: String,
    pub(crate) logout_path: String,
    pub(crate) after_logout: String,
    pub(crate) flow_ttl: Duration,
    pub(crate) session_ttl: Duration,
    pub(crate) secure: bool,
    /// One token source per login in this process, so that concurrent requests of one
    /// user share a single refresh (a rotated refresh token is used once).
    sources: Mutex<HashMap<Id, (TokenSource, Instant)>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("client_id", self.inner.client.credentials().client_id())
            .field("redirect_uri", &self.inner.redirect_uri)
            .field("scope", &self.inner.scope)
            .finish_non_exhaustive()
    }
}

/// Configures an [`Auth`].
#[must_use]
#[derive(Debug)]
pub struct AuthBuilder {
    issuer: IssuerUrl,
    credentials: Credentials,
    redirect_uri: RedirectUri,
    scope: Option<Scope>,
    client: Option<OAuthClient>,
    store: Option<SharedStore>,
    tokens: TokenBackend,
    login_path: String,
    logout_path: String,
    after_logout: String,
    flow_ttl: Duration,
    session_ttl: Duration,
}

impl AuthBuilder {
    /// The scope to ask for (default `openid profile email offline_access api:read`).
    /// `openid` is added when missing: the signed-in user comes from the ID token.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// A client built elsewhere (own HTTP client, endpoints), instead of discovery.
    pub fn client(mut self, client: OAuthClient) -> Self {
        self.client = Some(client);
        self
    }

    /// Where sessions, sign-ins in progress and (unless `redis`) tokens are kept (default:
    /// memory, one process). Any tower-sessions store works.
    ///
    /// Tokens kept in a session store have no refresh lock shared between processes:
    /// for several instances, use `redis` (feature `redis`).
    pub fn session_store(mut self, store: impl tower_sessions::SessionStore) -> Self {
        self.store = Some(SharedStore::new(store));
        self
    }

    /// Keeps sessions and sign-ins in progress in `store`, and each login's tokens in the
    /// same Redis server with authflow's `RedisStore` (feature `redis`): every instance of
    /// the application that points at the same server and namespace shares the sessions,
    /// and a login's refresh runs once across all of them (a Redis lock with fencing), so
    /// a rotated refresh token is used once and its successor is seen by every instance.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use authflow::types::{ClientId, ClientSecret, IssuerUrl, RedirectUri};
    /// use authflow_axum::{Auth, RedisSessionStore};
    ///
    /// let redis = RedisSessionStore::connect("redis://127.0.0.1:6379/", "my-app").await?;
    /// let auth = Auth::builder(
    ///     IssuerUrl::new("https://login.example")?,
    ///     ClientId::new("my-app")?,
    ///     ClientSecret::new(std::env::var("CLIENT_SECRET")?)?,
    ///     RedirectUri::new("https://app.example/callback")?,
    /// )
    /// .redis(redis)
    /// .build()
    /// .await?;
    /// # let _ = auth; Ok(()) }
    /// ```
    #[cfg(feature = "redis")]
    pub fn redis(mut self, store: crate::redis::RedisSessionStore) -> Self {
        self.store = Some(SharedStore::new(store.clone()));
        self.tokens = TokenBackend::Redis(store);
        self
    }

    /// The path of the sign-in route (default `/login`).
    pub fn login_path(mut self, path: impl Into<String>) -> Self {
        self.login_path = path.into();
        self
    }

    /// The path of the sign-out route (default `/logout`).
    pub fn logout_path(mut self, path: impl Into<String>) -> Self {
        self.logout_path = path.into();
        self
    }

    /// Where to go after signing out (default `/`).
    pub fn after_logout(mut self, path: impl Into<String>) -> Self {
        self.after_logout = path.into();
        self
    }

    /// How long a sign-in may take between `/login` and the callback (default 10 min).
    pub fn flow_ttl(mut self, ttl: Duration) -> Self {
        self.flow_ttl = ttl;
        self
    }

    /// How long a sign-in lasts in this application (default 8 h).
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// Checks the settings and, unless a client was given, discovers the issuer.
    pub async fn build(self) -> Result<Auth, SetupError> {
        let redirect = self.redirect_uri.as_url();
        let secure = match redirect.scheme() {
            "https" => true,
            "http" if authflow::types::is_loopback_url(redirect) => false,
            _ => {
                return Err(SetupError::Config(format!(
                    "the redirect URI {} must use https (plain http only on loopback)",
                    self.redirect_uri
                )));
            }
        };
        let origin = Url::parse(&redirect.origin().ascii_serialization())
            .map_err(|e| SetupError::Config(format!("redirect URI origin: {e}")))?;
        for (what, p) in [
            ("login path", &self.login_path),
            ("logout path", &self.logout_path),
            ("after-logout path", &self.after_logout),
        ] {
            if crate::return_to::same_origin_path(p, &origin).is_none() {
                return Err(SetupError::Config(format!(
                    "the {what} `{p}` must be a path on this site"
                )));
            }
        }
        let mut scope = match self.scope {
            Some(s) => s,
            None => Scope::parse("openid profile email offline_access api:read")
                .map_err(|e| SetupError::Config(e.to_string()))?,
        };
        if !scope.contains("openid") {
            scope = Scope::parse(&format!("openid {scope}"))
                .map_err(|e| SetupError::Config(e.to_string()))?;
        }
        let client = match self.client {
            Some(c) => c,
            None => {
                OAuthClient::builder(self.credentials)
                    .discover(&self.issuer)
                    .await?
            }
        };
        Ok(Auth {
            inner: Arc::new(Inner {
                client,
                redirect_uri: self.redirect_uri,
                origin,
                scope,
                store: self
                    .store
                    .unwrap_or_else(|| SharedStore::new(tower_sessions::MemoryStore::default())),
                tokens: self.tokens,
                login_path: self.login_path,
                logout_path: self.logout_path,
                after_logout: self.after_logout,
                flow_ttl: self.flow_ttl,
                session_ttl: self.session_ttl,
                secure,
                sources: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl Auth {
    /// Starts configuring sign-in for a confidential client (`client_secret_basic`).
    pub fn builder(
        issuer: IssuerUrl,
        client_id: ClientId,
        client_secret: ClientSecret,
        redirect_uri: RedirectUri,
    ) -> AuthBuilder {
        Self::builder_with_credentials(
            issuer,
            Credentials::secret_basic(client_id, client_secret),
            redirect_uri,
        )
    }

    /// Starts configuring sign-in with any client authentication.
    pub fn builder_with_credentials(
        issuer: IssuerUrl,
        credentials: Credentials,
        redirect_uri: RedirectUri,
    ) -> AuthBuilder {
        AuthBuilder {
            issuer,
            credentials,
            redirect_uri,
            scope: None,
            client: None,
            store: None,
            tokens: TokenBackend::Records,
            login_path: "/login".into(),
            logout_path: "/logout".into(),
            after_logout: "/".into(),
            flow_ttl: Duration::from_secs(600),
            session_ttl: Duration::from_secs(8 * 3600),
        }
    }

    /// The OAuth client (for calls of your own).
    pub fn client(&self) -> &OAuthClient {
        &self.inner.client
    }

    /// The sign-in path, e.g. for a "Sign in" link.
    pub fn login_path(&self) -> &str {
        &self.inner.login_path
    }

    /// The sign-out path (a `POST` with the CSRF token, see
    /// [`SignedIn::csrf_token`](crate::SignedIn::csrf_token)).
    pub fn logout_path(&self) -> &str {
        &self.inner.logout_path
    }

    /// `GET` sign-in, `GET` callback (the redirect URI's path) and `POST` sign-out.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route(&self.inner.login_path, get(crate::login::start))
            .route(
                self.inner.redirect_uri.as_url().path(),
                get(crate::callback::finish),
            )
            .route(&self.inner.logout_path, post(crate::logout::end))
            .with_state(self.clone())
    }

    /// The session layer to wrap the whole application in: cookie `authflow_session`,
    /// HttpOnly, SameSite=Lax, Secure when the redirect URI is https, expiring after the
    /// session lifetime; records in the configured store.
    pub fn session_layer(&self) -> SessionManagerLayer<SharedStore> {
        let ttl =
            time::Duration::try_from(self.inner.session_ttl).unwrap_or(time::Duration::hours(8));
        SessionManagerLayer::new(self.inner.store.clone())
            .with_name(SESSION_COOKIE)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(self.inner.secure)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(ttl))
    }

    /// The token source of one login, shared by every request of that login in this
    /// process. `None` when its tokens are gone (expired, revoked, signed out).
    pub(crate) async fn token_source(
        &self,
        login: Id,
    ) -> Result<Option<TokenSource>, authflow::session::StoreError> {
        if let Some(s) = self.cached_source(login) {
            return Ok(Some(s));
        }
        let store = self.login_store(login).await?;
        let Some(tokens) = store.load().await? else {
            return Ok(None);
        };
        let source = TokenSource::builder()
            .initial(tokens)
            .provider(RefreshTokenProvider::new(self.inner.client.clone()))
            .shared_store(store)
            .build();
        let mut map = self.sources();
        let now = Instant::now();
        let (idle, max) = self.inner.tokens.cache_limits(self.inner.session_ttl);
        if map.len() > max {
            map.retain(|_, (_, used)| now.duration_since(*used) < idle);
        }
        let entry = map.entry(login).or_insert((source, now));
        entry.1 = now;
        Ok(Some(entry.0.clone()))
    }

    /// A new handle on one login's token store (memory record or Redis).
    pub(crate) async fn login_store(
        &self,
        login: Id,
    ) -> Result<Arc<dyn authflow::session::TokenStore>, authflow::session::StoreError> {
        self.inner
            .tokens
            .login_store(&self.inner.store, login, self.inner.session_ttl)
            .await
    }

    fn cached_source(&self, login: Id) -> Option<TokenSource> {
        let mut map = self.sources();
        let (source, used) = map.get_mut(&login)?;
        *used = Instant::now();
        Some(source.clone())
    }

    pub(crate) fn forget_source(&self, login: Id) {
        self.sources().remove(&login);
    }

    fn sources(&self) -> std::sync::MutexGuard<'_, HashMap<Id, (TokenSource, Instant)>> {
        self.inner
            .sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An HTTP client that calls APIs with this login's tokens (refresh and retry on
    /// `401 invalid_token` included), on the OAuth client's connection pool.
    pub(crate) fn api_client(&self, source: TokenSource) -> AuthorizedClient {
        AuthorizedClient::with_shared_http(source, self.inner.client.http_client().clone())
    }

    /// `/login?return_to=<path>`.
    pub(crate) fn login_url_for(&self, return_to: &str) -> String {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", return_to)
            .finish();
        format!("{}?{q}", self.inner.login_path)
    }
}
