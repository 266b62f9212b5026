//! [`ProviderBuilder`]: declare issuer, clients, users, lifetimes and quirks.

use std::sync::Arc;
use std::time::Duration;

use authflow::types::{AccessToken, IssuerUrl};

use zeroize::Zeroizing;

use crate::grant_store::{Backend, GrantStore, MemoryStore};
use crate::jwt::{IdTokenKey, KeyError, SigningKey};
use crate::provider::{Provider, Shared};
use crate::quirks::Quirks;
use crate::registry::{ClientConfig, RegistrationError, Registry, UserConfig};

/// The longest an authorization code may live (RFC 9700 §4.2.1 / our checklist: ≤ 60 s).
pub const MAX_CODE_TTL: Duration = Duration::from_secs(60);

/// The default minimum time between device-code polls (RFC 8628 §3.2).
pub const DEFAULT_DEVICE_INTERVAL: Duration = Duration::from_secs(5);
/// How long a pushed authorization request's `request_uri` lives by default.
pub const DEFAULT_PAR_TTL: Duration = Duration::from_secs(60);
/// How long a device authorization (device code and user code) lives.
pub const DEVICE_CODE_TTL: Duration = Duration::from_secs(600);

/// Why a provider could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No issuer was given.
    #[error("the provider needs an issuer URL (e.g. http://127.0.0.1:8080)")]
    MissingIssuer,
    /// The issuer has a path; the provider serves from the root of its host.
    #[error("the issuer {0} has a path; use an issuer at the root of its host")]
    IssuerPath(String),
    /// A client or user registration is invalid.
    #[error(transparent)]
    Registration(#[from] RegistrationError),
    /// A lifetime is out of range.
    #[error("{what} must be between 1 s and {max}")]
    Lifetime {
        /// Which lifetime.
        what: &'static str,
        /// The upper bound.
        max: &'static str,
    },
    /// `auto_approve` names a user that does not exist.
    #[error("auto-approve user `{0}` is not a declared user")]
    UnknownAutoApproveUser(String),
    /// The signing key could not be made.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A shared store needs keys every instance shares, and one was not given.
    #[error(
        "with a shared store every instance must sign with the same keys: give the {0} (a key file, or the one kept in the store)"
    )]
    KeyNotShared(&'static str),
}

/// A shared store and the DPoP nonce secret it holds.
type SharedStore = (Arc<dyn GrantStore>, Zeroizing<Vec<u8>>);

/// Builds a [`Provider`]. Start with [`Provider::builder`].
#[derive(Debug)]
#[must_use]
pub struct ProviderBuilder {
    issuer: Option<IssuerUrl>,
    clients: Vec<ClientConfig>,
    users: Vec<UserConfig>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    code_ttl: Duration,
    auto_approve: Option<String>,
    quirks: Quirks,
    key: Option<SigningKey>,
    id_key: Option<IdTokenKey>,
    device_interval: Duration,
    dpop_nonce: bool,
    require_par: bool,
    par_ttl: Duration,
    registration: bool,
    cimd: bool,
    allow_loopback_client_ids: bool,
    registration_token: Option<AccessToken>,
    max_registered_clients: usize,
    #[cfg(feature = "redis")]
    redis: Option<crate::grant_store::RedisGrantStore>,
}

impl Default for ProviderBuilder {
    fn default() -> Self {
        Self {
            issuer: None,
            clients: Vec::new(),
            users: Vec::new(),
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            code_ttl: MAX_CODE_TTL,
            auto_approve: None,
            quirks: Quirks::none(),
            key: None,
            id_key: None,
            device_interval: DEFAULT_DEVICE_INTERVAL,
            dpop_nonce: false,
            require_par: false,
            par_ttl: DEFAULT_PAR_TTL,
            registration: false,
            cimd: false,
            allow_loopback_client_ids: false,
            registration_token: None,
            max_registered_clients: crate::dynamic_client::DEFAULT_MAX_CLIENTS,
            #[cfg(feature = "redis")]
            redis: None,
        }
    }
}

impl ProviderBuilder {
    /// The issuer identifier; endpoints live under it. Required.
    pub fn issuer(mut self, issuer: IssuerUrl) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Registers a client.
    pub fn client(mut self, client: ClientConfig) -> Self {
        self.clients.push(client);
        self
    }

    /// Registers a user.
    pub fn user(mut self, user: UserConfig) -> Self {
        self.users.push(user);
        self
    }

