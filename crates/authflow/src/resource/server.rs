//! [`ResourceServer`]: the validator behind [`Bearer`](super::Bearer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use http::{HeaderMap, HeaderValue, Method, Uri};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value};
use sha2::Digest as _;

use super::dpop::DpopConfig;
use super::rejection::{ChallengeSpec, Refusal, Rejection, Scheme};
use crate::client::{Error as ClientError, HttpClient, OAuthClient};
use crate::protocol::access_token::{
    AccessTokenError, AccessTokenExpectations, validate_access_token,
};
use crate::protocol::introspection::Confirmation;
use crate::protocol::www_authenticate::Challenge;
use crate::protocol::{Credentials, MAX_RESPONSE_BYTES, TokenTypeHint};
use crate::types::{ClientId, EndpointUrl, IssuerUrl, Scope};

/// Validation results (JWT or introspection) are reused this long at most by default (and
/// never past the token's `exp`).
const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);
/// Cached validation results kept at most; when full, the expired go, and all go if that
/// frees less than a tenth.
const CACHE_CAP: usize = 10_000;

/// Who and what a valid token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Principal {
    /// `sub`: the user, or the client for client credentials.
    pub subject: Option<String>,
    /// The client the token was issued to.
    pub client_id: Option<String>,
    /// The token's scope.
    pub scope: Scope,
    /// Every claim (JWT) or introspection field.
    pub claims: Map<String, Value>,
    /// `cnf.jkt`: the thumbprint of the key the token is bound to (RFC 9449 §6). A bound
    /// token is only accepted with a DPoP proof made with that key, never as a bearer
    /// token.
    pub jkt: Option<String>,
}

impl Principal {
    /// `Ok` when the token carries `scope` (every token of it); otherwise the
    /// `insufficient_scope` rejection naming it.
    pub fn require(&self, scope: &str) -> Result<(), Rejection> {
        let needed = Scope::parse(scope).map_err(|e| Rejection::InvalidRequest(e.to_string()))?;
        if needed.is_subset_of(&self.scope) {
            Ok(())
        } else {
            Err(Rejection::InsufficientScope(needed))
        }
    }

    /// Whether the token is DPoP-bound (and so was presented with a proof of its key).
    pub fn is_dpop_bound(&self) -> bool {
        self.jkt.is_some()
    }

    /// The scheme a token like this one is presented with: `DPoP` when it is bound.
    pub fn scheme(&self) -> Scheme {
        if self.is_dpop_bound() {
            Scheme::Dpop
        } else {
            Scheme::Bearer
        }
    }
}

/// The key binding of a token's `cnf` (JWT claim or introspection field): its `jkt`.
/// A binding this server cannot check (a certificate, RFC 8705 `x5t#S256`, or a method
/// it does not know) makes the token unusable here, never a plain bearer token.
fn bound_key(cnf: Option<&Value>) -> Result<Option<String>, Rejection> {
    match cnf {
        None => Ok(None),
        Some(v) => {
            let c = Confirmation::from_json(v)
                .map_err(|reason| Rejection::InvalidToken(format!("the token's `cnf` {reason}")))?;
            let unknown = v.as_object().is_some_and(|o| o.keys().any(|k| k != "jkt"));
            if unknown {
                return Err(uncheckable());
            }
            checkable(&c)
        }
    }
}

/// The `jkt` of a confirmation, refusing one bound to something else too.
fn checkable(c: &Confirmation) -> Result<Option<String>, Rejection> {
    if c.x5t_s256.is_some() {
        return Err(uncheckable());
    }
    Ok(c.jkt.clone())
}

fn uncheckable() -> Rejection {
    Rejection::InvalidToken(
        "the token is bound (`cnf`) to a key or certificate this resource cannot check".into(),
    )
}

