//! [`Provider`] and the state its handlers share.

use std::sync::Arc;

use authflow::types::IssuerUrl;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use bytes::Bytes;

use crate::builder::ProviderBuilder;
use crate::dpop::Dpop;
use crate::dynamic_client;
use crate::endpoints::{
    authorize, device_authorization, device_page, discovery, introspect, par, register, resource,
    revoke, token, userinfo,
};
use crate::grant_store::{Backend, SharedProofCache};
use crate::jwt::{IdTokenKey, SigningKey};
use crate::quirks::Quirks;
use crate::registry::{Client, Registry};

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A running provider's configuration: build it with [`Provider::builder`], serve
/// [`Provider::router`]. Cheap to clone.
#[derive(Clone)]
pub struct Provider {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.shared.issuer_str)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A builder with no clients, no users and default lifetimes.
    pub fn builder() -> ProviderBuilder {
        ProviderBuilder::default()
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &IssuerUrl {
        &self.shared.issuer
    }

    /// The access token signing key (e.g. to check tokens in tests).
    pub fn signing_key(&self) -> &SigningKey {
        &self.shared.key
    }

    /// The ID token signing key (RS256).
    pub fn id_token_key(&self) -> &IdTokenKey {
        &self.shared.id_key
    }

    /// The axum router serving every endpoint.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(discovery::oauth_metadata),
            )
            .route(
                "/.well-known/openid-configuration",
                get(discovery::openid_configuration),
            )
            .route(
                "/.well-known/oauth-protected-resource",
                get(discovery::resource_metadata),
            )
            .route("/jwks", get(discovery::jwks))
            .route(
                "/authorize",
                get(authorize::start).post(authorize::start_post),
            )
            .route("/authorize/login", post(authorize::login))
            .route("/authorize/consent", post(authorize::consent))
            .route(
                "/device_authorization",
                post(device_authorization::device_authorization)
                    .fallback(crate::endpoints::method_not_allowed),
            )
            .route("/device", get(device_page::show).post(device_page::submit))
            .route(
                "/token",
                post(token::token).fallback(crate::endpoints::method_not_allowed),
            )
            .route(
                "/par",
                post(par::par).fallback(crate::endpoints::method_not_allowed),
            )
            .route(
                "/revoke",
                post(revoke::revoke).fallback(crate::endpoints::method_not_allowed),
            )
            .route(
                "/introspect",
                post(introspect::introspect).fallback(crate::endpoints::method_not_allowed),
            )
            .route(
                "/userinfo",
                get(userinfo::userinfo).post(userinfo::userinfo),
            )
            .route(
                "/register",
                post(register::register).fallback(crate::endpoints::method_not_allowed),
            )
            .route(
                "/register/{client_id}",
                get(register::read).delete(register::delete),
            )
            .route("/api/me", get(resource::me))
            .route("/api/admin", get(resource::admin))
            .route("/api/data", get(resource::read).post(resource::write))
            .fallback(crate::endpoints::not_found)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.shared.clone())
    }
}

/// Lifetimes (seconds) and switches.
pub(crate) struct Settings {
    pub access_ttl: u64,
    pub refresh_ttl: u64,
    pub code_ttl: u64,
    /// Minimum seconds between polls of one device code.
    pub device_interval: u64,
    /// Lifetime of a device authorization, in seconds.
    pub device_ttl: u64,
    pub auto_approve: Option<String>,
    pub quirks: Quirks,
    /// DPoP proofs must carry a server nonce (RFC 9449 §8).
    pub dpop_nonce: bool,
    /// `/authorize` accepts only pushed requests (RFC 9126 §5), for every client.
    pub require_par: bool,
    /// How long a pushed request waits, in seconds.
    pub par_ttl: u64,
    /// Dynamic client registration (RFC 7591), when offered.
    pub registration: Option<Registration>,
    /// Client ID metadata documents, when accepted.
    pub cimd: Option<crate::cimd::Cimd>,
}

/// How `/register` admits clients.
pub(crate) struct Registration {
    /// Digest of the initial access token a registration must present, if required.
    pub initial_token: Option<crate::hashing::Digest>,
    /// The most registered clients at once.
    pub max_clients: usize,
}