    /// Adds the built-in demo clients and users (see [`crate::demo`]).
    pub fn demo(mut self) -> Self {
        self.clients.extend(crate::demo::clients());
        self.users.extend(crate::demo::users());
        self
    }

    /// Access token lifetime (default 1 h).
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Refresh token lifetime (default 7 days); each rotation starts a new one.
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// Authorization code lifetime (default and maximum 60 s).
    pub fn code_ttl(mut self, ttl: Duration) -> Self {
        self.code_ttl = ttl;
        self
    }

    /// Skip the login and consent pages: `/authorize` approves at once as this user, or
    /// as the known user named by `login_hint`. For tests and demos.
    pub fn auto_approve(mut self, user: Option<String>) -> Self {
        self.auto_approve = user;
        self
    }

    /// Deliberate deviations from the RFCs, for testing clients (default: none).
    pub fn quirks(mut self, quirks: Quirks) -> Self {
        self.quirks = quirks;
        self
    }

    /// The access token signing key (default: a fresh Ed25519 key).
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The ID token signing key (default: a fresh RSA-2048 key, made once per build).
    pub fn id_token_key(mut self, key: IdTokenKey) -> Self {
        self.id_key = Some(key);
        self
    }

    /// The minimum time between polls of one device code (RFC 8628 `interval`), in whole
    /// seconds from 1 s to 60 s (default 5 s). Tests use 1 s.
    pub fn device_interval(mut self, interval: Duration) -> Self {
        self.device_interval = interval;
        self
    }

    /// Require a server nonce in DPoP proofs (RFC 9449 §8; default off). A proof without
    /// a current one gets `400 use_dpop_nonce` with a `DPoP-Nonce` header, and every
    /// token and PAR response carries a fresh nonce.
    pub fn dpop_nonce(mut self, yes: bool) -> Self {
        self.dpop_nonce = yes;
        self
    }

    /// Accept at `/authorize` only requests pushed to `/par` first, for every client
    /// (RFC 9126 §5; default off). [`ClientConfig::require_pushed_authorization_requests`]
    /// does it for one client.
    ///
    /// [`ClientConfig::require_pushed_authorization_requests`]: crate::ClientConfig::require_pushed_authorization_requests
    pub fn require_pushed_authorization_requests(mut self, yes: bool) -> Self {
        self.require_par = yes;
        self
    }

    /// How long a pushed request's `request_uri` may be used (RFC 9126 `expires_in`), from
    /// 1 s to 600 s (default 60 s).
    pub fn par_ttl(mut self, ttl: Duration) -> Self {
        self.par_ttl = ttl;
        self
    }

    /// Offer dynamic client registration at `/register` (RFC 7591) with reading and
    /// deleting at each client's `registration_client_uri` (RFC 7592); default off. Open
    /// to anyone unless [`registration_initial_token`](Self::registration_initial_token)
    /// is set. Registered clients live in the provider's store.
    pub fn dynamic_registration(mut self, yes: bool) -> Self {
        self.registration = yes;
        self
    }

    /// Require this initial access token (`Authorization: Bearer`) at `/register`
    /// (RFC 7591 §3); turns registration on. Only its digest is kept.
    pub fn registration_initial_token(mut self, token: AccessToken) -> Self {
        self.registration = true;
        self.registration_token = Some(token);
        self
    }

    /// Accept client ID metadata documents (default off): a `client_id` that is an
    /// `https` URL is fetched (no redirects, 5 s, 5 KiB, public addresses only), checked
    /// and cached as its `Cache-Control` says (1 min to 1 day).
    pub fn client_id_metadata_documents(mut self, yes: bool) -> Self {
        self.cimd = yes;
        self
    }

    /// Also accept `http` loopback client ID URLs and fetch from loopback addresses (for
    /// tests and local development; never on a shared server). Turns client ID metadata
    /// documents on.
    pub fn allow_loopback_client_ids(mut self, yes: bool) -> Self {
        self.allow_loopback_client_ids = yes;
        self.cimd |= yes;
        self
    }

    /// The most clients registered at once (default 1000); beyond it `/register` refuses.
    pub fn max_registered_clients(mut self, max: usize) -> Self {
        self.max_registered_clients = max;
        self
    }

    /// Keep codes, grants, refresh tokens, revocations, logins, device authorizations,
    /// pushed requests and `jti`s in Redis (default: in this process), shared by every
    /// instance given the same store and kept across restarts. Every instance must then
    /// have the same issuer, clients and keys; [`build`](Self::build) refuses to make up
    /// keys. The DPoP nonce secret comes from the store.
    #[cfg(feature = "redis")]
    pub fn redis_store(mut self, store: crate::grant_store::RedisGrantStore) -> Self {
        self.redis = Some(store);
        self
    }