/// How the request presented its token.
enum Presented<'h> {
    Bearer(&'h str),
    Dpop(&'h str),
    Other,
}

/// Reads the one `Authorization` header (RFC 6750 §2.1, RFC 9449 §7.1; the query-string
/// form is never accepted).
fn presented(headers: &HeaderMap) -> Result<Presented<'_>, Rejection> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Rejection::Missing);
    };
    if values.next().is_some() {
        return Err(Rejection::InvalidRequest(
            "more than one Authorization header".into(),
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| Rejection::InvalidRequest("the Authorization header is not text".into()))?;
    let value = value.trim();
    let (scheme, token) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    let dpop = scheme.eq_ignore_ascii_case("dpop");
    if !dpop && !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme means no credentials of ours (RFC 6750 §3.1).
        return Ok(Presented::Other);
    }
    let token = token.trim();
    if token.is_empty() || token.contains([' ', '\t']) {
        return Err(Rejection::InvalidRequest("malformed access token".into()));
    }
    Ok(if dpop {
        Presented::Dpop(token)
    } else {
        Presented::Bearer(token)
    })
}

/// Validates bearer tokens for one resource. Cheap to clone.
#[derive(Clone)]
pub struct ResourceServer {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: IssuerUrl,
    audiences: Vec<String>,
    algorithms: Vec<String>,
    require_at_jwt: bool,
    realm: String,
    leeway: Duration,
    resource_metadata: Option<String>,
    jwks_uri: Option<EndpointUrl>,
    jwks: ArcSwapOption<JwkSet>,
    introspection: Option<OAuthClient>,
    http: Option<Arc<dyn HttpClient>>,
    cache: PrincipalCache,
    dpop: Option<DpopConfig>,
}

/// Tokens already validated, by SHA-256 of the token: a client sends the same token with
/// every call, and a signature check (or an introspection round trip) per call is most of
/// what validating costs.
struct PrincipalCache {
    ttl: Duration,
    map: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
}

impl PrincipalCache {
    fn key(token: &str) -> [u8; 32] {
        sha2::Sha256::digest(token.as_bytes()).into()
    }

    fn get(&self, key: &[u8; 32]) -> Option<Principal> {
        if self.ttl.is_zero() {
            return None;
        }
        let map = self.map.lock().ok()?;
        let (p, until) = map.get(key)?;
        (*until > Instant::now()).then(|| p.clone())
    }

    /// Keeps `p` for the cache's lifetime, or until `exp` if that comes first.
    fn put(&self, key: [u8; 32], p: &Principal, exp: Option<SystemTime>) {
        let ttl = exp
            .map(|exp| exp.duration_since(SystemTime::now()).unwrap_or_default())
            .map_or(self.ttl, |left| left.min(self.ttl));
        if ttl.is_zero() {
            return;
        }
        if let Ok(mut map) = self.map.lock() {
            let now = Instant::now();
            if map.len() >= CACHE_CAP {
                map.retain(|_, (_, until)| *until > now);
                // Leave room for a tenth of the cap at least, so the scan above runs once
                // per thousand new tokens at most, not on every one.
                if map.len() >= CACHE_CAP / 10 * 9 {
                    map.clear();
                }
            }
            // A TTL too large for the clock (`Duration::MAX` for "forever") is not cached.
            if let Some(until) = now.checked_add(ttl) {
                map.insert(key, (p.clone(), until));
            }
        }
    }
}

impl std::fmt::Debug for ResourceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceServer")
            .field("issuer", &self.inner.issuer)
            .field("audiences", &self.inner.audiences)
            .finish_non_exhaustive()
    }
}

/// Configures a [`ResourceServer`].
#[must_use]
pub struct ResourceServerBuilder {
    issuer: IssuerUrl,
    audiences: Vec<String>,
    algorithms: Vec<String>,
    require_at_jwt: bool,
    realm: String,
    leeway: Duration,
    resource_metadata: Option<String>,
    jwks_uri: Option<EndpointUrl>,
    jwks: Option<JwkSet>,
    introspection: Option<OAuthClient>,
    http: Option<Arc<dyn HttpClient>>,
    cache_ttl: Duration,
    dpop: Option<DpopConfig>,
}