/// Precomputed JSON documents.
pub(crate) struct Documents {
    pub oauth: Bytes,
    pub openid: Bytes,
    pub resource: Bytes,
    pub jwks: Bytes,
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub issuer: IssuerUrl,
    /// The issuer as compared (no trailing slash); also the access tokens' audience.
    pub issuer_str: String,
    pub registry: Registry,
    pub key: SigningKey,
    pub id_key: IdTokenKey,
    /// Codes, grants, refresh tokens, revocations, logins, device authorizations, pushed
    /// requests and `jti`s: in memory, or shared by several instances.
    pub store: Backend,
    /// Validates bearer tokens at the provider's own protected resource (`/api/*`).
    pub resource_server: authflow::resource::ResourceServer,
    /// Every audience this provider's access tokens may carry: the issuer, then the
    /// resources registered for clients.
    pub audiences: Vec<String>,
    pub settings: Settings,
    pub docs: Documents,
    /// DPoP server nonces.
    pub dpop: Dpop,
    /// The token endpoint's URL, a DPoP proof's `htu` there.
    pub token_url: url::Url,
    /// The PAR endpoint's URL.
    pub par_url: url::Url,
}

pub(crate) type State = axum::extract::State<Arc<Shared>>;

impl Shared {
    /// `nonce_secret`: the DPoP nonce secret every instance sharing `store` uses (a
    /// random one when `None`).
    pub(crate) fn new(
        issuer: IssuerUrl,
        registry: Registry,
        (key, id_key): (SigningKey, IdTokenKey),
        settings: Settings,
        (store, nonce_secret): (Backend, Option<&[u8]>),
    ) -> Self {
        let issuer_str = issuer.as_issuer_str().to_owned();
        let docs = discovery::documents(&issuer, &registry, &key, &id_key, &settings);
        let dpop = Dpop::new(settings.dpop_nonce, nonce_secret);
        // A proof used at /api/* of one instance is a replay at every other.
        let proofs = match &store {
            Backend::Shared(shared) => Some(SharedProofCache(shared.clone())),
            Backend::Memory(_) => None,
        };
        // One nonce source for /token, /par and /api/*, so a client's nonce is good at each.
        let resource_server = resource::resource_server(&issuer, &key, dpop.nonces.clone(), proofs);
        let mut audiences = vec![issuer_str.clone()];
        audiences.extend(registry.resources());
        // The issuer is a valid URL, so these are too; joining cannot fail.
        let endpoint = |path| {
            issuer
                .as_url()
                .join(path)
                .unwrap_or_else(|_| issuer.as_url().clone())
        };
        let (token_url, par_url) = (endpoint("/token"), endpoint("/par"));
        Self {
            dpop,
            token_url,
            par_url,
            id_key,
            store,
            resource_server,
            audiences,
            issuer,
            issuer_str,
            registry,
            key,
            settings,
            docs,
        }
    }

    /// The audience of access tokens: this provider's protected resource.
    pub(crate) fn resource(&self) -> &str {
        &self.issuer_str
    }

    /// Verifies an access token this provider issued, for any of its audiences:
    /// signature, `typ`, `iss`, `aud`, and `exp` unless `allow_expired`. Revocation is
    /// not checked here.
    pub(crate) fn verify_own_token(
        &self,
        token: &str,
        allow_expired: bool,
    ) -> Option<crate::jwt::VerifiedClaims> {
        self.key
            .verify_access_token(token, &self.issuer_str, &self.audiences, allow_expired)
    }

    /// The client named `id`: declared, registered (RFC 7591) and still there, or
    /// described by the client ID metadata document at `id`. A document that cannot be
    /// used is an `invalid_client` (or `invalid_request`) error saying why.
    pub(crate) async fn client(
        &self,
        id: &str,
    ) -> Result<Option<Arc<Client>>, authflow::protocol::OAuthError> {
        if let Some(c) = self.registry.clients.get(id) {
            return Ok(Some(c.clone()));
        }
        if let Some(cimd) = &self.settings.cimd
            && (id.starts_with("https://") || id.starts_with("http://"))
        {
            return cimd.client(id).await.map(Some);
        }
        if self.settings.registration.is_none() || !id.starts_with(dynamic_client::ID_PREFIX) {
            return Ok(None);
        }
        let Some(json) = self.store.client(id).await? else {
            return Ok(None);
        };
        let record: dynamic_client::Record = serde_json::from_str(&json)
            .map_err(|_| crate::grant_store::StoreError::Corrupt("registered client"))?;
        Ok(Some(Arc::new(record.client(id)?)))
    }

    /// An endpoint URL under the issuer.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer_str)
    }
}