    /// Checks everything and builds the provider.
    pub fn build(mut self) -> Result<Provider, BuildError> {
        let issuer = self.issuer.take().ok_or(BuildError::MissingIssuer)?;
        if !matches!(issuer.as_url().path(), "" | "/") {
            return Err(BuildError::IssuerPath(issuer.to_string()));
        }
        let secs = |d: Duration, what, max: Duration, max_text| {
            if d.as_secs() == 0 || d > max {
                Err(BuildError::Lifetime {
                    what,
                    max: max_text,
                })
            } else {
                Ok(d.as_secs())
            }
        };
        let year = Duration::from_secs(366 * 24 * 3600);
        let access_ttl = secs(self.access_ttl, "the access token lifetime", year, "1 year")?;
        let shared_store = self.shared_store(access_ttl);
        let refresh_ttl = secs(
            self.refresh_ttl,
            "the refresh token lifetime",
            year,
            "1 year",
        )?;
        let code_ttl = secs(self.code_ttl, "the code lifetime", MAX_CODE_TTL, "60 s")?;
        let par_ttl = secs(
            self.par_ttl,
            "the request_uri lifetime",
            Duration::from_secs(600),
            "600 s",
        )?;
        if self.device_interval.subsec_nanos() != 0 {
            return Err(BuildError::Lifetime {
                what: "the device polling interval (whole seconds)",
                max: "60 s",
            });
        }
        let device_interval = secs(
            self.device_interval,
            "the device polling interval",
            Duration::from_secs(60),
            "60 s",
        )?;
        let mut registry = Registry::default();
        for c in self.clients {
            registry.add_client(c)?;
        }
        for u in self.users {
            registry.add_user(u)?;
        }
        if let Some(user) = self
            .auto_approve
            .as_ref()
            .filter(|u| !registry.users.contains_key(*u))
        {
            return Err(BuildError::UnknownAutoApproveUser(user.clone()));
        }
        if shared_store.is_some() {
            // Per-instance keys would make one instance's tokens invalid at the others.
            if self.key.is_none() {
                return Err(BuildError::KeyNotShared("access token signing key"));
            }
            if self.id_key.is_none() {
                return Err(BuildError::KeyNotShared("ID token key"));
            }
        }
        let key = match self.key {
            Some(k) => k,
            None => SigningKey::generate()?,
        };
        let id_key = match self.id_key {
            Some(k) => k,
            None => IdTokenKey::generate()?,
        };
        let (store, secret) = match shared_store {
            Some((store, secret)) => (Backend::Shared(store), Some(secret)),
            None => (Backend::Memory(MemoryStore::new(access_ttl)), None),
        };
        let shared = Shared::new(
            issuer,
            registry,
            (key, id_key),
            crate::provider::Settings {
                access_ttl,
                refresh_ttl,
                code_ttl,
                device_interval,
                device_ttl: DEVICE_CODE_TTL.as_secs(),
                auto_approve: self.auto_approve,
                quirks: self.quirks,
                dpop_nonce: self.dpop_nonce,
                require_par: self.require_par,
                par_ttl,
                registration: self.registration.then(|| crate::provider::Registration {
                    initial_token: self
                        .registration_token
                        .as_ref()
                        .map(|t| crate::hashing::sha256(t.secret().as_bytes())),
                    max_clients: self.max_registered_clients,
                }),
                cimd: self
                    .cimd
                    .then(|| crate::cimd::Cimd::new(self.allow_loopback_client_ids)),
            },
            (store, secret.as_ref().map(|s| s.as_slice())),
        );
        Ok(Provider {
            shared: Arc::new(shared),
        })
    }

    /// The shared store given, set up for `access_ttl`, with its DPoP nonce secret.
    #[cfg(feature = "redis")]
    fn shared_store(&mut self, access_ttl: u64) -> Option<SharedStore> {
        self.redis.take().map(|r| {
            let r = r.for_provider(access_ttl);
            let secret = Zeroizing::new(r.nonce_secret().to_vec());
            (Arc::new(r) as Arc<dyn GrantStore>, secret)
        })
    }

    #[cfg(not(feature = "redis"))]
    fn shared_store(&mut self, _access_ttl: u64) -> Option<SharedStore> {
        None
    }
}