impl ResourceServerBuilder {
    /// Another identifier this resource answers to (`aud` may name any of them).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// A fixed key set (no fetching): for tests and for keys distributed out of band.
    pub fn jwks(mut self, jwks: JwkSet) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// Where to fetch the issuer's keys (cached; refetched once on an unknown `kid`).
    pub fn jwks_uri(mut self, uri: EndpointUrl) -> Self {
        self.jwks_uri = Some(uri);
        self
    }

    /// Opaque tokens are checked by introspection through this client (its credentials
    /// authenticate the resource server at the introspection endpoint).
    pub fn introspection(mut self, client: OAuthClient) -> Self {
        self.introspection = Some(client);
        self
    }

    /// Algorithms the issuer signs with (default: those its JWKS keys declare).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.algorithms = algorithms.into_iter().map(Into::into).collect();
        self
    }

    /// Clock skew tolerated on `exp` and `nbf` (default 30 s; zero for no grace).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Accept JWT access tokens without `typ: at+jwt` (some providers omit it).
    pub fn allow_untyped_jwt(mut self) -> Self {
        self.require_at_jwt = false;
        self
    }

    /// How long a validated token's result is reused (default 30 s, never past the token's
    /// `exp`; zero turns the cache off). For JWTs this skips the signature check on repeated
    /// calls, so a key removed from the issuer's set is honoured this much later; for opaque
    /// tokens it bounds how late a revocation is seen.
    pub fn validation_cache(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// The `realm` in challenges (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// The RFC 9728 metadata URL announced in challenges.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// Accept DPoP-bound tokens with proofs (RFC 9449), as `config` says. Use
    /// [`ResourceServer::authenticate_request`] (or the [`Bearer`](super::Bearer)
    /// extractor), which sees the request's method and path.
    pub fn dpop(mut self, config: DpopConfig) -> Self {
        self.dpop = Some(config);
        self
    }

    /// The HTTP client for JWKS fetches (default: reqwest with rustls).
    pub fn http_client(mut self, http: impl HttpClient) -> Self {
        self.http = Some(Arc::new(http));
        self
    }

    /// Builds the validator from what was configured.
    pub fn build(self) -> ResourceServer {
        ResourceServer {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                audiences: self.audiences,
                algorithms: self.algorithms,
                require_at_jwt: self.require_at_jwt,
                realm: self.realm,
                leeway: self.leeway,
                resource_metadata: self.resource_metadata,
                jwks_uri: self.jwks_uri,
                jwks: ArcSwapOption::new(self.jwks.map(Arc::new)),
                introspection: self.introspection,
                http: self.http,
                cache: PrincipalCache {
                    ttl: self.cache_ttl,
                    map: Mutex::new(HashMap::new()),
                },
                dpop: self.dpop,
            }),
        }
    }

    /// Reads the issuer's metadata for `jwks_uri` (and the ID/access token algorithms it
    /// names), then builds.
    pub async fn discover(mut self) -> Result<ResourceServer, ClientError> {
        let mut builder =
            OAuthClient::builder(Credentials::public(ClientId::new("resource-server")?));
        if let Some(h) = &self.http {
            builder = builder.http_client(h.clone());
        }
        let client = builder.discover(&self.issuer).await?;
        if self.jwks_uri.is_none() {
            self.jwks_uri = client.endpoints().jwks.clone();
        }
        if self.http.is_none() {
            self.http = Some(client.http_client().clone());
        }
        Ok(self.build())
    }
}

impl ResourceServer {
    /// Starts configuring a validator for tokens from `issuer` meant for `audience`.
    pub fn builder(issuer: IssuerUrl, audience: impl Into<String>) -> ResourceServerBuilder {
        ResourceServerBuilder {
            issuer,
            audiences: vec![audience.into()],
            algorithms: Vec::new(),
            require_at_jwt: true,
            realm: "api".into(),
            leeway: Duration::from_secs(30),
            resource_metadata: None,
            jwks_uri: None,
            jwks: None,
            introspection: None,
            http: None,
            cache_ttl: DEFAULT_CACHE_TTL,
            dpop: None,
        }
    }

