//! [`Provider`] and the state its handlers share.

use std::sync::Arc;

use authflow::types::IssuerUrl;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use bytes::Bytes;

use crate::builder::ProviderBuilder;
use crate::endpoints::{authorize, discovery, introspect, resource, revoke, token, userinfo};
use crate::jwt::{IdTokenKey, SigningKey};
use crate::quirks::Quirks;
use crate::registry::Registry;
use crate::store::Store;

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
                "/token",
                post(token::token).fallback(crate::endpoints::method_not_allowed),
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
            .route("/api/me", get(resource::me))
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
    pub auto_approve: Option<String>,
    pub quirks: Quirks,
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
    pub store: Store,
    pub settings: Settings,
    pub docs: Documents,
}

pub(crate) type State = axum::extract::State<Arc<Shared>>;

impl Shared {
    pub(crate) fn new(
        issuer: IssuerUrl,
        registry: Registry,
        key: SigningKey,
        id_key: IdTokenKey,
        settings: Settings,
    ) -> Self {
        let issuer_str = issuer.as_issuer_str().to_owned();
        let docs = discovery::documents(&issuer, &registry, &key, &id_key, &settings);
        Self {
            id_key,
            store: Store::new(settings.access_ttl),
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

    /// An endpoint URL under the issuer.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer_str)
    }
}