    /// The challenge realm.
    pub fn realm(&self) -> &str {
        &self.inner.realm
    }

    /// The RFC 9728 metadata URL, if configured.
    pub fn resource_metadata(&self) -> Option<&str> {
        self.inner.resource_metadata.as_deref()
    }

    /// Reads the bearer token from `Authorization` (RFC 6750 §2.1; the query-string form
    /// is never accepted) and validates it. A DPoP-bound token is refused here (RFC 9449
    /// §7.2), and so is the `DPoP` scheme, which needs the request's method and URL: use
    /// [`authenticate_request`](Self::authenticate_request) for it.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, Rejection> {
        match presented(headers)? {
            Presented::Bearer(token) if self.accepts_bearer() => self.validate_bearer(token).await,
            _ => Err(Rejection::Missing),
        }
    }

    /// Authenticates a request by its `Authorization` header: a bearer token, or, when
    /// the server accepts DPoP ([`ResourceServerBuilder::dpop`]), a DPoP-bound token with
    /// its proof for this `method` and `uri` (only the path of `uri` is used; the origin
    /// is the configured public URL). The error renders with every challenge the server
    /// has, the error on the scheme the request used.
    pub async fn authenticate_request(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Principal, Refusal> {
        match presented(headers).map_err(|r| self.refuse(r, None))? {
            Presented::Bearer(token) if self.accepts_bearer() => self
                .validate_bearer(token)
                .await
                .map_err(|r| self.refuse(r, Some(Scheme::Bearer))),
            Presented::Dpop(token) => match &self.inner.dpop {
                Some(dpop) => self
                    .authenticate_dpop(dpop, method, uri, headers, token)
                    .await
                    .map_err(|r| self.refuse(r, Some(Scheme::Dpop))),
                None => Err(self.refuse(Rejection::Missing, None)),
            },
            _ => Err(self.refuse(Rejection::Missing, None)),
        }
    }

    /// A bearer token: valid, and not bound to a key.
    async fn validate_bearer(&self, token: &str) -> Result<Principal, Rejection> {
        let p = self.validate(token).await?;
        if p.jkt.is_some() {
            return Err(Rejection::InvalidToken(
                "the access token is DPoP-bound; present it with the DPoP scheme and a proof"
                    .into(),
            ));
        }
        Ok(p)
    }

    fn accepts_bearer(&self) -> bool {
        self.inner
            .dpop
            .as_ref()
            .is_none_or(DpopConfig::accepts_bearer)
    }

    /// `rejection` as this server's refusal of a request that used `scheme`: to render a
    /// handler's own rejection (`insufficient_scope`) with the right challenges, e.g.
    /// `server.refuse(r, Some(principal.scheme()))`.
    pub fn refuse(&self, rejection: Rejection, scheme: Option<Scheme>) -> Refusal {
        Refusal::new(rejection, scheme, self.clone())
    }

    /// The challenges this server answers `rejection` with, `Bearer` first: for servers
    /// that render their own responses.
    pub fn challenges(&self, rejection: &Rejection, scheme: Option<Scheme>) -> Vec<Challenge> {
        self.with_challenge_spec(|spec| rejection.challenges(spec, scheme))
    }

    pub(crate) fn with_challenge_spec<T>(&self, f: impl FnOnce(&ChallengeSpec<'_>) -> T) -> T {
        f(&ChallengeSpec {
            realm: &self.inner.realm,
            resource_metadata: self.inner.resource_metadata.as_deref(),
            bearer: self.accepts_bearer(),
            dpop_algs: self.inner.dpop.as_ref().map(DpopConfig::algs),
        })
    }

    /// A fresh `DPoP-Nonce` value when the server requires nonces: refusals carry one,
    /// and handlers may add one to any response (RFC 9449 §8.2).
    pub fn fresh_dpop_nonce(&self) -> Option<HeaderValue> {
        let nonces = self.inner.dpop.as_ref()?.nonce_source()?;
        HeaderValue::try_from(nonces.current(SystemTime::now())).ok()
    }

    /// Validates a token: offline when it is a JWT, else by introspection. This says
    /// nothing of how it was presented: a bound token's [`Principal::jkt`] still needs a
    /// proof, which [`authenticate_request`](Self::authenticate_request) checks.
    pub async fn validate(&self, token: &str) -> Result<Principal, Rejection> {
        if token.split('.').count() == 3 {
            return self.validate_jwt(token).await;
        }
        match &self.inner.introspection {
            Some(client) => self.introspect(client, token).await,
            None => Err(Rejection::InvalidToken(
                "the token is not a JWT this server can check".into(),
            )),
        }
    }

    async fn validate_jwt(&self, token: &str) -> Result<Principal, Rejection> {
        let key = PrincipalCache::key(token);
        if let Some(p) = self.inner.cache.get(&key) {
            return Ok(p);
        }
        let check = |set: &JwkSet| {
            let mut e = AccessTokenExpectations::new(
                &self.inner.issuer,
                &self.inner.audiences,
                SystemTime::now(),
            );
            e.algorithms = &self.inner.algorithms;
            e.require_at_jwt = self.inner.require_at_jwt;
            e.leeway = self.inner.leeway;
            validate_access_token(token, set, &e)
        };
        let keys = match self.inner.jwks.load_full() {
            Some(k) => k,
            None => self.fetch_jwks().await?,
        };
        let result = match check(&keys) {
            Err(AccessTokenError::UnknownKey(_)) if self.inner.jwks_uri.is_some() => {
                let fresh = self.fetch_jwks().await?;
                check(&fresh)
            }
            other => other,
        };
        let c = result.map_err(|e| Rejection::InvalidToken(e.to_string()))?;
        let p = Principal {
            jkt: bound_key(c.all.get("cnf"))?,
            subject: c.sub,
            client_id: c.client_id,
            scope: c.scope,
            claims: c.all,
        };
        self.inner.cache.put(key, &p, Some(c.exp));
        Ok(p)
    }

    async fn fetch_jwks(&self) -> Result<Arc<JwkSet>, Rejection> {
        let (Some(uri), Some(http)) = (&self.inner.jwks_uri, &self.inner.http) else {
            return Err(Rejection::Unavailable("no keys configured".into()));
        };
        let req = crate::protocol::form_get_json(uri.as_url())
            .map_err(|e| Rejection::Unavailable(e.to_string()))?;
        let resp = http
            .send(req, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| Rejection::Unavailable(e.to_string()))?;
        let fields =
            crate::protocol::body_json(&resp).map_err(|e| Rejection::Unavailable(e.to_string()))?;
        let set: JwkSet = serde_json::from_value(Value::Object(fields))
            .map_err(|_| Rejection::Unavailable("the issuer's JWKS is not a key set".into()))?;
        let set = Arc::new(set);
        self.inner.jwks.store(Some(set.clone()));
        Ok(set)
    }

    async fn introspect(&self, client: &OAuthClient, token: &str) -> Result<Principal, Rejection> {
        let key = PrincipalCache::key(token);
        if let Some(p) = self.inner.cache.get(&key) {
            return Ok(p);
        }
        let r = client
            .introspect(token, Some(TokenTypeHint::AccessToken))
            .await
            .map_err(|e| Rejection::Unavailable(e.to_string()))?;
        if !r.is_active_at(SystemTime::now()) {
            return Err(Rejection::InvalidToken("the token is not active".into()));
        }
        if !r.aud.is_empty() && !r.aud.iter().any(|a| self.inner.audiences.contains(a)) {
            return Err(Rejection::InvalidToken(
                "the token is for another resource".into(),
            ));
        }
        let p = Principal {
            subject: r.sub.clone(),
            client_id: r.client_id.clone(),
            scope: r.scope.clone().unwrap_or_default(),
            claims: r.extra.clone(),
            jkt: match &r.cnf {
                Some(c) => checkable(c)?,
                None => None,
            },
        };
        self.inner.cache.put(key, &p, r.exp);
        Ok(p)
    }
}
